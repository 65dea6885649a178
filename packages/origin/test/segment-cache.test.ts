import { describe, expect, it } from 'vitest'
import { SegmentCache } from '../src/segment-cache.js'

const seg = (bytes: number, chain = 'a') => ({ body: new Uint8Array(bytes), headers: { 'Content-Type': 'video/mp2t' }, chain })

describe('SegmentCache', () => {
  it('keeps segments under its byte bound, the oldest out first', () => {
    const c = new SegmentCache(1000)
    c.set('/hls/1.ts', seg(400))
    c.set('/hls/2.ts', seg(400))
    expect(c.bytes).toBe(800)
    c.set('/hls/3.ts', seg(400))
    expect(c.get('/hls/1.ts')).toBeUndefined()
    expect(c.get('/hls/2.ts')?.body.length).toBe(400)
    expect(c.get('/hls/3.ts')?.body.length).toBe(400)
    expect(c.bytes).toBe(800)
    expect(c.size).toBe(2)
  })

  it('replaces an entry in place of counting it twice, and refuses one larger than the bound', () => {
    const c = new SegmentCache(1000)
    c.set('/hls/1.ts', seg(600, 'a'))
    c.set('/hls/1.ts', seg(300, 'b'))
    expect(c.bytes).toBe(300)
    expect(c.get('/hls/1.ts')?.chain).toBe('b')
    c.set('/hls/2.ts', seg(1001))
    expect(c.get('/hls/2.ts')).toBeUndefined()
    expect(c.bytes).toBe(300)
    expect(() => new SegmentCache(Number.NaN)).toThrow(/cache size/)
  })
})
