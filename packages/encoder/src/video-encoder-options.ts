/**
 * The options mqa opens libx264 or libx265 with, as beamcoder's `encoder()` takes them. Pure: the
 * encoder (io/encode.ts) opens its video encoder from it, and the benchmark's beamcoder-only floor
 * (scripts/bench/beamcoder-floor.js) opens the same one.
 *
 * Closed GOPs, no scene-cut IDRs, and a keyint of 100 GOPs: the IDRs come only where the encoder
 * forces them (`pict_type` 'I' on the segment grid, with `forced-idr`), so two encoders fed the
 * same source cut at the same frames.
 */
import { VideoCodec } from '@mqa/common'

export interface VideoEncoderSpec {
  readonly codec: VideoCodec
  readonly width: number
  readonly height: number
  /** Frames per second as a fraction. */
  readonly rate: { readonly num: number; readonly den: number }
  readonly bitrateKbps: number
  readonly preset: string
  /** Frames per GOP on the segment grid. */
  readonly gopFrames: number
  readonly bframes: number
  /** Parameter sets in extradata only (MP4), not repeated in the stream. */
  readonly globalHeader: boolean
  /** The pixels' shape, num:den (the SPS's VUI and MP4's `pasp`); unset when the input's is unknown. */
  readonly sampleAspect?: readonly [number, number] | undefined
  /** What the samples mean (the VUI's colour description and range); the parts the input did not say are left out. */
  readonly colour?: ColourDescription | undefined
}

/** FFmpeg's names: range tv|pc, primaries and transfer e.g. bt709, matrix e.g. bt709 or bt470bg. */
export interface ColourDescription {
  readonly range?: string
  readonly primaries?: string
  readonly transfer?: string
  readonly matrix?: string
}

/**
 * The colour description of a frame as FFmpeg names it (beamcoder's frame fields), without the
 * parts it leaves unspecified, so an input that says BT.709 gives an output that says it too.
 */
export function colourDescription(frame: { color_range?: string | null; color_primaries?: string | null; color_trc?: string | null; colorspace?: string | null }): ColourDescription {
  const said = (v: string | null | undefined) => (v && !['unknown', 'unspecified', 'reserved', 'reserved0'].includes(v) ? v : undefined)
  const d = { range: said(frame.color_range), primaries: said(frame.color_primaries), transfer: said(frame.color_trc), matrix: said(frame.colorspace) }
  return Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined)) as ColourDescription
}

export function videoEncoderOptions(spec: VideoEncoderSpec): Record<string, unknown> {
  const keyint = spec.gopFrames * 100
  const common = {
    width: spec.width,
    height: spec.height,
    pix_fmt: 'yuv420p',
    time_base: [spec.rate.den, spec.rate.num],
    framerate: [spec.rate.num, spec.rate.den],
    bit_rate: spec.bitrateKbps * 1000,
    gop_size: keyint,
    max_b_frames: spec.bframes,
    flags: spec.globalHeader ? { GLOBAL_HEADER: true } : {},
    ...(spec.sampleAspect ? { sample_aspect_ratio: [...spec.sampleAspect] } : {}),
    ...colourFields(spec.colour, 'colorspace'),
  }
  if (spec.codec === VideoCodec.H264) {
    return { name: 'libx264', ...common, priv_data: { preset: spec.preset, 'forced-idr': 1, 'x264-params': `scenecut=0:open-gop=0:keyint=${keyint}:bframes=${spec.bframes}` } }
  }
  return {
    name: 'libx265',
    ...common,
    priv_data: { preset: spec.preset, 'forced-idr': 1, 'x265-params': `scenecut=0:open-gop=0:info=0:log-level=error:keyint=${keyint}:bframes=${spec.bframes}:repeat-headers=${spec.globalHeader ? 0 : 1}` },
  }
}

/**
 * The smallest picture side mqa encodes: SSIM needs at least one 8x8 window in every plane, and a
 * 4:2:0 chroma plane is half the picture's size.
 */
