import { ErrorCode, TsDemuxer } from '@mqa/common'

/**
 * Watches the MPEG-TS bytes on their way into FFmpeg's demuxer and counts what FFmpeg would hide:
 * packets lost at continuity-counter gaps, sync losses, transport_error_indicator, damaged PES.
 * Errors are charged by stream position, not by time: each one goes to the next video access unit
 * (by PTS) that the stream carries after it, which is the one it damaged (a gap inside a PES is
 * found before that PES is complete) or the first picture after it. Charging "the next frame the
 * decoder returns" instead would put them seconds early: the demuxer and its buffers hold that
 * much stream between this monitor and the decoder.
 */
export class TransportMonitor {
  readonly #demuxer = new TsDemuxer()
  /** Errors charged to video access units by PTS (90 kHz ticks), bounded. */
  readonly #charged = new Map<number, number>()
  /** Errors seen since the last video PES, for the next one. */
  #pending = 0
  /** Errors that no video access unit could take (the PTS was unknown), for the next frame. */
  #unattributed = 0
  overflowBytes = 0
  overflowDatagrams = 0

  push(chunk: Uint8Array): void {
    let lost = this.#demuxer.stats.lostPackets
    for (const ev of this.#demuxer.push(chunk)) {
      // A continuity gap counts as many errors as packets it lost: one dropped datagram is seven
      // packets of picture gone, and the composite should see that, not one event.
      if (ev.kind === 'error') {
        const now = this.#demuxer.stats.lostPackets
        this.#pending += ev.error.code === ErrorCode.TS_CONTINUITY ? Math.max(1, now - lost) : 1
        lost = now
      } else if (ev.kind === 'pes' && isVideo(ev.codec)) {
        const errors = this.#pending + (ev.damaged && this.#pending === 0 ? 1 : 0)
        this.#pending = 0
        if (errors === 0) continue
        if (ev.ptsTicks === undefined) {
          this.#unattributed += errors
          continue
        }
        this.#charged.set(ev.ptsTicks, (this.#charged.get(ev.ptsTicks) ?? 0) + errors)
        if (this.#charged.size > 10_000) this.#charged.delete(this.#charged.keys().next().value as number)
      }
    }
  }

  countOverflow(bytes: number): void {
    this.overflowBytes += bytes
    this.overflowDatagrams++
    this.#pending++
  }

  /**
   * Transport errors charged to the video access unit with this PTS (and forgets them), plus any
   * that no access unit could take. The caller passes each decoded frame's PTS.
   */
  takeErrors(ptsTicks: number | undefined): number {
    let n = this.#unattributed
    this.#unattributed = 0
    if (ptsTicks !== undefined) {
      n += this.#charged.get(ptsTicks) ?? 0
      this.#charged.delete(ptsTicks)
    }
    return n
  }

  get stats(): Record<string, number> {
    return { ...this.#demuxer.stats, overflowDatagrams: this.overflowDatagrams }
  }
}

function isVideo(codec: string | undefined): boolean {
  return codec === 'h264' || codec === 'h265'
}
