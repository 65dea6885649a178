/**
 * The A/B decision, per segment number (pure): serve the preferred chain; switch to the other when
 * its MQA-VIDEO is better by at least `margin` for `confirm` segments in a row, or at once when the
 * served chain fails; go back to the preferred chain only after it has been good (known, and not
 * worse than the served chain by the margin) for `switchBackAfter` segments in a row: the segment
 * after those is the first served from it again. A missing score is unknown, never zero: it neither triggers
 * a switch nor counts as good.
 */
export const Chain = { A: 'a', B: 'b' } as const
export type Chain = (typeof Chain)[keyof typeof Chain]

export const other = (c: Chain): Chain => (c === Chain.A ? Chain.B : Chain.A)

export interface SelectorOptions {
  readonly preferred: Chain
  /** MQA-VIDEO points the other chain must be better by. */
  readonly margin: number
  /** Segments in a row the other chain must be better for. */
  readonly confirm: number
  /** Segments in a row the preferred chain must be good for before switching back. */
  readonly switchBackAfter: number
}

export const DEFAULT_SELECTOR_OPTIONS: SelectorOptions = Object.freeze({ preferred: Chain.A, margin: 5, confirm: 1, switchBackAfter: 5 })

/** What is known of one chain for one segment number. */
export interface ChainView {
  /** The segment is there (answered 200 in time). */
  readonly available: boolean
  /** Its CMSD `org.svta.mqa-video` for this segment number (matched by `sn`), when known. */
  readonly score?: number | undefined
  /** Frames the score covers (`nf`). */
  readonly frames?: number | undefined
}

export const DecisionReason = {
  START: 'start',
  STAY: 'stay',
  BETTER: 'better',
  FAILOVER: 'failover',
  SWITCH_BACK: 'switch-back',
  BOTH_DOWN: 'both-down',
} as const
export type DecisionReason = (typeof DecisionReason)[keyof typeof DecisionReason]

export interface Decision {
  readonly segment: number
  readonly chain: Chain
  readonly reason: DecisionReason
  readonly scores: Readonly<Record<Chain, number | undefined>>
  readonly available: Readonly<Record<Chain, boolean>>
}

export class Selector {
  readonly #o: SelectorOptions
  #serving: Chain
  #betterRun = 0
  #goodRun = 0
  readonly #decided = new Map<number, Decision>()
  readonly #maxRemembered: number

  constructor(options: Partial<SelectorOptions> = {}, maxRemembered = 1000) {
    this.#o = { ...DEFAULT_SELECTOR_OPTIONS, ...options }
    for (const [k, v] of Object.entries({ margin: this.#o.margin, confirm: this.#o.confirm, switchBackAfter: this.#o.switchBackAfter })) {
      if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`${k} must be a non-negative number, got ${v}`)
    }
    this.#serving = this.#o.preferred
    this.#maxRemembered = maxRemembered
  }

  get serving(): Chain {
    return this.#serving
  }

  /** The decision already taken for a segment number, if any: a number is decided once. */
  decided(segment: number): Decision | undefined {
    return this.#decided.get(segment)
  }

  /**
   * Decide which chain serves `segment`. Decisions are taken once per number and in increasing
   * order; asking again returns the same one (so a player's retry sees the same bytes).
   */
  decide(segment: number, views: Readonly<Record<Chain, ChainView>>): Decision {
    const known = this.#decided.get(segment)
    if (known) return known
    const o = this.#o
    const cur = this.#serving
    const alt = other(cur)
    const score = (c: Chain) => (views[c].available ? views[c].score : undefined)
    const first = this.#decided.size === 0
    let reason: DecisionReason = this.#decided.size === 0 ? DecisionReason.START : DecisionReason.STAY

    if (!views[cur].available && views[alt].available) {
      this.#switch(alt)
      reason = DecisionReason.FAILOVER
    } else if (!views[cur].available && !views[alt].available) {
      reason = DecisionReason.BOTH_DOWN
    } else if (first) {
      // The first segment seen is usually a partial one (the chains joined mid-segment at different
      // frames): its means are over different frames, so it starts on the preferred chain.
    } else if (cur === o.preferred) {
      const s = score(cur)
      const t = score(alt)
      this.#betterRun = s !== undefined && t !== undefined && t >= s + o.margin ? this.#betterRun + 1 : 0
      if (this.#betterRun >= Math.max(1, o.confirm)) {
        this.#switch(alt)
        reason = DecisionReason.BETTER
      }
    } else {
      // On the other chain: count the preferred chain's good segments in a row.
      const p = score(o.preferred)
      const s = score(cur)
      const good = p !== undefined && (s === undefined || p >= s - o.margin)
      this.#goodRun = good ? this.#goodRun + 1 : 0
      // Good for N segments in a row (served from the other chain): the next one comes from it.
      if (this.#goodRun > o.switchBackAfter) {
        this.#switch(o.preferred)
        reason = DecisionReason.SWITCH_BACK
      }
    }
    const decision: Decision = {
      segment,
      chain: this.#serving,
      reason,
      scores: { a: score(Chain.A), b: score(Chain.B) },
      available: { a: views.a.available, b: views.b.available },
    }
    this.#decided.set(segment, decision)
    if (this.#decided.size > this.#maxRemembered) this.#decided.delete(this.#decided.keys().next().value as number)
    return decision
  }

  #switch(to: Chain): void {
    this.#serving = to
    this.#betterRun = 0
    this.#goodRun = 0
  }
}
