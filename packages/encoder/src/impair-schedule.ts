/**
 * When the impairment relay drops a datagram: with probability `loss` while the schedule is
 * active, from `afterMs` for `forMs` (forever when absent). A schedule with `loss` 0 is never
 * active: it drops nothing, so the relay says no "impairment on". A seeded generator makes a run
 * repeatable. Pure.
 */
export interface ImpairSchedule {
  readonly loss: number
  readonly afterMs?: number | undefined
  readonly forMs?: number | undefined
}

export function isImpairActive(s: ImpairSchedule, elapsedMs: number): boolean {
  if (s.loss === 0) return false
  const after = s.afterMs ?? 0
  if (elapsedMs < after) return false
  return s.forMs === undefined || elapsedMs < after + s.forMs
}

/** mulberry32: small, fast, good enough to decide packet drops repeatably. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export class Impairer {
  readonly #schedule: ImpairSchedule
  readonly #random: () => number
  passed = 0
  dropped = 0

  constructor(schedule: ImpairSchedule, seed = 1) {
    if (!(schedule.loss >= 0 && schedule.loss <= 1)) throw new RangeError(`loss must be from 0 to 1, got ${schedule.loss}`)
    this.#schedule = schedule
    this.#random = seededRandom(seed)
  }

  /** Whether to drop the datagram arriving `elapsedMs` after the relay started. */
  drop(elapsedMs: number): boolean {
    const d = isImpairActive(this.#schedule, elapsedMs) && this.#random() < this.#schedule.loss
    if (d) this.dropped++
    else this.passed++
    return d
  }

  active(elapsedMs: number): boolean {
    return isImpairActive(this.#schedule, elapsedMs)
  }
}
