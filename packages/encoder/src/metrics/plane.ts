/**
 * Per-plane kernels: sum of squared differences, and FFmpeg's SSIM (libavfilter/vf_ssim.c, 8-bit).
 *
 * FFmpeg's SSIM: the plane is cut into 4x4 blocks, `width >> 2` across and `height >> 2` down
 * (right and bottom pixels beyond the last whole block are ignored); each block gives integer sums
 * s1 = Σa, s2 = Σb, ss = Σa² + Σb², s12 = Σab. Each 8x8 window is 2x2 neighbouring blocks (so
 * windows overlap by 4 pixels): ((w >> 2) - 1) x ((h >> 2) - 1) windows. A window's SSIM is
 * computed from its summed integers in 32-bit ints (no overflow for 8-bit input) and then in
 * single-precision floats; the plane's SSIM is the double-precision mean over all windows.
 *
 * Speed notes: everything is one pass over the pixels; the 4x4 block sums stay in locals, only
 * the block sums are stored (one row), and the windows of a block row are scored in a second,
 * short loop over those sums (measured faster than scoring inside the pixel loop: the pixel loop
 * keeps more values in registers). No closures, no allocation.
 */
import { KernelName, type Plane, type PlaneKernels, type PlaneSums } from './types.js'
import { defaultScratch, type MetricsScratch } from './scratch.js'

/** (int)(.01*.01*255*255*64 + .5): FFmpeg's ssim_c1 for 8-bit, on sums over 64 pixels. */
export const SSIM_C1 = 416
/** (int)(.03*.03*255*255*64*63 + .5): FFmpeg's ssim_c2 for 8-bit. */
export const SSIM_C2 = 235963

const fround = Math.fround

/** Throws unless `ref` and `dist` are same-sized 8-bit planes whose buffers hold every row. */
export function checkPlanePair(ref: Plane, dist: Plane, name: string): void {
  checkPlane(ref, `reference ${name}`)
  checkPlane(dist, `distorted ${name}`)
  if (ref.width !== dist.width || ref.height !== dist.height) {
    throw new RangeError(`${name} plane sizes differ: reference ${ref.width}x${ref.height}, distorted ${dist.width}x${dist.height}`)
  }
}

function checkPlane(p: Plane, what: string): void {
  const { width, height, linesize } = p
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`${what} plane: bad size ${width}x${height}`)
  }
  if (!Number.isInteger(linesize) || linesize < width) {
    throw new RangeError(`${what} plane: linesize ${linesize} is less than its width ${width}`)
  }
  const needed = (height - 1) * linesize + width
  if (p.data.length < needed) {
    throw new RangeError(`${what} plane: ${p.data.length} bytes, ${width}x${height} at linesize ${linesize} needs ${needed}`)
  }
}

/**
 * Sum of squared differences over the rectangle [x0, x1) x [y0, y1) of two planes with the
 * given linesizes. Exact: a row's sum stays below 2^31 for rows up to 33,000 pixels, and the total
 * is a double (exact below 2^53).
 */
export function sseRect(
  ra: Uint8Array, rs: number, da: Uint8Array, ds: number,
  x0: number, x1: number, y0: number, y1: number,
): number {
  let total = 0
  const n = x1 - x0
  if (n <= 0) return 0
  for (let y = y0; y < y1; y++) {
    let ro = y * rs + x0
    let dof = y * ds + x0
    const end = ro + n
    let row = 0
    // Four at a time: fewer loop checks; the tail loop takes what is left.
    for (; ro + 4 <= end; ro += 4, dof += 4) {
      const d0 = ra[ro]! - da[dof]!
      const d1 = ra[ro + 1]! - da[dof + 1]!
      const d2 = ra[ro + 2]! - da[dof + 2]!
      const d3 = ra[ro + 3]! - da[dof + 3]!
      row += d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3
    }
    for (; ro < end; ro++, dof++) {
      const d = ra[ro]! - da[dof]!
      row += d * d
    }
    total += row
  }
  return total
}

/** Sum of squared differences over a whole plane pair. */
export function planeSse(ref: Plane, dist: Plane): number {
  return sseRect(ref.data, ref.linesize, dist.data, dist.linesize, 0, ref.width, 0, ref.height)
}

/**
 * Squared differences of the pixels outside whole 4x4 blocks (the right strip, then the bottom):
 * what `planeSsim`'s `blockSse` leaves out of the plane's SSE.
 */
export function edgeSse(ref: Plane, dist: Plane): number {
  const w4 = ref.width & ~3
  const h4 = ref.height & ~3
  const ra = ref.data
  const da = dist.data
  return sseRect(ra, ref.linesize, da, dist.linesize, w4, ref.width, 0, h4)
    + sseRect(ra, ref.linesize, da, dist.linesize, 0, ref.width, h4, ref.height)
}

/**
 * The plain-JavaScript kernels as a `PlaneKernels`: the reference the WebAssembly ones are tested
 * against, and the fallback where those cannot load. Uses `scratch` for every call.
 */
