import { describe, expect, it } from 'vitest'
import { InputAnalyzer, lumaSampleStep, sampleLuma } from '../src/input-analysis.js'

const tick = 3600
const flat = (level: number, n = 100) => new Uint8Array(n).fill(level)
const noisy = (seed: number, n = 100) => Uint8Array.from({ length: n }, (_, i) => 60 + ((i * 37 + seed * 101) % 150))

describe('input analysis', () => {
  it('samples luma by linesize, skipping the pool padding', () => {
    // 6x2 picture, linesize 8: the two padding bytes per row (99) must never be read.
    const data = Uint8Array.from([1, 2, 3, 4, 5, 6, 99, 99, 7, 8, 9, 10, 11, 12, 99, 99])
    expect([...sampleLuma({ data, linesize: 8, width: 6, height: 2 }, 2)]).toEqual([1, 3, 5])
    expect([...sampleLuma({ data, linesize: 8, width: 6, height: 2 }, 1)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
  })

  it('samples about the same number of luma samples at every size from SD up, every 4th below', () => {
    expect([[320, 180], [720, 576], [1280, 720], [1920, 1080], [3840, 2160]].map(([w, h]) => lumaSampleStep(w!, h!))).toEqual([4, 5, 8, 11, 23])
    for (const [w, h] of [[1280, 720], [1920, 1080], [3840, 2160]]) {
      const step = lumaSampleStep(w!, h!)
      expect(Math.ceil(w! / step) * Math.ceil(h! / step)).toBeGreaterThan(12_000)
      expect(Math.ceil(w! / step) * Math.ceil(h! / step)).toBeLessThan(20_000)
    }
  })

  it('finds black and frozen frames', () => {
    const a = new InputAnalyzer({ frameDurationTicks: tick })
    const clean = { transportErrors: 0, decodeErrors: 0, keyFrame: false }
    expect(a.analyze({ ...clean, ptsTicks: 0, luma: noisy(1) })).toEqual({ errors: 0, dropped: 0, frozen: false, black: false, concealed: false })
    expect(a.analyze({ ...clean, ptsTicks: tick, luma: noisy(1) })).toMatchObject({ frozen: true })
    expect(a.analyze({ ...clean, ptsTicks: 2 * tick, luma: noisy(2) })).toMatchObject({ frozen: false })
    expect(a.analyze({ ...clean, ptsTicks: 3 * tick, luma: flat(16) })).toMatchObject({ black: true, frozen: false })
    expect(a.analyze({ ...clean, ptsTicks: 4 * tick, luma: flat(16) })).toMatchObject({ black: true, frozen: true })
  })

  it('counts frames missing from PTS gaps, but not restarts', () => {
    const a = new InputAnalyzer({ frameDurationTicks: tick, maxDropFrames: 100 })
    const f = (pts: number, seed: number) => a.analyze({ ptsTicks: pts, luma: noisy(seed), keyFrame: false, transportErrors: 0, decodeErrors: 0 })
    f(0, 1)
    expect(f(4 * tick, 2).dropped).toBe(3)
    expect(f(5 * tick, 3).dropped).toBe(0)
    expect(f(5000 * tick, 4).dropped).toBe(0) // a jump of minutes is a restart
    expect(f(10 * tick, 5).dropped).toBe(0) // backwards: a restart
  })

  it('charges errors and keeps charging concealed frames until a clean keyframe', () => {
    const a = new InputAnalyzer({ frameDurationTicks: tick })
    const f = (i: number, t: number, key = false, d = 0) => a.analyze({ ptsTicks: i * tick, luma: noisy(i), keyFrame: key, transportErrors: t, decodeErrors: d })
    expect(f(0, 0, true)).toMatchObject({ errors: 0, concealed: false })
    expect(f(1, 3)).toMatchObject({ errors: 3, concealed: true })
    expect(f(2, 0)).toMatchObject({ errors: 1, concealed: true })
    expect(f(3, 0, false, 2)).toMatchObject({ errors: 2, concealed: true })
    expect(f(4, 1, true)).toMatchObject({ errors: 1, concealed: true }) // a damaged keyframe heals nothing
    expect(f(5, 0, true)).toMatchObject({ errors: 0, concealed: false })
    expect(f(6, 0)).toMatchObject({ errors: 0, concealed: false })
  })
})
