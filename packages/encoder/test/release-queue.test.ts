import { describe, expect, it } from 'vitest'
import { ReleaseQueue } from '../src/release-queue.js'

describe('release queue', () => {
  it('releases in decode order as scores arrive out of order', () => {
    const q = new ReleaseQueue<string, number>({ capacity: 10, maxWaitMs: 1000 })
    // decode order I P B B: keys are presentation times 0 3 1 2
    for (const [k, p] of [[0, 'I'], [3, 'P'], [1, 'B1'], [2, 'B2']] as const) q.push(k, p, 0)
    q.resolve(1, 71)
    expect(q.take(10)).toEqual([])
    q.resolve(0, 70)
    expect(q.take(10).map((r) => [r.packet, r.scores])).toEqual([['I', 70]])
    q.resolve(2, 72)
    q.resolve(3, 73)
    expect(q.take(10).map((r) => [r.packet, r.scores, r.reason])).toEqual([
      ['P', 73, 'scored'],
      ['B1', 71, 'scored'],
      ['B2', 72, 'scored'],
    ])
    expect(q.length).toBe(0)
  })

  it('lets a packet go unmeasured after the wait limit, and the rest wait on', () => {
    const q = new ReleaseQueue<string, number>({ capacity: 10, maxWaitMs: 500 })
    q.push(0, 'a', 0)
    q.push(1, 'b', 400)
    q.resolve(1, 9)
    expect(q.take(499)).toEqual([])
    expect(q.take(500).map((r) => [r.packet, r.scores, r.reason])).toEqual([
      ['a', undefined, 'timeout'],
      ['b', 9, 'scored'],
    ])
  })

  it('is bounded: a full queue pushes its head out unmeasured', () => {
    const q = new ReleaseQueue<number, number>({ capacity: 3, maxWaitMs: 1e9 })
    expect(q.push(0, 0, 0)).toEqual([])
    q.push(1, 1, 0)
    q.push(2, 2, 0)
    expect(q.push(3, 3, 0)).toEqual([{ packet: 0, key: 0, scores: undefined, reason: 'overflow' }])
    expect(q.length).toBe(3)
    expect(q.take(0, true).map((r) => r.reason)).toEqual(['flush', 'flush', 'flush'])
  })
})
