import { describe, expect, it } from 'vitest'
import { type Beamcoder, loadBeamcoder } from '../src/io/beamcoder.js'

/**
 * patches/beamcoder@0.7.1.patch puts a Frame's and a Packet's accessors on one prototype per
 * class instead of defining 40-odd getters and setters on every object (which made new, tenured
 * function templates for each frame and packet: most of the encoder's garbage and mark-compacts,
 * BENCHMARKS.md). What the encoder relies on must behave as before: getters, setters, toJSON, and
 * objects made by beamcoder's decoder and encoder as well as by `frame()` and `packet()`.
 */
describe('beamcoder frames and packets (patched: accessors on a shared prototype)', () => {
  const b = loadBeamcoder()
  b.logging('fatal')

  it('keeps only the native struct on each object; the accessors are shared', () => {
    const f1 = b.frame({ width: 64, height: 32, format: 'yuv420p' } as never)
    const f2 = b.frame({ width: 16, height: 16, format: 'yuv420p' } as never)
    const p1 = b.packet({ pts: 5, size: 10 } as never)
    const p2 = b.packet({ pts: 6, size: 4 } as never)
    expect(Object.getOwnPropertyNames(f1)).toEqual(['_frame'])
    expect(Object.getOwnPropertyNames(p1)).toEqual(['_packet'])
    // Compared as booleans: expect() would read the prototype's accessors to describe it.
    expect(Object.getPrototypeOf(f1) === Object.getPrototypeOf(f2)).toBe(true)
    expect(Object.getPrototypeOf(p1) === Object.getPrototypeOf(p2)).toBe(true)
    expect(Object.getPrototypeOf(f1) === Object.prototype).toBe(false)
    expect(typeof Object.getOwnPropertyDescriptor(Object.getPrototypeOf(f1), 'width')?.get).toBe('function')
    // Each object still reads its own struct.
    expect([f1.width, f1.height, f2.width, f2.height]).toEqual([64, 32, 16, 16])
    expect([p1.pts, p1.size, p2.pts, p2.size]).toEqual([5, 10, 6, 4])
  })

  it('reads, writes and serialises through the shared accessors', () => {
    const f = b.frame({ width: 64, height: 32, format: 'yuv420p' } as never).alloc()
    f.pts = 42
    ;(f as unknown as { pict_type: string }).pict_type = 'I'
    expect(f.pts).toBe(42)
    expect((f as unknown as { pict_type: string }).pict_type).toBe('I')
    expect(f.type).toBe('Frame')
    expect(f.data.length).toBe(3)
    expect(f.data[0]!.length).toBeGreaterThanOrEqual(64 * 32)
    expect(JSON.parse(JSON.stringify(f))).toMatchObject({ type: 'Frame', width: 64, height: 32, pts: 42 })
    const p = b.packet({ pts: 1, dts: 1, data: Buffer.from([0, 0, 0, 1, 9, 0xf0]) } as never)
    p.pts = 90
    expect(p.pts).toBe(90)
    expect(JSON.parse(JSON.stringify(p))).toMatchObject({ type: 'Packet', pts: 90, dts: 1 })
    // A value that is not a number is still refused by the setter (the struct was found).
    expect(() => {
      ;(p as unknown as { pts: unknown }).pts = 'x'
    }).toThrow()
  })

  it('refuses, with a TypeError, an accessor used on an object that holds no struct', () => {
    const frameProto = Object.getPrototypeOf(b.frame({ width: 8, height: 8, format: 'yuv420p' } as never)) as object
    const packetProto = Object.getPrototypeOf(b.packet({ pts: 1 } as never)) as object
    // The prototype itself, and an object made from it: before the check these read a null struct.
    expect(() => (frameProto as { width: number }).width).toThrow(/not a beamcoder Frame/)
    expect(() => (Object.create(frameProto) as { pts: number }).pts).toThrow(TypeError)
    expect(() => (Object.create(packetProto) as { size: number }).size).toThrow(/not a beamcoder Packet/)
    expect(() => JSON.stringify(Object.create(packetProto))).toThrow(TypeError) // toJSON: "Illegal invocation"
    expect(() => {
      ;(packetProto as { pts: number }).pts = 3
    }).toThrow(TypeError)
  })

  it('gives the encoder and decoder the same classes, with their values', async () => {
    const encoder = b.encoder({ name: 'libx264', width: 64, height: 64, pix_fmt: 'yuv420p', time_base: [1, 30], framerate: [30, 1], priv_data: { preset: 'ultrafast', tune: 'zerolatency' } } as never)
    const decoder = b.decoder({ name: 'h264' } as never)
    const picture = b.frame({ width: 64, height: 64, format: 'yuv420p' } as never).alloc()
    const packets: { pts: number; size: number; proto: unknown }[] = []
    const frames: { pts: number; width: number; proto: unknown }[] = []
    for (let i = 0; i < 5; i++) {
      picture.pts = i
      for (const p of (await encoder.encode(picture)).packets) {
        packets.push({ pts: p.pts as number, size: p.size, proto: Object.getPrototypeOf(p) })
        for (const fr of (await decoder.decode(p)).frames) frames.push({ pts: fr.pts as number, width: fr.width, proto: Object.getPrototypeOf(fr) })
      }
    }
    for (const p of (await encoder.flush()).packets) {
      packets.push({ pts: p.pts as number, size: p.size, proto: Object.getPrototypeOf(p) })
      for (const fr of (await decoder.decode(p)).frames) frames.push({ pts: fr.pts as number, width: fr.width, proto: Object.getPrototypeOf(fr) })
    }
    for (const fr of (await decoder.flush()).frames) frames.push({ pts: fr.pts as number, width: fr.width, proto: Object.getPrototypeOf(fr) })
    expect(packets.map((p) => p.pts)).toEqual([0, 1, 2, 3, 4])
    expect(packets.every((p) => p.size > 0 && p.proto === Object.getPrototypeOf(b.packet()))).toBe(true)
    expect(frames.map((f) => f.pts)).toEqual([0, 1, 2, 3, 4])
    expect(frames.every((f) => f.width === 64 && f.proto === Object.getPrototypeOf(picture))).toBe(true)
  })
})

