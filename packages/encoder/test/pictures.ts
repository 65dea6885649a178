import type { Picture, Plane } from '../src/metrics/index.js'

/** Test pictures for the metric kernels (pure, deterministic), shared by the metrics tests. */

export type Chroma = '420' | '422' | '444'
/** Sample value of plane c at (x, y). */
export type Value = (c: number, x: number, y: number) => number

/** Deterministic pseudo-random bytes (xorshift32 of the position), so failures reproduce. */
export function noise(seed: number): Value {
  return (c, x, y) => {
    let s = (seed ^ (c * 0x9e3779b9) ^ (x * 0x85ebca6b) ^ (y * 0xc2b2ae35)) | 1
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) & 0xff
  }
}

/** Chroma plane size for a luma size, rounded up as FFmpeg's AV_CEIL_RSHIFT does. */
export function chromaSize(width: number, height: number, chroma: Chroma): [number, number] {
  if (chroma === '444') return [width, height]
  if (chroma === '422') return [(width + 1) >> 1, height]
  return [(width + 1) >> 1, (height + 1) >> 1]
}

/** One plane: `pad` junk bytes after each row and 64 after the last, which must never count. */
export function makePlane(width: number, height: number, value: (x: number, y: number) => number, pad = 0): Plane {
  const linesize = width + pad
  const data = new Uint8Array(linesize * height + 64).fill(0xa5)
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * linesize + x] = value(x, y)
  return { data, linesize, width, height }
}

/**
 * A picture whose sample (x, y) of plane c is value(c, x, y), each row followed by `pad` junk bytes
 * (the U plane by `pad + uExtraPad`, to give the planes different linesizes).
 */
export function makePicture(width: number, height: number, value: Value, chroma: Chroma = '420', pad = 0, uExtraPad = 0): Picture {
  const [cw, ch] = chromaSize(width, height, chroma)
  return {
    planes: [
      makePlane(width, height, (x, y) => value(0, x, y), pad),
      makePlane(cw, ch, (x, y) => value(1, x, y), pad + uExtraPad),
      makePlane(cw, ch, (x, y) => value(2, x, y), pad),
    ],
  }
}
