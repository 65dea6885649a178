import { type PublishedSegment } from './packager.js'

/**
 * The live window: the last `window` published segments, by number. A segment is never changed
 * or dropped while it is in the window; memory is bounded by the window. Pure (disk persistence
 * is the caller's, through `onEvict`/`load`).
 */
export class SegmentStore {
  readonly #window: number
  readonly #segments = new Map<number, PublishedSegment>()
  #order: number[] = []
  /** Segments refused because their number did not come after the latest (numbers only increase). */
  refused = 0

  constructor(window: number) {
    if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be a positive integer, got ${window}`)
    this.#window = window
  }

  get window(): number {
    return this.#window
  }

  /**
   * Add a segment; returns the segments that left the window. A number already published is kept
   * as it was, and a number not after the latest is refused (counted): HLS needs media sequence
   * numbers that never go back (the segmenter's epochs make sure they do not).
   */
  add(segment: PublishedSegment): PublishedSegment[] {
    const latest = this.#order.at(-1)
    if (this.#segments.has(segment.number) || (latest !== undefined && segment.number <= latest)) {
      this.refused++
      return []
    }
    this.#segments.set(segment.number, segment)
    this.#order.push(segment.number)
    const evicted: PublishedSegment[] = []
    while (this.#order.length > this.#window) {
      const n = this.#order.shift()!
      const s = this.#segments.get(n)
      this.#segments.delete(n)
      if (s) evicted.push(s)
    }
    return evicted
  }

  get(number: number): PublishedSegment | undefined {
    return this.#segments.get(number)
  }

  /** The window in publication order. */
  list(): PublishedSegment[] {
    return this.#order.map((n) => this.#segments.get(n)!)
  }

  latest(): PublishedSegment | undefined {
    const n = this.#order.at(-1)
    return n === undefined ? undefined : this.#segments.get(n)
  }

  /** The segment published just before `number` (for low-latency CMSD of an open segment). */
  before(number: number): PublishedSegment | undefined {
    let best: PublishedSegment | undefined
    for (const s of this.#segments.values()) if (s.number < number && (!best || s.number > best.number)) best = s
    return best
  }
}
