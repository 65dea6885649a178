/**
 * Encoded packets wait here, in decode order, until the scores of the frame they carry are known
 * (the recon decoder and the metrics pool run behind the encoder). The head leaves when its
 * scores arrive, when it has waited `maxWaitMs`, or when the queue is full: then it leaves
 * unmeasured, never with a made-up value. Bounded by `capacity`.
 */
export interface Released<P, S> {
  readonly packet: P
  readonly key: number
  /** The scores, or undefined when the packet left without them. */
  readonly scores: S | undefined
  readonly reason: 'scored' | 'timeout' | 'overflow' | 'flush'
}

export class ReleaseQueue<P, S> {
  readonly #capacity: number
  readonly #maxWaitMs: number
  readonly #items: { key: number; packet: P; enqueuedMs: number }[] = []
  readonly #scores = new Map<number, S>()

  constructor(options: { capacity: number; maxWaitMs: number }) {
    this.#capacity = options.capacity
    this.#maxWaitMs = options.maxWaitMs
  }

  get length(): number {
    return this.#items.length
  }

  /** Queue a packet whose frame is `key`; returns what had to leave early to make room. */
  push(key: number, packet: P, nowMs: number): Released<P, S>[] {
    const out: Released<P, S>[] = []
    while (this.#items.length >= this.#capacity) out.push(this.#shift('overflow'))
    this.#items.push({ key, packet, enqueuedMs: nowMs })
    return out
  }

  /** The scores of frame `key` are known. Scores for a frame with no packet (yet) are kept. */
  resolve(key: number, scores: S): void {
    this.#scores.set(key, scores)
    // Bound the map: scores that can no longer match a queued packet are dropped.
    if (this.#scores.size > 4 * this.#capacity) {
      const keep = new Set(this.#items.map((i) => i.key))
      for (const k of this.#scores.keys()) if (!keep.has(k)) this.#scores.delete(k)
    }
  }

  /** Whether a packet for `key` is waiting. */
  has(key: number): boolean {
    return this.#items.some((i) => i.key === key)
  }

  /** Everything that may leave now, in order. `flush` empties the queue. */
  take(nowMs: number, flush = false): Released<P, S>[] {
    const out: Released<P, S>[] = []
    while (this.#items.length > 0) {
      const head = this.#items[0]!
      if (this.#scores.has(head.key)) out.push(this.#shift('scored'))
      else if (nowMs - head.enqueuedMs >= this.#maxWaitMs) out.push(this.#shift('timeout'))
      else if (flush) out.push(this.#shift('flush'))
      else break
    }
    return out
  }

  #shift(reason: Released<P, S>['reason']): Released<P, S> {
    const item = this.#items.shift()!
    const scores = this.#scores.get(item.key)
    this.#scores.delete(item.key)
    return { packet: item.packet, key: item.key, scores, reason: scores === undefined ? reason : 'scored' }
  }
}
