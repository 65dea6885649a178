/**
 * Which input stream of one kind (video, or audio) the encoder follows. When the encoder upstream
 * of a live TS is reconfigured, its video (or audio) can come back on another PID: FFmpeg's
 * demuxer adds a stream for it, and the old one carries nothing more. The follower moves to
 * another stream of the same kind once that one has given a run of packets spanning `minSeconds`
 * of its own timestamps (and at least `minPackets`), with none from the followed stream between
 * them. A stream beside the followed one (a second programme, a second language) never takes
 * over while the followed one goes on: its runs last one PES, a fraction of a second.
 */
export interface StreamFollowerOptions {
  /** Packets in the run, at least (default 12). */
  readonly minPackets?: number
  /** Seconds the run's timestamps span, at least (default 1). Its own clock: an upstream restarted at 0 is followed too. */
  readonly minSeconds?: number
  /** Packets held for handing over, at most: the oldest go first (default 500). */
  readonly maxBacklog?: number
}

export class StreamFollower<T = unknown> {
  readonly #o: Required<StreamFollowerOptions>
  #current: number
  #candidate: number | undefined
  /** The candidate's run of packets, handed over on a move so its first picture (an IDR) is not lost. */
  #backlog: T[] = []
  #earliest = Infinity
  #latest = -Infinity

  constructor(current: number, options: StreamFollowerOptions = {}) {
    this.#o = { minPackets: 12, minSeconds: 1, maxBacklog: 500, ...options }
    this.#current = current
  }

  /** The stream followed now. */
  get current(): number {
    return this.#current
  }

  /**
   * A packet of a stream of this kind, at `seconds` on its stream's clock (its DTS, else PTS, if it
   * has one). `follow`: it is the followed stream's, and is to be used; on a move, `movedFrom` is
   * the stream it took over from and `backlog` the new stream's packets before this one (the run
   * that made it take over), to be used first, in order.
   */
  observe(index: number, packet: T, seconds: number | undefined): { follow: boolean; movedFrom?: number; backlog?: T[] } {
    if (index === this.#current) {
      if (this.#candidate !== undefined) this.#forget()
      return { follow: true }
    }
    if (index !== this.#candidate) {
      this.#forget()
      this.#candidate = index
    }
    this.#backlog.push(packet)
    if (this.#backlog.length > this.#o.maxBacklog) this.#backlog.shift()
    if (seconds !== undefined && Number.isFinite(seconds)) {
      this.#earliest = Math.min(this.#earliest, seconds)
      this.#latest = Math.max(this.#latest, seconds)
    }
    if (this.#backlog.length < this.#o.minPackets || !(this.#latest - this.#earliest >= this.#o.minSeconds)) return { follow: false }
    const movedFrom = this.#current
    const backlog = this.#backlog.slice(0, -1)
    this.#current = index
    this.#forget()
    return { follow: true, movedFrom, backlog }
  }

  /** Follow `index` again (a move the caller could not make: a stream it cannot decode or copy). */
  stay(index: number): void {
    this.#current = index
    this.#forget()
  }

  #forget(): void {
    this.#candidate = undefined
    this.#backlog = []
    this.#earliest = Infinity
    this.#latest = -Infinity
  }
}