export function jsKernels(scratch: MetricsScratch = defaultScratch): PlaneKernels {
  return {
    name: KernelName.JS,
    ssimSse(ref: Plane, dist: Plane, out: PlaneSums): void {
      checkPlanePair(ref, dist, 'plane')
      checkSsimPlane(ref)
      planeSsim(ref, dist, scratch)
      out.windowSum = scratch.windowSum
      out.sse = scratch.blockSse + edgeSse(ref, dist)
    },
    sse(ref: Plane, dist: Plane): number {
      checkPlanePair(ref, dist, 'plane')
      return planeSse(ref, dist)
    },
  }
}

/** Throws unless the plane has at least one 8x8 window (FFmpeg would divide by zero). */
export function checkSsimPlane(p: Plane, name = 'the'): void {
  if (p.width < 8 || p.height < 8) {
    throw new RangeError(`SSIM needs planes of at least 8x8 pixels; ${name} plane is ${p.width}x${p.height}`)
  }
}

/** The number of 8x8 windows FFmpeg averages over for a plane: ((w >> 2) - 1) * ((h >> 2) - 1). */
export function ssimWindowCount(width: number, height: number): number {
  return ((width >> 2) - 1) * ((height >> 2) - 1)
}

/**
 * FFmpeg's SSIM sums for one plane pair. Leaves in `scratch`:
 * - `windowSum`: the sum of all windows' SSIM (divide by `ssimWindowCount` for the plane's SSIM);
 * - `blockSse`: the sum of squared differences over the pixels inside whole 4x4 blocks
 *   (ss - 2·s12 per block, free here), which `sseRect` completes with the right and bottom edges.
 * Needs at least 8x8 pixels (one window); the caller checks.
 */
export function planeSsim(ref: Plane, dist: Plane, scratch: MetricsScratch): void {
  const ra = ref.data
  const da = dist.data
  const rs = ref.linesize
  const ds = dist.linesize
  const bw = ref.width >> 2
  const bh = ref.height >> 2
  const sums = scratch.blockSumsFor(bw)
  const rowLen = 4 * bw
  let windowSum = 0
  let sse = 0
  for (let by = 0; by < bh; by++) {
    // Block rows alternate between the two halves of `sums`.
    const cur = (by & 1) * rowLen
    const prev = rowLen - cur
    const rowR = 4 * by * rs
    const rowD = 4 * by * ds
    for (let i = 0; i < bw; i++) {
      let s1 = 0
      let s2 = 0
      let ss = 0
      let s12 = 0
      let ro = rowR + 4 * i
      let dof = rowD + 4 * i
      for (let k = 0; k < 4; k++) {
        const a0 = ra[ro]!, a1 = ra[ro + 1]!, a2 = ra[ro + 2]!, a3 = ra[ro + 3]!
        const b0 = da[dof]!, b1 = da[dof + 1]!, b2 = da[dof + 2]!, b3 = da[dof + 3]!
        s1 += a0 + a1 + a2 + a3
        s2 += b0 + b1 + b2 + b3
        ss += a0 * a0 + a1 * a1 + a2 * a2 + a3 * a3 + b0 * b0 + b1 * b1 + b2 * b2 + b3 * b3
        s12 += a0 * b0 + a1 * b1 + a2 * b2 + a3 * b3
        ro += rs
        dof += ds
      }
      sse += ss - 2 * s12
      const j = cur + 4 * i
      sums[j] = s1
      sums[j + 1] = s2
      sums[j + 2] = ss
      sums[j + 3] = s12
    }
    if (by === 0) continue

    // Windows of this block row: blocks (i, i+1) of this row and the row above. Vertical pairs
    // are summed once and carried to the next window. Per row in its own double, as FFmpeg's
    // ssim_endn does, then added to the plane's total.
    let j = cur
    let q = prev
    let p1 = sums[j]! + sums[q]!
    let p2 = sums[j + 1]! + sums[q + 1]!
    let pss = sums[j + 2]! + sums[q + 2]!
    let p12 = sums[j + 3]! + sums[q + 3]!
    let rowSum = 0
    for (let i = 1; i < bw; i++) {
      j += 4
      q += 4
      const v1 = sums[j]! + sums[q]!
      const v2 = sums[j + 1]! + sums[q + 1]!
      const vss = sums[j + 2]! + sums[q + 2]!
      const v12 = sums[j + 3]! + sums[q + 3]!
      const f1 = p1 + v1
      const f2 = p2 + v2
      const fss = pss + vss
      const f12 = p12 + v12
      // Integer part as FFmpeg's ssim_end1 (all below 2^31 for 8-bit, so exact in doubles too),
      // then its float part: each int converted to float, float products, float quotient.
      const vars = fss * 64 - f1 * f1 - f2 * f2
      const covar = f12 * 64 - f1 * f2
      const num = fround(fround(2 * f1 * f2 + SSIM_C1) * fround(2 * covar + SSIM_C2))
      const den = fround(fround(f1 * f1 + f2 * f2 + SSIM_C1) * fround(vars + SSIM_C2))
      rowSum += fround(num / den)
      p1 = v1
      p2 = v2
      pss = vss
      p12 = v12
    }
    windowSum += rowSum
  }
  scratch.windowSum = windowSum
  scratch.blockSse = sse
}
