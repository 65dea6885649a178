/**
 * The WebAssembly SIMD plane kernels (src/metrics/kernels.wat, built into dist by `pnpm -s build`)
 * against the plain-JavaScript ones, which are the reference: every result must be identical,
 * not merely close (toEqual on the doubles), on sizes that are and are not multiples of 4, 8 and
 * 16, with and without linesize padding, yuv420p/422p/444p, and at the 8-bit extremes.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bestKernels, loadWasmKernels } from '../src/io/metrics-wasm.js'
import { type Chroma, type Value, makePicture as makePictureWith, makePlane, noise } from './pictures.js'
import {
  KernelName, WASM_MAX_WIDTH, computePsnr, computePsnrSsim, jsKernels, measurePsnr, measurePsnrSsim,
  type Picture, type Plane, type PlaneSums,
} from '../src/metrics/index.js'

/** `base` plus a small position-dependent error, clamped: a plausible distorted copy. */
function distorted(base: Value, seed: number, amplitude = 24): Value {
  const e = noise(seed)
  return (c, x, y) => Math.min(255, Math.max(0, base(c, x, y) + (e(c, x, y) % (2 * amplitude + 1)) - amplitude))
}

/** The U plane gets 3 more bytes of padding than Y and V: three different linesizes. */
const makePicture = (width: number, height: number, value: Value, chroma: Chroma = '420', pad = 0): Picture => makePictureWith(width, height, value, chroma, pad, 3)

const js = jsKernels()
const wasm = loadWasmKernels()

function planeSums(kernels: typeof js, ref: Plane, dist: Plane): PlaneSums & { sseOnly: number } {
  const out = { windowSum: NaN, sse: NaN }
  kernels.ssimSse(ref, dist, out)
  return { ...out, sseOnly: kernels.sse(ref, dist) }
}

