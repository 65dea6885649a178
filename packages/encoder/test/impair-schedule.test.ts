import { describe, expect, it } from 'vitest'
import { Impairer, isImpairActive } from '../src/impair-schedule.js'

describe('impairment schedule', () => {
  it('is active from afterMs for forMs, or for ever without forMs', () => {
    const s = { loss: 0.5, afterMs: 1000, forMs: 2000 }
    expect([0, 999, 1000, 2999, 3000].map((t) => isImpairActive(s, t))).toEqual([false, false, true, true, false])
    expect(isImpairActive({ loss: 0.5, afterMs: 1000 }, 1e9)).toBe(true)
    expect(isImpairActive({ loss: 0.5 }, 0)).toBe(true)
  })

  it('with loss 0 is never active and drops nothing', () => {
    const imp = new Impairer({ loss: 0, afterMs: 0, forMs: 5000 })
    expect(imp.active(100)).toBe(false)
    for (let t = 0; t < 1000; t++) expect(imp.drop(t)).toBe(false)
    expect({ passed: imp.passed, dropped: imp.dropped }).toEqual({ passed: 1000, dropped: 0 })
  })

  it('drops about `loss` of the datagrams inside the window only, the same ones for the same seed', () => {
    const run = (seed: number) => {
      const imp = new Impairer({ loss: 0.1, afterMs: 10_000, forMs: 10_000 }, seed)
      const drops: number[] = []
      for (let i = 0; i < 30_000; i++) if (imp.drop(i)) drops.push(i)
      return { drops, imp }
    }
    const a = run(7)
    expect(a.drops.every((t) => t >= 10_000 && t < 20_000)).toBe(true)
    expect(a.imp.dropped / 10_000).toBeGreaterThan(0.09)
    expect(a.imp.dropped / 10_000).toBeLessThan(0.11)
    expect(a.imp.passed + a.imp.dropped).toBe(30_000)
    expect(run(7).drops).toEqual(a.drops)
    expect(run(8).drops).not.toEqual(a.drops)
  })

  it('refuses a loss outside 0..1', () => {
    expect(() => new Impairer({ loss: 1.5 })).toThrow(/loss must be from 0 to 1, got 1.5/)
    expect(() => new Impairer({ loss: Number.NaN })).toThrow(RangeError)
  })
})
