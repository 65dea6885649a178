/**
 * What the composite needs to know about the input, frame by frame (WIRE-FORMAT.md §2): errors
 * charged to the frame (transport and decode, and concealment until the next clean keyframe),
 * frames missing before it (PTS gaps), and whether it is frozen or black. Pure: the caller
 * passes a subsampled luma plane and the error counts it saw since the previous frame.
 */

export interface LumaPlane {
  readonly data: Uint8Array
  readonly linesize: number
  readonly width: number
  readonly height: number
}

/**
 * The sampling step for a picture size: every 4th sample each way, or sparser on larger pictures
 * so that about `budget` samples are read (720p: every 8th, 14 400 samples; 1080p: every 11th), which is
 * plenty for black and freeze and keeps their cost on the main thread the same at every size.
 */
export function lumaSampleStep(width: number, height: number, budget = 16_384): number {
  return Math.max(4, Math.round(Math.sqrt((width * height) / budget)))
}

/** Every `step`-th luma sample in both directions: enough for black/freeze, cheap on the main thread. */
export function sampleLuma(plane: LumaPlane, step = 4): Uint8Array {
  const w = Math.ceil(plane.width / step)
  const h = Math.ceil(plane.height / step)
  const out = new Uint8Array(w * h)
  const src = plane.data
  const { width, height, linesize } = plane
  let o = 0
  for (let y = 0; y < height; y += step) {
    const end = y * linesize + width
    for (let i = y * linesize; i < end; i += step) out[o++] = src[i]!
  }
  return out
}

export interface InputAnalysisOptions {
  /** Ticks per frame in the input's time base (timescale · den / num). */
  readonly frameDurationTicks: number
  /** A sample at or below this luma level counts as black (16 is video black; 32 allows noise). */
  readonly blackLumaMax?: number
  /** Fraction of samples that must be black for the frame to be black. */
  readonly blackRatio?: number
  /** Mean absolute luma difference to the previous frame at or below which the frame is frozen. */
  readonly freezeMaxMad?: number
  /** Gaps longer than this many frames are a discontinuity (a restart), not drops. */
  readonly maxDropFrames?: number
}

export interface FrameInput {
  readonly ptsTicks?: number | undefined
  readonly luma: Uint8Array
  /** The decoder output a keyframe (IDR/IRAP) for this frame. */
  readonly keyFrame: boolean
  /** Transport errors (continuity, TEI, sync) seen in the input since the previous frame. */
  readonly transportErrors: number
  /** Decode errors since the previous frame, and whether the decoder flagged this frame corrupt. */
  readonly decodeErrors: number
  readonly corrupt?: boolean
}

export interface FrameAnalysis {
  readonly errors: number
  readonly dropped: number
  readonly frozen: boolean
  readonly black: boolean
  /** Decoded from damaged input and not yet healed by a clean keyframe. */
  readonly concealed: boolean
}

export class InputAnalyzer {
  readonly #o: Required<InputAnalysisOptions>
  #prevLuma: Uint8Array | undefined
  #prevPts: number | undefined
  #damaged = false

  constructor(options: InputAnalysisOptions) {
    this.#o = { blackLumaMax: 32, blackRatio: 0.98, freezeMaxMad: 0.25, maxDropFrames: 300, ...options }
  }

  analyze(f: FrameInput): FrameAnalysis {
    const fresh = f.transportErrors + f.decodeErrors + (f.corrupt ? 1 : 0)
    if (fresh > 0) this.#damaged = true
    else if (f.keyFrame) this.#damaged = false
    const concealed = this.#damaged
    const errors = fresh > 0 ? fresh : concealed ? 1 : 0

    let dropped = 0
    if (f.ptsTicks !== undefined && this.#prevPts !== undefined) {
      const gap = Math.round((f.ptsTicks - this.#prevPts) / this.#o.frameDurationTicks) - 1
      if (gap > 0 && gap <= this.#o.maxDropFrames) dropped = gap
    }
    if (f.ptsTicks !== undefined) this.#prevPts = f.ptsTicks

    // One pass over the samples for both black and freeze, limits in locals (this runs on the
    // main thread for every frame).
    const luma = f.luma
    const n = luma.length
    const blackMax = this.#o.blackLumaMax
    const prev = this.#prevLuma
    let blackCount = 0
    let sad = 0
    if (prev && prev.length === n) {
      for (let i = 0; i < n; i++) {
        const v = luma[i]!
        if (v <= blackMax) blackCount++
        const d = v - prev[i]!
        sad += d < 0 ? -d : d
      }
    } else {
      for (let i = 0; i < n; i++) if (luma[i]! <= blackMax) blackCount++
    }
    const black = n > 0 && blackCount >= this.#o.blackRatio * n
    const frozen = prev !== undefined && prev.length === n && n > 0 && sad / n <= this.#o.freezeMaxMad
    this.#prevLuma = luma
    return { errors, dropped, frozen, black, concealed }
  }
}