describe('WebAssembly SIMD kernels: identical to the JavaScript kernels', () => {
  it('are the kernels the metrics worker uses (the build assembled kernels.wasm)', () => {
    const best = bestKernels()
    expect(best.fallbackReason).toBeUndefined()
    expect(best.kernels.name).toBe(KernelName.WASM_SIMD)
  })

  it('give the same plane sums for every width from 8 to 72 and heights 8 to 23, packed and padded', () => {
    for (let width = 8; width <= 72; width++) {
      for (const height of [8, 9, 11, 12, 15, 23]) {
        const pad = (width * 7 + height) % 37
        const ref = makePlane(width, height, (x, y) => noise(width)(0, x, y), pad)
        const dist = makePlane(width, height, (x, y) => distorted(noise(width), height)(0, x, y), (pad * 5) % 19)
        expect(planeSums(wasm, ref, dist), `${width}x${height}`).toEqual(planeSums(js, ref, dist))
      }
    }
  })

  it('give the same PSNR of planes smaller than one 8x8 window and one row or column wide', () => {
    for (const [w, h] of [[1, 1], [1, 9], [9, 1], [3, 7], [7, 3], [15, 2], [16, 1], [17, 5], [33, 3]] as const) {
      const ref = makePlane(w, h, (x, y) => noise(1)(0, x, y), 5)
      const dist = makePlane(w, h, (x, y) => noise(2)(0, x, y))
      expect(wasm.sse(ref, dist), `${w}x${h}`).toBe(js.sse(ref, dist))
    }
  })

  it('give the same pictures at 1280x720, 1920x1080 and odd sizes, yuv420p, yuv422p and yuv444p', () => {
    const cases: [number, number, Chroma, number][] = [
      [1280, 720, '420', 0], [1920, 1080, '420', 64], [322, 182, '420', 0], [322, 182, '444', 0],
      [37, 23, '420', 13], [130, 66, '422', 29], [102, 58, '444', 7], [360, 200, '420', 24], [721, 405, '420', 47],
    ]
    for (const [w, h, chroma, pad] of cases) {
      const a = makePicture(w, h, noise(w + h), chroma, pad)
      const b = makePicture(w, h, distorted(noise(w + h), w), chroma, (pad * 3) % 64)
      const label = `${w}x${h} ${chroma} pad ${pad}`
      expect(measurePsnrSsim(a, b, wasm), label).toEqual(computePsnrSsim(a, b))
      expect(measurePsnr(a, b, wasm), label).toEqual(computePsnr(a, b))
    }
  })

  it('give the same numbers at the 8-bit extremes (no overflow): 0 against 255, identical, checkerboards', () => {
    const flat = (v: number): Value => () => v
    const checker: Value = (_c, x, y) => ((x ^ y) & 1 ? 255 : 0)
    const inverse: Value = (_c, x, y) => ((x ^ y) & 1 ? 0 : 255)
    for (const [f, g] of [[flat(0), flat(255)], [flat(255), flat(255)], [flat(0), flat(0)], [checker, inverse], [checker, flat(255)], [checker, checker]] as const) {
      for (const [w, h] of [[64, 64], [1924, 20]] as const) {
        const a = makePicture(w, h, f)
        const b = makePicture(w, h, g)
        expect(measurePsnrSsim(a, b, wasm)).toEqual(computePsnrSsim(a, b))
      }
    }
  })

  it('give the same numbers on a 4096-pixel-wide strip, and after their memory has grown and shrunk in use', () => {
    const k = loadWasmKernels()
    const small = [makePicture(40, 24, noise(1)), makePicture(40, 24, noise(2))] as const
    const big = [makePicture(4096, 40, noise(3), '444', 16), makePicture(4096, 40, distorted(noise(3), 4), '444')] as const
    const expectedSmall = computePsnrSsim(small[0], small[1])
    expect(measurePsnrSsim(small[0], small[1], k)).toEqual(expectedSmall)
    const before = k.memoryBytes
    expect(measurePsnrSsim(big[0], big[1], k)).toEqual(computePsnrSsim(big[0], big[1]))
    expect(k.memoryBytes).toBeGreaterThan(before)
    // Block sums of the wide picture are still in memory: a narrow one must not see them.
    expect(measurePsnrSsim(small[0], small[1], k)).toEqual(expectedSmall)
  })

  it('give the same numbers for any size, padding and content (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 8, max: 90 }), fc.integer({ min: 8, max: 40 }),
        fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 }),
        fc.integer(), fc.integer({ min: 0, max: 128 }),
        (w, h, padA, padB, seed, amplitude) => {
          const ref = makePlane(w, h, (x, y) => noise(seed)(0, x, y), padA)
          const dist = makePlane(w, h, (x, y) => distorted(noise(seed), seed ^ 0x5a5a, amplitude)(0, x, y), padB)
          expect(planeSums(wasm, ref, dist)).toEqual(planeSums(js, ref, dist))
        },
      ),
      { numRuns: 300, seed: 20261201 },
    )
  })

  it('refuse what the JavaScript kernels refuse, and planes wider than they take', () => {
    const a = makePlane(32, 32, noise(1) as never)
    const out = { windowSum: 0, sse: 0 }
    expect(() => wasm.ssimSse(a, makePlane(32, 30, () => 0), out)).toThrow(RangeError)
    expect(() => wasm.ssimSse(a, { ...a, data: a.data.subarray(0, 32 * 31) }, out)).toThrow(/needs/)
    expect(() => wasm.sse(a, { ...a, linesize: 16 })).toThrow(/linesize/)
    expect(() => wasm.ssimSse(makePlane(12, 7, () => 0), makePlane(12, 7, () => 0), out)).toThrow(/at least 8x8/)
    const wide = { data: new Uint8Array(WASM_MAX_WIDTH + 1), linesize: WASM_MAX_WIDTH + 1, width: WASM_MAX_WIDTH + 1, height: 1 }
    expect(() => wasm.sse(wide, wide)).toThrow(/up to 32768/)
  })
})
