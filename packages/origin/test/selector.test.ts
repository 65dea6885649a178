import { describe, expect, it } from 'vitest'
import { Chain, Selector, type ChainView } from '../src/index.js'

const up = (score?: number): ChainView => ({ available: true, score })
const down: ChainView = { available: false }

/** Feed a run of (a, b) views from segment `from`, return the chains served. */
function run(s: Selector, from: number, views: [ChainView, ChainView][]): string {
  return views.map(([a, b], i) => s.decide(from + i, { a, b }).chain).join('')
}

describe('A/B selector', () => {
  it('serves the preferred chain while both are alike', () => {
    const s = new Selector()
    expect(run(s, 100, [[up(90), up(91)], [up(90), up(94)], [up(88), up(92)]])).toBe('aaa')
    expect(s.decided(100)!.reason).toBe('start')
  })

  it('switches when the other chain is better by the margin, and back only after five good segments', () => {
    const s = new Selector({ margin: 5, confirm: 1, switchBackAfter: 5 })
    const loss: [ChainView, ChainView][] = [[up(60), up(90)], [up(55), up(90)], [up(62), up(91)]]
    const after: [ChainView, ChainView][] = Array.from({ length: 6 }, () => [up(90), up(90)] as [ChainView, ChainView])
    expect(run(s, 0, [[up(90), up(90)], ...loss, ...after])).toBe('a' + 'bbb' + 'bbbbb' + 'a')
    expect(s.decided(1)!.reason).toBe('better')
    expect(s.decided(9)!.reason).toBe('switch-back')
  })

  it('needs `confirm` segments in a row before switching on quality', () => {
    const s = new Selector({ confirm: 2 })
    expect(run(s, 0, [[up(90), up(90)], [up(60), up(90)], [up(90), up(90)], [up(60), up(90)], [up(60), up(90)]])).toBe('aaaab')
  })

  it('fails over at once when the served chain fails, and the good-run restarts on a bad segment', () => {
    const s = new Selector({ switchBackAfter: 3 })
    expect(run(s, 0, [[down, up(90)], [up(90), up(90)], [up(90), up(90)], [up(70), up(90)], [up(90), up(90)], [up(90), up(90)], [up(90), up(90)], [up(90), up(90)]])).toBe('bbbbbbba')
    expect(s.decided(0)!.reason).toBe('failover')
    expect(s.decided(7)!.reason).toBe('switch-back')
  })

  it('treats a missing score as unknown, not zero', () => {
    const s = new Selector()
    expect(run(s, 0, [[up(90), up(90)], [up(undefined), up(90)], [up(undefined), up(90)]])).toBe('aaa')
    s.decide(3, { a: down, b: up(90) })
    // On B, an unknown score for A is not "good".
    expect(run(s, 4, Array.from({ length: 6 }, () => [up(undefined), up(90)] as [ChainView, ChainView]))).toBe('bbbbbb')
  })

  it('starts on the preferred chain whatever the first (usually partial) segment scores', () => {
    const s = new Selector()
    expect(s.decide(0, { a: up(60), b: up(95) }).chain).toBe('a')
    expect(s.decide(1, { a: up(60), b: up(95) }).chain).toBe('b')
  })

  it('decides each segment number once', () => {
    const s = new Selector()
    const first = s.decide(7, { a: up(90), b: up(90) })
    expect(s.decide(7, { a: down, b: up(99) })).toBe(first)
    expect(first.chain).toBe(Chain.A)
  })

  it('stays put when both chains are down', () => {
    const s = new Selector({ preferred: Chain.B })
    expect(s.decide(0, { a: down, b: down })).toMatchObject({ chain: 'b', reason: 'both-down' })
  })
})