export const MIN_PICTURE_SIDE = 16

/**
 * The output's picture size when `--size` is not given: the first frame's, made fit to encode.
 * x264/x265 take only even sizes in 4:2:0, so an odd side loses its last column or row (a crop,
 * nothing is resampled); a side under `MIN_PICTURE_SIDE` is scaled up to it, so every frame can be
 * measured. `adjusted` says whether it differs from the input's.
 */
export function defaultPictureSize(width: number, height: number): { width: number; height: number; adjusted: boolean } {
  const fit = (side: number): number => Math.max(MIN_PICTURE_SIDE, side - (side % 2))
  const w = fit(width)
  const h = fit(height)
  return { width: w, height: h, adjusted: w !== width || h !== height }
}

/**
 * The filter that makes an input picture of `from` the output's `to` in yuv420p: a crop when only
 * an odd last column or row goes (the picture is not resampled), else FFmpeg's `scale`.
 */
export function pictureFitFilter(from: { width: number; height: number }, to: { width: number; height: number }): string {
  const dw = from.width - to.width
  const dh = from.height - to.height
  const fit = (dw === 0 || dw === 1) && (dh === 0 || dh === 1) ? `crop=${to.width}:${to.height}:0:0` : `scale=${to.width}:${to.height}`
  return `${fit},format=yuv420p`
}

/**
 * The output's pixel shape (sample aspect ratio), so the picture shows as the input's did: a
 * 720x576 16:9 PAL picture has 64:45 pixels, HDV's 1440x1080 4:3 ones. A crop of one column or row
 * keeps the pixels' shape; a scale keeps the picture's shape (its display aspect), as FFmpeg's
 * `crop` and `scale` filters do. `undefined` when the input does not say (0:1), as FFmpeg leaves it.
 */
export function outputSampleAspect(
  inputSar: readonly number[] | undefined,
  from: { width: number; height: number },
  to: { width: number; height: number },
): [number, number] | undefined {
  const [num = 0, den = 0] = inputSar ?? []
  if (!(num > 0 && den > 0)) return undefined
  const crop = pictureFitFilter(from, to).startsWith('crop=')
  return reduce(crop ? [num, den] : [num * from.width * to.height, den * from.height * to.width])
}

/**
 * num/den in lowest terms, or its nearest fraction with both terms at most 65535 (the VUI's 16-bit
 * fields) by continued fractions, as FFmpeg's av_reduce does for x264.
 */
function reduce([num, den]: [number, number]): [number, number] | undefined {
  const MAX = 65535
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b))
  const g = gcd(num, den)
  if (num / g <= MAX && den / g <= MAX) return [num / g, den / g]
  // Convergents h/k of num/den, the last whose terms fit.
  let [h0, h1, k0, k1] = [0, 1, 1, 0]
  let [a, b] = [num, den]
  while (b !== 0) {
    const q = Math.floor(a / b)
    const [h2, k2] = [q * h1 + h0, q * k1 + k0]
    if (h2 > MAX || k2 > MAX) break
    ;[h0, h1, k0, k1] = [h1, h2, k1, k2]
    ;[a, b] = [b, a - q * b]
  }
  // A shape beyond 65535:1 either way is not a picture's: left unset.
  return h1 === 0 || k1 === 0 ? undefined : [h1, k1]
}

/**
 * A colour description as the fields beamcoder takes: a codec context names the matrix
 * `colorspace`, a stream's codecpar `color_space`.
 */
export function colourFields(colour: ColourDescription | undefined, matrixField: 'colorspace' | 'color_space'): Record<string, string> {
  const c = colour ?? {}
  return {
    ...(c.range ? { color_range: c.range } : {}),
    ...(c.primaries ? { color_primaries: c.primaries } : {}),
    ...(c.transfer ? { color_trc: c.transfer } : {}),
    ...(c.matrix ? { [matrixField]: c.matrix } : {}),
  }
}
