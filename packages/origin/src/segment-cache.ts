/**
 * The origin's segments in memory, bounded by bytes, oldest out first (pure).
 *
 * Segments are immutable, and a segment number is decided once: the bytes the origin served for
 * n are the bytes it serves for n again (a retry, a second player, the CDN's next miss), without
 * asking the chain again. The poller fills it ahead of the players with the decided chain's
 * segment, so a player's request is answered from memory.
 */
export interface CachedSegment {
  readonly body: Uint8Array
  /** Content-Type, Cache-Control and the upstream's CMSD headers, as the upstream sent them. */
  readonly headers: Readonly<Record<string, string>>
  /** The chain the bytes came from. */
  readonly chain: string
}

export class SegmentCache {
  readonly #entries = new Map<string, CachedSegment>()
  readonly #maxBytes: number
  #bytes = 0

  constructor(maxBytes: number) {
    if (!(Number.isFinite(maxBytes) && maxBytes >= 0)) throw new RangeError(`cache size must be a non-negative number of bytes, got ${maxBytes}`)
    this.#maxBytes = maxBytes
  }

  get bytes(): number {
    return this.#bytes
  }

  get size(): number {
    return this.#entries.size
  }

  get(key: string): CachedSegment | undefined {
    return this.#entries.get(key)
  }

  /** Keep `value` under `key` (replacing what was there); the oldest go while over the bound. */
  set(key: string, value: CachedSegment): void {
    this.delete(key)
    if (value.body.length > this.#maxBytes) return
    this.#entries.set(key, value)
    this.#bytes += value.body.length
    for (const [k, v] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break
      this.#entries.delete(k)
      this.#bytes -= v.body.length
    }
  }

  delete(key: string): void {
    const old = this.#entries.get(key)
    if (!old) return
    this.#entries.delete(key)
    this.#bytes -= old.body.length
  }
}