/**
 * The patch's `Frame.copyPlane` and `Frame.release`: the encoder copies each picture into its
 * metrics slab without a Buffer that references it, then gives the picture back to its decoder
 * at once instead of when the garbage collector gets to the object (BENCHMARKS.md, fifth session).
 */
describe('beamcoder frames: copyPlane and release (patched)', () => {
  const b = loadBeamcoder()
  b.logging('fatal')

  /**
   * `count` frames of a real H.264 decode (x264 ultrafast, a moving gradient), all kept, and how
   * much the process's resident memory grew after the first 10 (the codecs are set up by then).
   */
  async function decodedFrames(count: number, release: boolean, width = 64, height = 48): Promise<{ frames: Beamcoder.Frame[]; rssGrowth: number }> {
    const encoder = b.encoder({ name: 'libx264', width, height, pix_fmt: 'yuv420p', time_base: [1, 30], framerate: [30, 1], priv_data: { preset: 'ultrafast', tune: 'zerolatency' } } as never)
    const decoder = b.decoder({ name: 'h264', thread_count: 1 } as never)
    const picture = b.frame({ width, height, format: 'yuv420p' } as never).alloc()
    const [y, u, v] = picture.data as Buffer[]
    const frames: Beamcoder.Frame[] = []
    let before = 0
    for (let i = 0; i < count; i++) {
      if (i === 10) before = process.memoryUsage().rss
      for (let k = 0; k < y!.length; k++) y![k] = (k + i * 3) & 0xff
      u!.fill(128)
      v!.fill(128)
      picture.pts = i
      for (const p of (await encoder.encode(picture)).packets) {
        for (const fr of (await decoder.decode(p)).frames) {
          if (release) fr.release()
          frames.push(fr)
        }
      }
    }
    return { frames, rssGrowth: process.memoryUsage().rss - before }
  }

  it('copies a decoded plane, padding rows included, into a Uint8Array over a SharedArrayBuffer at an offset', async () => {
    const { frames } = await decodedFrames(3, false)
    const f = frames.at(-1)!
    const target = new Uint8Array(new SharedArrayBuffer(1 << 16))
    for (const [i, rows] of [48, 24, 24].entries()) {
      const bytes = f.linesize[i]! * rows
      const offset = 100 + i * 8192
      f.copyPlane(i, target, offset, bytes)
      expect(Buffer.from(target.subarray(offset, offset + bytes)).equals(f.data[i]!.subarray(0, bytes))).toBe(true)
    }
    expect(target[99]).toBe(0)
  })

  it('refuses, with a RangeError, a copy past the plane, past the target, or of a plane the frame has not', async () => {
    const { frames } = await decodedFrames(1, false)
    const f = frames[0]!
    const target = new Uint8Array(1 << 16)
    expect(() => f.copyPlane(0, target, 0, 1 << 24)).toThrow(/run past the buffer that holds the plane/)
    expect(() => f.copyPlane(0, target, (1 << 16) - 10, 64)).toThrow(/past the end of the target/)
    expect(() => f.copyPlane(0, target, -1, 64)).toThrow(RangeError)
    expect(() => f.copyPlane(5, target, 0, 64)).toThrow(/no such plane/)
    expect(() => f.copyPlane(0, new Uint16Array(64) as unknown as Uint8Array, 0, 8)).toThrow(/must be a Uint8Array/)
  })

  it('release gives the picture back: the frame is empty after, and the decoder reuses its buffers', async () => {
    // 100 frames of 640x360 kept as objects: their pictures stay resident (340 KB each, 30 MB in
    // all) unless released, when the decoder's pool hands the same few buffers out again.
    const kept = await decodedFrames(100, false, 640, 360)
    const released = await decodedFrames(100, true, 640, 360)
    expect(kept.frames.length).toBe(released.frames.length)
    expect(kept.rssGrowth).toBeGreaterThan(90 * 640 * 360 * 1.5 * 0.9)
    expect(released.rssGrowth).toBeLessThan(kept.rssGrowth / 4)
    const f = released.frames[0]!
    expect([f.width, f.height, f.data.length]).toEqual([0, 0, 0])
    expect(() => f.copyPlane(0, new Uint8Array(64), 0, 1)).toThrow(/no such plane/)
    f.release() // twice: nothing more to drop
  })
})
