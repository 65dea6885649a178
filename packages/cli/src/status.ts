import { type MqaRecordInput } from '@mqa/common'

export interface Progress {
  readonly frames: number
  readonly fps: number
  readonly speed: number
  readonly last?: MqaRecordInput | undefined
}

/** The live status line on a terminal (stderr); silent when stderr is not a TTY. */
export function statusLine(stream: NodeJS.WriteStream = process.stderr): { update(p: Progress): void; done(): void } {
  let shown = false
  return {
    update(p) {
      if (!stream.isTTY) return
      const l = p.last
      const scores = l?.unmeasured ? 'unmeasured' : `PSNR ${l?.psnrDb?.toFixed(2) ?? '-'} dB  SSIM ${l?.ssim?.toFixed(4) ?? '-'}  MQA-VIDEO ${l?.mqa ?? '-'}`
      stream.write(`\rframe ${String(p.frames).padStart(6)}  fps ${p.fps.toFixed(1).padStart(6)}  speed ${p.speed.toFixed(2)}x  ${scores}\x1b[K`)
      shown = true
    },
    done() {
      if (shown) stream.write('\n')
      shown = false
    },
  }
}
