import { type FrameRate, frameIndexFromPts, framesPerDay, nominalFps, parseTimecode, supportsDropFrame, type Timecode, timecodeToFrameIndex } from '@mqa/common'

/** Where a frame's index on the shared clock comes from (`--timecode`). */
export const TimecodeMode = { INPUT: 'input', PTS: 'pts', WALLCLOCK: 'wallclock' } as const
export type TimecodeMode = (typeof TimecodeMode)[keyof typeof TimecodeMode]

export const ClockSource = { TIMECODE: 'tc', SMPTE: 'smpte', PTS: 'pts', WALLCLOCK: 'wallclock' } as const
export type ClockSource = (typeof ClockSource)[keyof typeof ClockSource]

export interface ClockInput {
  /** Our SEI `tc` of the input frame, when there is one. */
  readonly timecode?: string | undefined
  /**
   * The frame's own SMPTE timecode, when the decoder found one (FFmpeg's S12M side data, from
   * H.264 pic_timing or H.265 time_code SEI).
   */
  readonly smpte?: Timecode | undefined
  readonly ptsTicks?: number | undefined
  readonly timescale: number
  /** Wall-clock time the frame arrived, ms since the epoch (injected for tests). */
  readonly nowMs: number
}

export interface ClockReading {
  readonly frameIndex: number
  /**
   * The frame's place in the output: F plus a shift that only changes when the input's timecode
   * restarts (goes back more than a second, not through midnight), so the output's timestamps
   * count on where F went back. Without a restart it is F.
   */
  readonly outputIndex: number
  /** This frame's timecode went back more than a second: the input restarted; the output counts on. */
  readonly restart: boolean
  /**
   * The output index did not move past the highest one given before (a repeated timecode, one
   * less than a second back, a PTS a few frames back): the caller drops the frame.
   */
  readonly backwards: boolean
  readonly source: ClockSource
  /** The index jumped (not previous + 1): a source restart, a gap or a change of clock source. */
  readonly discontinuity: boolean
  /**
   * How F is labelled as timecode: as the input's timecode was (the last one the count was
   * anchored on: an input at 29.97 with non-drop-frame timecode keeps it), else drop-frame at
   * 29.97 and 59.94.
   */
  readonly dropFrame: boolean
}

/**
 * A SMPTE start timecode of the input (the `timecode` tag FFmpeg gives a stream or container:
 * an MP4/MOV `tmcd` track, MXF, ...): the timecode of the frame whose PTS is `ptsTicks` (the
 * stream's start time), or of the first frame when that is not known; later frames count on.
 */
export interface SmpteStart {
  readonly timecode: string
  readonly ptsTicks?: number | undefined
}

/**
 * Assigns every input frame its index F on the shared clock (DESIGN.md "Timing and alignment"):
 * from the input's timecode (our SEI `tc`), else the frame's own SMPTE timecode (S12M side data),
 * else the input's SMPTE start timecode counted on by PTS, else its PTS, else the wall clock.
 * F = PTS index + offset, where the offset is set by the SMPTE start timecode and re-anchored by
 * every valid SEI or per-frame SMPTE timecode (mode `input`), so when the timecode goes away the
 * count carries on from it instead of jumping. F never goes back at midnight: a timecode that wraps
 * to 00:00:00:00 counts on past the day (F mod frames-per-day is the time of day again). A PTS
 * that jumps back by more than a second (the source restarted with new timestamps) re-anchors the
 * count on the last frame, so the frames are not dropped as going backwards. Mode `wallclock`
 * anchors the offset once, on the first frame, to the time of day. F is labelled as the input's
 * timecode was (non-drop-frame at 29.97 stays non-drop-frame, counted as its labels count),
 * else drop-frame at 29.97 and 59.94. A timecode that goes back more than a second other than
 * through midnight (the source upstream restarted) is followed: F is its index, as the SEI and the
 * segment grid must say, and the output index counts on from the last one instead, so the
 * output's timestamps never go back; a smaller step back (a repeated or stray timecode) is left to
 * the caller, which drops the frame.
 */
export class FrameClock {
  readonly #mode: TimecodeMode
  readonly #rate: FrameRate
  #offset: number | undefined
  #lastIndex: number | undefined
  /** Frame index of the SMPTE start timecode, until the offset is anchored on it. */
  #smpteIndex: number | undefined
  readonly #smptePtsTicks: number | undefined
  /** The offset came from the SMPTE start timecode (not yet from an SEI `tc`). */
  #smpteAnchored = false
  /** Midnights the input's timecode has wrapped through: days added to its index. */
  #days = 0
  /** Drop-frame labelling: the input timecode's, once there is one. */
  #dropFrame: boolean
  /** Output index minus F: grows at each restart of the input's timecode. */
  #outputShift = 0
  /** The highest output index given so far. */
  #lastOutput: number | undefined

