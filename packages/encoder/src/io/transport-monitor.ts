import { ErrorCode, TsDemuxer } from '@mqa/common'

/**
 * Watches the MPEG-TS bytes on their way into FFmpeg's demuxer and counts what FFmpeg would hide:
 * packets lost at continuity-counter gaps, sync losses, transport_error_indicator, and which video
 * access units (by PTS) were damaged. The encoder charges these to the frames they hit.
 */
export class TransportMonitor {
  readonly #demuxer = new TsDemuxer()
  /** Damaged video PES by PTS (90 kHz ticks), bounded. */
  readonly #damaged = new Map<number, number>()
  #errorsSeen = 0
  #errorsTaken = 0
  overflowBytes = 0
  overflowDatagrams = 0

  push(chunk: Uint8Array): void {
    const lostBefore = this.#demuxer.stats.lostPackets
    for (const ev of this.#demuxer.push(chunk)) {
      // A continuity gap counts as many errors as packets it lost (below): one dropped datagram is
      // seven packets of picture gone, and the composite should see that, not one event.
      if (ev.kind === 'error') this.#errorsSeen += ev.error.code === ErrorCode.TS_CONTINUITY ? 0 : 1
      else if (ev.kind === 'pes' && ev.damaged && ev.ptsTicks !== undefined && ev.streamType !== undefined && isVideo(ev.codec)) {
        this.#damaged.set(ev.ptsTicks, (this.#damaged.get(ev.ptsTicks) ?? 0) + 1)
        if (this.#damaged.size > 10_000) this.#damaged.delete(this.#damaged.keys().next().value as number)
      }
    }
    this.#errorsSeen += this.#demuxer.stats.lostPackets - lostBefore
  }

  countOverflow(bytes: number): void {
    this.overflowBytes += bytes
    this.overflowDatagrams++
    this.#errorsSeen++
  }

  /** Transport errors seen since the last call (charged to the next frame). */
  takeErrors(): number {
    const n = this.#errorsSeen - this.#errorsTaken
    this.#errorsTaken = this.#errorsSeen
    return n
  }

  /** Whether the video access unit with this PTS was damaged in transport (and forget it). */
  takeDamaged(ptsTicks: number): boolean {
    const hit = this.#damaged.has(ptsTicks)
    this.#damaged.delete(ptsTicks)
    return hit
  }

  get stats(): Record<string, number> {
    return { ...this.#demuxer.stats, overflowDatagrams: this.overflowDatagrams }
  }
}

function isVideo(codec: string | undefined): boolean {
  return codec === 'h264' || codec === 'h265'
}
