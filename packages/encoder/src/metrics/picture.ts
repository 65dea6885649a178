/**
 * PSNR and SSIM of a distorted picture against its reference, as FFmpeg 5.1's `psnr` and `ssim`
 * filters compute them for 8-bit planar YUV (libavfilter/vf_psnr.c, vf_ssim.c). Both metrics are
 * symmetric in the two pictures; the argument order only names them.
 */
import { checkPlanePair, checkSsimPlane, jsKernels, planeSse, planeSsim, ssimWindowCount } from './plane.js'
import { defaultScratch, type MetricsScratch } from './scratch.js'
import type { Picture, Plane, PlaneKernels, PlaneSums, PsnrResult, PsnrSsimResult, SsimResult } from './types.js'

/** The 8-bit peak, squared: vf_psnr's pow_2(max) with max = (1 << 8) - 1. */
const PEAK_SQUARED = 255 * 255
const PLANE_NAMES = ['Y', 'U', 'V'] as const

/** PSNR in dB from a mean squared error, as vf_psnr's get_psnr; MSE 0 gives Infinity. */
export function psnrFromMse(mse: number): number {
  return 10 * Math.log10(PEAK_SQUARED / mse)
}

/** PSNR of `dist` against `ref`, plane by plane and averaged as FFmpeg's `psnr` filter. */
export function computePsnr(ref: Picture, dist: Picture): PsnrResult {
  checkPictures(ref, dist, false)
  const [ry, ru, rv] = ref.planes
  const [dy, du, dv] = dist.planes
  return psnrResult(ry, ru, rv, planeSse(ry, dy), planeSse(ru, du), planeSse(rv, dv))
}

/** SSIM of `dist` against `ref`, plane by plane and combined as FFmpeg's `ssim` filter. */
export function computeSsim(ref: Picture, dist: Picture, scratch: MetricsScratch = defaultScratch): SsimResult {
  checkPictures(ref, dist, true)
  const [ry, ru, rv] = ref.planes
  const [dy, du, dv] = dist.planes
  planeSsim(ry, dy, scratch)
  const y = scratch.windowSum
  planeSsim(ru, du, scratch)
  const u = scratch.windowSum
  planeSsim(rv, dv, scratch)
  return ssimResult(ry, ru, rv, y, u, scratch.windowSum)
}

/**
 * Both metrics in one read of the pixels: the SSIM pass's 4x4 block sums already hold the squared
 * differences (Σ(a-b)² = ss - 2·s12), so PSNR only reads the right and bottom edges the 4x4
 * blocks leave out. Same results as `computePsnr` and `computeSsim`. Plain JavaScript: the
 * reference; `measurePsnrSsim` with `WasmKernels` gives the same numbers faster.
 */
export function computePsnrSsim(ref: Picture, dist: Picture, scratch: MetricsScratch = defaultScratch): PsnrSsimResult {
  return measurePsnrSsim(ref, dist, jsKernels(scratch))
}

/** `computePsnrSsim` on the given plane kernels (`jsKernels()` or `WasmKernels`). */
export function measurePsnrSsim(ref: Picture, dist: Picture, kernels: PlaneKernels): PsnrSsimResult {
  checkPictures(ref, dist, true)
  const [ry, ru, rv] = ref.planes
  const [dy, du, dv] = dist.planes
  const sums: PlaneSums = { windowSum: 0, sse: 0 }
  kernels.ssimSse(ry, dy, sums)
  const ssimY = sums.windowSum
  const sseY = sums.sse
  kernels.ssimSse(ru, du, sums)
  const ssimU = sums.windowSum
  const sseU = sums.sse
  kernels.ssimSse(rv, dv, sums)
  return {
    psnr: psnrResult(ry, ru, rv, sseY, sseU, sums.sse),
    ssim: ssimResult(ry, ru, rv, ssimY, ssimU, sums.windowSum),
  }
}

/** `computePsnr` on the given plane kernels. */
export function measurePsnr(ref: Picture, dist: Picture, kernels: PlaneKernels): PsnrResult {
  checkPictures(ref, dist, false)
  const [ry, ru, rv] = ref.planes
  const [dy, du, dv] = dist.planes
  return psnrResult(ry, ru, rv, kernels.sse(ry, dy), kernels.sse(ru, du), kernels.sse(rv, dv))
}

function psnrResult(y: Plane, u: Plane, v: Plane, sseY: number, sseU: number, sseV: number): PsnrResult {
  const nY = y.width * y.height
  const nU = u.width * u.height
  const nV = v.width * v.height
  const total = nY + nU + nV
  // vf_psnr: mse[c] = sse / (w·h); mse_avg = Σ mse[c]·weight[c], weight[c] = w·h / Σ w·h. Same
  // operations in the same order, so the doubles come out bit-identical.
  const mseY = sseY / nY
  const mseU = sseU / nU
  const mseV = sseV / nV
  const mseAvg = mseY * (nY / total) + mseU * (nU / total) + mseV * (nV / total)
  return {
    y: psnrFromMse(mseY),
    u: psnrFromMse(mseU),
    v: psnrFromMse(mseV),
    average: psnrFromMse(mseAvg),
    mseY,
    mseU,
    mseV,
  }
}

function ssimResult(y: Plane, u: Plane, v: Plane, sumY: number, sumU: number, sumV: number): SsimResult {
  // vf_ssim: per plane the window sum over ((w >> 2) - 1)·((h >> 2) - 1), each plane with its own
  // width and height (chroma rounded up for odd sizes); All weights planes by w·h / Σ w·h.
  const nY = y.width * y.height
  const nU = u.width * u.height
  const nV = v.width * v.height
  const total = nY + nU + nV
  const ssimY = sumY / ssimWindowCount(y.width, y.height)
  const ssimU = sumU / ssimWindowCount(u.width, u.height)
  const ssimV = sumV / ssimWindowCount(v.width, v.height)
  return {
    y: ssimY,
    u: ssimU,
    v: ssimV,
    all: (nY / total) * ssimY + (nU / total) * ssimU + (nV / total) * ssimV,
  }
}

function checkPictures(ref: Picture, dist: Picture, forSsim: boolean): void {
  for (let c = 0; c < 3; c++) {
    const name = PLANE_NAMES[c]!
    const r = ref.planes[c]!
    checkPlanePair(r, dist.planes[c]!, name)
    // FFmpeg would divide by zero windows and print nan: refuse instead.
    if (forSsim) checkSsimPlane(r, `the ${name}`)
  }
}