  constructor(mode: TimecodeMode, rate: FrameRate, options: { smpteStart?: SmpteStart | undefined } = {}) {
    this.#mode = mode
    this.#rate = rate
    this.#dropFrame = supportsDropFrame(rate)
    if (mode === TimecodeMode.INPUT && options.smpteStart) {
      this.#smpteIndex = validTimecode(options.smpteStart.timecode, rate)
      this.#smptePtsTicks = options.smpteStart.ptsTicks
      if (this.#smpteIndex !== undefined) this.#dropFrame = parseTimecode(options.smpteStart.timecode).dropFrame
    }
  }

  next(input: ClockInput): ClockReading {
    const ptsIndex = input.ptsTicks === undefined ? undefined : frameIndexFromPts(input.ptsTicks, input.timescale, this.#rate)
    const fromInput = this.#mode === TimecodeMode.INPUT
    const tc = fromInput && input.timecode !== undefined ? this.#unwrap(input.timecode) : undefined
    const smpte = fromInput && tc === undefined && input.smpte !== undefined ? this.#unwrap(input.smpte) : undefined
    const tcIndex = tc?.index
    const smpteIndex = smpte?.index
    const anchor = tc ?? smpte
    if (anchor) this.#dropFrame = anchor.dropFrame
    let frameIndex: number
    let source: ClockSource
    if (tcIndex !== undefined) {
      frameIndex = tcIndex
      source = ClockSource.TIMECODE
      if (ptsIndex !== undefined) this.#offset = tcIndex - ptsIndex
      this.#smpteIndex = undefined // our SEI wins from here on
      this.#smpteAnchored = false
    } else if (smpteIndex !== undefined) {
      frameIndex = smpteIndex
      source = ClockSource.SMPTE
      if (ptsIndex !== undefined) this.#offset = smpteIndex - ptsIndex
      this.#smpteIndex = undefined // the frames' own timecode wins over the start tag
      this.#smpteAnchored = true
    } else if (this.#mode !== TimecodeMode.WALLCLOCK && ptsIndex !== undefined) {
      if (this.#smpteIndex !== undefined && this.#offset === undefined) {
        const anchorIndex = this.#smptePtsTicks === undefined ? ptsIndex : frameIndexFromPts(this.#smptePtsTicks, input.timescale, this.#rate)
        this.#offset = this.#smpteIndex - anchorIndex
        this.#smpteAnchored = true
      }
      frameIndex = ptsIndex + (this.#offset ?? 0)
      if (this.#lastIndex !== undefined && frameIndex < this.#lastIndex - nominalFps(this.#rate)) {
        this.#offset = this.#lastIndex + 1 - ptsIndex
        frameIndex = this.#lastIndex + 1
      }
      source = this.#smpteAnchored ? ClockSource.SMPTE : ClockSource.PTS
    } else {
      source = ClockSource.WALLCLOCK
      if (ptsIndex === undefined) {
        frameIndex = this.#lastIndex === undefined ? this.#wallIndex(input.nowMs) : this.#lastIndex + 1
      } else {
        if (this.#offset === undefined) this.#offset = this.#wallIndex(input.nowMs) - ptsIndex
        frameIndex = ptsIndex + this.#offset
      }
    }
    if (frameIndex < 0) frameIndex = 0
    const discontinuity = this.#lastIndex !== undefined && frameIndex !== this.#lastIndex + 1
    this.#lastIndex = frameIndex
    let outputIndex = frameIndex + this.#outputShift
    const restart = this.#lastOutput !== undefined && outputIndex < this.#lastOutput - nominalFps(this.#rate)
    if (restart) {
      this.#outputShift = this.#lastOutput! + 1 - frameIndex
      outputIndex = this.#lastOutput! + 1
    }
    const backwards = this.#lastOutput !== undefined && outputIndex <= this.#lastOutput
    if (!backwards) this.#lastOutput = outputIndex
    return { frameIndex, outputIndex, restart, backwards, source, discontinuity, dropFrame: this.#dropFrame }
  }

  /** Index of a timecode, with the days it has wrapped through added; undefined if invalid. */
  #unwrap(tc: string | Timecode): { index: number; dropFrame: boolean } | undefined {
    let t: Timecode
    try {
      t = typeof tc === 'string' ? parseTimecode(tc) : tc
    } catch {
      return undefined // a bad timecode falls back to the next clock source
    }
    const index = validTimecode(t, this.#rate)
    if (index === undefined) return undefined
    const day = framesPerDay(this.#rate, t.dropFrame)
    let f = index + this.#days * day
    if (this.#lastIndex !== undefined && f < this.#lastIndex - day / 2) {
      this.#days += Math.round((this.#lastIndex - f) / day)
      f = index + this.#days * day
    }
    return { index: f, dropFrame: t.dropFrame }
  }

  #wallIndex(nowMs: number): number {
    const msOfDay = nowMs % 86_400_000
    return Math.round((msOfDay * this.#rate.num) / (1000 * this.#rate.den))
  }
}

function validTimecode(tc: string | Timecode, rate: FrameRate): number | undefined {
  try {
    return timecodeToFrameIndex(tc, rate)
  } catch {
    return undefined // a bad timecode falls back to the next clock source
  }
}
