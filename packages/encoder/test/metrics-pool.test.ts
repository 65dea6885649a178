import { afterEach, describe, expect, it } from 'vitest'
import { MetricsPool, slabSlots } from '../src/io/metrics-pool.js'
import { PictureSlab, pictureBytes, type FramePlanes } from '../src/io/metrics-task.js'
import { computePsnrSsim, type Picture } from '../src/metrics/index.js'
import { makePicture, noise } from './pictures.js'

/** A test picture as beamcoder hands a yuv420p frame over: data and linesize per plane. */
function asFrame(p: Picture): FramePlanes {
  return { data: p.planes.map((q) => q.data), linesize: p.planes.map((q) => q.linesize), width: p.planes[0].width, height: p.planes[0].height }
}

describe('picture slab', () => {
  it('copies each plane to its own 64-byte-aligned place in the slot half, padding rows included, and nothing past them', () => {
    const frame = asFrame(makePicture(66, 34, noise(1), '420', 6, 2))
    const slab = new PictureSlab(3, pictureBytes(frame))
    const slot = slab.acquire()!
    const refs = slab.copyIn(slot, 1, frame)!
    expect(refs.map((r) => [r.linesize, r.width, r.height])).toEqual([[72, 66, 34], [41, 33, 17], [39, 33, 17]])
    const bytes = new Uint8Array(slab.buffer)
    for (const [i, r] of refs.entries()) {
      expect(r.offset % 64).toBe(0)
      expect(r.offset).toBeGreaterThanOrEqual((slot * 2 + 1) * slab.pictureBytes)
      expect(r.offset + r.linesize * r.height).toBeLessThanOrEqual((slot * 2 + 2) * slab.pictureBytes)
      expect(bytes.subarray(r.offset, r.offset + r.linesize * r.height)).toEqual(frame.data[i]!.subarray(0, r.linesize * r.height))
    }
    // The other half of the slot, and the other slots, are untouched.
    expect(bytes.subarray(slot * 2 * slab.pictureBytes, (slot * 2 + 1) * slab.pictureBytes).every((b) => b === 0)).toBe(true)
  })

  it('hands out each slot once until it is released, and refuses to release a free one', () => {
    const slab = new PictureSlab(2, 1000)
    const a = slab.acquire()
    const b = slab.acquire()
    expect(new Set([a, b]).size).toBe(2)
    expect(slab.acquire()).toBeUndefined()
    slab.release(a!)
    expect(slab.acquire()).toBe(a)
    expect(() => slab.release(5)).toThrow(/slot 5 is not in use/)
    slab.release(b!)
    expect(() => slab.release(b!)).toThrow(/not in use/)
  })

  it('refuses a picture larger than it was made for, or one whose planes are shorter than linesize × height', () => {
    const small = asFrame(makePicture(32, 16, noise(2)))
    const slab = new PictureSlab(1, pictureBytes(small))
    expect(slab.copyIn(0, 0, asFrame(makePicture(64, 32, noise(3))))).toBeUndefined()
    const short = { ...small, data: [small.data[0]!.subarray(0, 100), small.data[1]!, small.data[2]!] }
    expect(slab.copyIn(0, 0, short)).toBeUndefined()
    expect(slab.copyIn(0, 0, small)).toBeDefined()
  })
})

describe('slab slots', () => {
  it('gives the tasks wanted when they fit, fewer when pictures are huge, none when one pair does not fit', () => {
    const GiB = 1 << 30
    expect(slabSlots(8, 1_382_400 * 1.25, GiB)).toBe(8) // 720p
    expect(slabSlots(256, 3_110_400 * 1.25, GiB)).toBe(138) // 1080p, --workers 64
    expect(slabSlots(8, 49_766_400 * 1.25, GiB)).toBe(8) // 8K
    expect(slabSlots(8, 600_000_000, GiB)).toBe(0)
  })
})

describe('metrics pool (real worker threads)', () => {
  let pool: MetricsPool | undefined
  afterEach(async () => {
    await pool?.close()
    pool = undefined
  })

  it('gives the scores the reference kernels give for the same two pictures, with different linesizes on each side', async () => {
    pool = new MetricsPool({ workers: 2, maxQueue: 4 })
    const pairs = [1, 2, 3, 4, 5, 6].map((seed) => {
      const ref = makePicture(96, 54, noise(seed), '420', 16)
      const dist = makePicture(96, 54, (c, x, y) => (noise(seed)(c, x, y) + ((x * 3 + y + c) % 7) - 3) & 0xff, '420', 0, 8)
      return { ref, dist }
    })
    const results = []
    for (const [key, { ref, dist }] of pairs.entries()) {
      await pool.whenReady()
      const run = pool.tryRun(key, asFrame(ref), asFrame(dist))
      if (typeof run === 'string') throw new Error(`not run: ${run}`)
      results.push(run)
    }
    for (const [key, res] of (await Promise.all(results)).entries()) {
      const want = computePsnrSsim(pairs[key]!.ref, pairs[key]!.dist)
      expect(res.key).toBe(key)
      expect(res.psnr).toEqual({ y: want.psnr.y, u: want.psnr.u, v: want.psnr.v, average: want.psnr.average })
      expect(res.ssim).toEqual({ y: want.ssim.y, u: want.ssim.u, v: want.ssim.v, all: want.ssim.all })
    }
    expect(pool.inFlight).toBe(0)
  })

  it('hands one worker four frames before it starts a second (a burst of a B-frame group stays on one)', async () => {
    pool = new MetricsPool({ workers: 2 })
    const p = asFrame(makePicture(64, 32, noise(3)))
    const burst = [0, 1, 2, 3].map((key) => pool!.tryRun(key, p, p))
    expect(pool.workers).toBe(1)
    await Promise.all(burst)
    const more = [4, 5, 6, 7, 8].map((key) => pool!.tryRun(key, p, p))
    expect(pool.workers).toBe(2)
    expect((await Promise.all(more)).map((r) => (r as { key: number }).key)).toEqual([4, 5, 6, 7, 8])
  })

  it('is bounded: refuses a task while maxQueue are in flight, takes one again after, and refuses a larger picture', async () => {
    pool = new MetricsPool({ workers: 1, maxQueue: 2 })
    const p = asFrame(makePicture(64, 32, noise(9)))
    const first = [pool.tryRun(0, p, p), pool.tryRun(1, p, p)]
    expect(pool.full).toBe(true)
    expect(pool.tryRun(2, p, p)).toBe('full')
    await Promise.all(first)
    expect(pool.full).toBe(false)
    const again = pool.tryRun(3, p, p)
    expect(typeof again).toBe('object')
    expect((await (again as Promise<{ ssim: { all: number } }>)).ssim.all).toBeCloseTo(1, 12)
    const big = asFrame(makePicture(128, 64, noise(9)))
    expect(pool.tryRun(4, big, big)).toBe('geometry')
    expect(pool.inFlight).toBe(0)
  })
})
