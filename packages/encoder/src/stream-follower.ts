/**
 * Which input stream of one kind (video, or audio) the encoder follows. When the encoder upstream
 * of a live TS is reconfigured, its video (or audio) can come back on another PID: FFmpeg's
 * demuxer adds a stream for it, and the old one carries nothing more. The follower moves to
 * another stream of the same kind once that one has given a run of packets spanning `minSeconds`
 * of its own timestamps (and at least `minPackets`), with none from the followed stream between
 * them.
 *
 * A stream beside the followed one (a second programme, a second language) never takes over, not
 * even when the followed one drops out for a while: once its packets have come between the
 * followed stream's `maxInterleave` times it is known to run in parallel, and is passed over (its
 * packets are not held either). A stream that replaces the followed one does not interleave with
 * it, or only for the moment the two overlap.
 */
export interface StreamFollowerOptions {
  /** Packets in the run, at least (default 12). */
  readonly minPackets?: number
  /** Seconds the run's timestamps span, at least (default 1). Its own clock: an upstream restarted at 0 is followed too. */
  readonly minSeconds?: number
  /** Packets held per stream for handing over, at most: the oldest go first (default 500). */
  readonly maxBacklog?: number
  /** Times a stream's packets come between the followed stream's before it counts as parallel (default 10). */
  readonly maxInterleave?: number
}

interface Run<T> {
  backlog: T[]
  earliest: number
  latest: number
}

export class StreamFollower<T = unknown> {
  readonly #o: Required<StreamFollowerOptions>
  #current: number
  /** Each other stream's run since the followed stream's last packet. */
  #runs = new Map<number, Run<T>>()
  /** How often each other stream's packets came between two of the followed stream's. */
  readonly #interleaved = new Map<number, number>()

  constructor(current: number, options: StreamFollowerOptions = {}) {
    this.#o = { minPackets: 12, minSeconds: 1, maxBacklog: 500, maxInterleave: 10, ...options }
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
      if (this.#runs.size > 0) {
        for (const other of this.#runs.keys()) this.#interleaved.set(other, (this.#interleaved.get(other) ?? 0) + 1)
        this.#runs = new Map()
      }
      return { follow: true }
    }
    if ((this.#interleaved.get(index) ?? 0) >= this.#o.maxInterleave) {
      // Parallel: noted as having come between (so the count stays up), nothing held.
      if (!this.#runs.has(index)) this.#runs.set(index, { backlog: [], earliest: Infinity, latest: -Infinity })
      return { follow: false }
    }
    let run = this.#runs.get(index)
    if (!run) {
      run = { backlog: [], earliest: Infinity, latest: -Infinity }
      this.#runs.set(index, run)
    }
    run.backlog.push(packet)
    if (run.backlog.length > this.#o.maxBacklog) run.backlog.shift()
    if (seconds !== undefined && Number.isFinite(seconds)) {
      run.earliest = Math.min(run.earliest, seconds)
      run.latest = Math.max(run.latest, seconds)
    }
    if (run.backlog.length < this.#o.minPackets || !(run.latest - run.earliest >= this.#o.minSeconds)) return { follow: false }
    const movedFrom = this.#current
    this.#current = index
    this.#runs = new Map()
    return { follow: true, movedFrom, backlog: run.backlog.slice(0, -1) }
  }

  /** Follow `index` again (a move the caller could not make: a stream it cannot decode or copy). */
  stay(index: number): void {
    this.#current = index
    this.#runs = new Map()
  }
}
