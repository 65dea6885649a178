import { describe, expect, it } from 'vitest'
import { StreamFollower } from '../src/stream-follower.js'

/** Packets of one stream at 25 a second from `t0`, named by their number. */
const at = (t0: number, i: number) => t0 + i / 25

describe('the stream the encoder follows', () => {
  it('follows its stream; another alone for a second of its own time takes over, its run handed over', () => {
    const f = new StreamFollower<string>(0, { minPackets: 3, minSeconds: 1 })
    expect(f.observe(0, 'a0', 0)).toEqual({ follow: true })
    // The new stream restarted its clock at 0 (upstream reconfigured): its own time counts.
    for (let i = 0; i < 25; i++) expect(f.observe(2, `c${i}`, at(0, i))).toEqual({ follow: false })
    const moved = f.observe(2, 'c25', at(0, 25))
    expect(moved).toEqual({ follow: true, movedFrom: 0, backlog: Array.from({ length: 25 }, (_, i) => `c${i}`) })
    expect(f.current).toBe(2)
    expect(f.observe(2, 'c26', at(0, 26))).toEqual({ follow: true })
    // The old stream is now the other one.
    expect(f.observe(0, 'a1', 0.04)).toEqual({ follow: false })
  })

  it('a stream beside the followed one (a second language) does not take over even when the followed one drops out for seconds', () => {
    const f = new StreamFollower(0, { minPackets: 3, minSeconds: 1, maxInterleave: 10 })
    for (let i = 0; i < 20; i++) {
      f.observe(4, i, at(0, i))
      f.observe(0, i, at(0, i))
    }
    // The followed stream is silent for 4 s; the second language goes on.
    for (let i = 20; i < 120; i++) expect(f.observe(4, i, at(0, i)).follow).toBe(false)
    expect(f.current).toBe(0)
    expect(f.observe(0, 120, at(0, 120)).follow).toBe(true)
  })

  it('two new streams at once (both languages moved) each keep their own run: the first to span a second takes over', () => {
    const f = new StreamFollower(0, { minPackets: 3, minSeconds: 1 })
    f.observe(0, 'a', 0)
    let moved
    for (let i = 0; i <= 25 && !moved?.follow; i++) {
      moved = f.observe(5, `e${i}`, at(0, i))
      if (!moved.follow) moved = f.observe(6, `f${i}`, at(0, i))
    }
    expect(moved).toMatchObject({ follow: true, movedFrom: 0 })
    expect(f.current).toBe(5)
  })

  it('a stream beside the followed one (a second language, a PES of several frames at a time) never takes over while the followed one goes on', () => {
    const f = new StreamFollower(0, { minPackets: 3, minSeconds: 1 })
    for (let pes = 0; pes < 100; pes++) {
      // 15 frames of the other stream in a row (0.3 s), then one of ours.
      for (let k = 0; k < 15; k++) expect(f.observe(4, k, at(0, pes * 15 + k)).follow).toBe(false)
      expect(f.observe(0, pes, at(0, pes * 15)).follow).toBe(true)
    }
    expect(f.current).toBe(0)
  })

  it('needs `minPackets` too', () => {
    const few = new StreamFollower(0, { minPackets: 5, minSeconds: 1 })
    expect(few.observe(1, 'x', 0).follow).toBe(false)
    expect(few.observe(1, 'y', 10).follow).toBe(false) // 10 s apart, but 2 packets
  })

  it('packets without a time never make a move on their own, and the backlog is bounded', () => {
    const f = new StreamFollower(0, { minPackets: 2, minSeconds: 1, maxBacklog: 4 })
    for (let i = 0; i < 50; i++) expect(f.observe(1, i, undefined).follow).toBe(false)
    const moved = f.observe(1, 50, 0)
    expect(moved.follow).toBe(false)
    expect(f.observe(1, 51, 1)).toEqual({ follow: true, movedFrom: 0, backlog: [48, 49, 50] })
  })

  it('stay() undoes a move the caller could not make, and the run starts again', () => {
    const f = new StreamFollower<string>(0, { minPackets: 2, minSeconds: 1 })
    f.observe(1, 'b0', 0)
    expect(f.observe(1, 'b1', 1)).toEqual({ follow: true, movedFrom: 0, backlog: ['b0'] })
    f.stay(0)
    expect(f.current).toBe(0)
    expect(f.observe(1, 'b2', 2)).toEqual({ follow: false })
    expect(f.observe(1, 'b3', 3)).toEqual({ follow: true, movedFrom: 0, backlog: ['b2'] })
  })
})
