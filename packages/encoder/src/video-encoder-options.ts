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
