/**
 * One 8-bit plane of a picture, laid out as FFmpeg lays out frame planes: row y starts at
 * `y * linesize`. `data` may be longer than `linesize * height` (beamcoder's pool padding) and
 * bytes between `width` and `linesize` are never read.
 */
export interface Plane {
  data: Uint8Array
  linesize: number
  width: number
  height: number
}

/**
 * Y, U and V planes of an 8-bit planar YUV picture. The chroma planes' own `width`/`height` decide
 * the subsampling, so yuv420p, yuv422p and yuv444p all work: for yuv420p they are
 * `ceil(width / 2) x ceil(height / 2)`, as FFmpeg rounds them (AV_CEIL_RSHIFT).
 */
export interface Picture {
  planes: [Plane, Plane, Plane]
}

/**
 * PSNR in dB as FFmpeg's `psnr` filter reports it (Infinity where the planes are identical; the
 * caller caps it), and the per-plane mean squared errors it comes from.
 */
export interface PsnrResult {
  /** Luma PSNR, dB. */
  y: number
  u: number
  v: number
  /** PSNR of the sample-count-weighted mean of the three MSEs (FFmpeg's `psnr_avg`), dB. */
  average: number
  mseY: number
  mseU: number
  mseV: number
}

/** SSIM 0..1 per plane as FFmpeg's `ssim` filter reports it. */
export interface SsimResult {
  y: number
  u: number
  v: number
  /** The planes weighted by their sample counts (FFmpeg's `All`). */
  all: number
}

export interface PsnrSsimResult {
  psnr: PsnrResult
  ssim: SsimResult
}

/** Which implementation of the plane kernels measured a picture. */
export const KernelName = { JS: 'js', WASM_SIMD: 'wasm-simd' } as const
export type KernelName = (typeof KernelName)[keyof typeof KernelName]

/** One plane pair's sums, as the picture-level functions need them. */
export interface PlaneSums {
  /** The sum of every 8x8 window's SSIM (FFmpeg's; divide by `ssimWindowCount`). */
  windowSum: number
  /** The sum of squared differences over the whole plane. */
  sse: number
}

/**
 * The per-plane work behind the picture-level metrics: plain JavaScript (`jsKernels`, the
 * reference) or WebAssembly SIMD (`WasmKernels`), which give the same numbers bit for bit.
 * Both check their planes (sizes, linesizes, buffer lengths) and throw RangeError.
 */
export interface PlaneKernels {
  readonly name: KernelName
  /** SSIM window sum and SSE of a plane pair of at least 8x8 pixels, in one read, into `out`. */
  ssimSse(ref: Plane, dist: Plane, out: PlaneSums): void
  /** SSE of a plane pair. */
  sse(ref: Plane, dist: Plane): number
}
