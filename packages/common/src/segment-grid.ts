import { ErrorCode, MqaError } from './errors.js'
import { type FrameRate } from './timecode.js'

/**
 * The shared segment grid (WIRE-FORMAT.md §4): frame F on the shared clock belongs to segment
 * floor(F / D); IDRs sit where F is a multiple of the GOP length G. D is a multiple of G, so
 * every segment starts on an IDR, and two encoders of one source cut at the same frames.
 */
export interface SegmentGrid {
  /** G: frames per GOP. */
  readonly gopFrames: number
  /** D: frames per segment. */
  readonly segmentFrames: number
  readonly rate: FrameRate
}

/** Whole frames in `seconds` at `rate`; throws when that is not a whole number of frames. */
export function framesIn(seconds: number, rate: FrameRate): number {
  const exact = (seconds * rate.num) / rate.den
  const frames = Math.round(exact)
  if (frames < 1 || Math.abs(exact - frames) > 1e-6 * Math.max(1, exact)) {
    // 29.97 fps: 2 s is 59.94 frames; the grid counts whole frames, as timecode does.
    const nominal = Math.round((seconds * Math.round(rate.num / rate.den)))
    if (nominal >= 1 && rate.den === 1001) return nominal
    throw new MqaError(ErrorCode.VALUE_RANGE, `${seconds} s at ${rate.num}/${rate.den} fps is not a whole number of frames`)
  }
  return frames
}

export function segmentGrid(options: { rate: FrameRate; gopSeconds: number; segmentSeconds: number }): SegmentGrid {
  const gopFrames = framesIn(options.gopSeconds, options.rate)
  const segmentFrames = framesIn(options.segmentSeconds, options.rate)
  if (segmentFrames % gopFrames !== 0) {
    throw new MqaError(
      ErrorCode.VALUE_RANGE,
      `segment length ${options.segmentSeconds} s (${segmentFrames} frames) is not a whole number of GOPs of ${options.gopSeconds} s (${gopFrames} frames)`,
    )
  }
  return { gopFrames, segmentFrames, rate: options.rate }
}

export function segmentNumberOf(frameIndex: number, grid: SegmentGrid): number {
  return Math.floor(frameIndex / grid.segmentFrames)
}

export function segmentStartFrame(segmentNumber: number, grid: SegmentGrid): number {
  return segmentNumber * grid.segmentFrames
}

/** Whether frame F must be coded as an IDR: it starts a GOP on the grid. */
export function isGridIdr(frameIndex: number, grid: SegmentGrid): boolean {
  return frameIndex % grid.gopFrames === 0
}

export function isSegmentStart(frameIndex: number, grid: SegmentGrid): boolean {
  return frameIndex % grid.segmentFrames === 0
}

/** Frame index from a presentation timestamp in integer ticks of `timescale` per second. */
export function frameIndexFromPts(ptsTicks: number, timescale: number, rate: FrameRate): number {
  return Math.round((ptsTicks * rate.num) / (timescale * rate.den))
}

/** Segment duration in milliseconds (for CMSD `d`) of `frames` frames. */
export function durationMsOf(frames: number, rate: FrameRate): number {
  return Math.round((frames * 1000 * rate.den) / rate.num)
}
