import {
  type AggregateScore,
  type FrameRate,
  type MqaRecord,
  type NalUnit,
  ScoreScope,
  VideoCodec,
  aggregateScores,
  isKeyframeNal,
  readMqaRecords,
  framesPerDay,
  splitAnnexB,
  timecodeToFrameIndex,
} from '@mqa/common'
import { type MediaSample } from './media.js'

/** One video access unit as the ingest hands it over (a video PES). */
export interface VideoAccessUnit {
  readonly ptsTicks: number
  readonly dtsTicks: number
  /** Annex B bytes of the access unit. */
  readonly data: Uint8Array
  /** Damaged in transport (continuity gap inside it). */
  readonly damaged: boolean
  /** Stream byte offset of its first TS packet: where a TS segment starting here is cut. */
  readonly tsOffset: number
}

export interface AudioFrame {
  readonly ptsTicks: number
  readonly durationTicks: number
  /** One raw AAC frame (ADTS header removed). */
  readonly data: Uint8Array
}

/** What the segmenter knows of a frame: its record (or none) and its index on the shared clock. */
/** Frames a decoder may reorder (H.264/H.265 allow at most 16 in the DPB). */
const MAX_REORDER_FRAMES = 16

export interface FrameEntry {
  readonly frameIndex: number
  readonly record: MqaRecord | undefined
  readonly sample: MediaSample
}

/** A closed segment, ready for the writers. */
export interface ClosedSegment {
  readonly number: number
  readonly firstFrameIndex: number
  readonly frames: readonly FrameEntry[]
  readonly audio: readonly MediaSample[]
  /** Sum of frame durations, in 90 kHz ticks. */
  readonly durationTicks: number
  readonly startPtsTicks: number
  readonly startDtsTicks: number
  /** Aggregate of the frame records (frames with no record count as unmeasured). */
  readonly aggregate: AggregateScore
  /** Something between the previous segment and this one is missing, or the input restarted. */
  readonly discontinuity: boolean
  /** Stream byte range of its TS packets, [tsStart, tsEnd). */
  readonly tsStart: number
  readonly tsEnd: number
  /** A first access unit's parameter sets, for the CMAF init segment. */
  readonly keyFrameNals: readonly NalUnit[]
}

export interface SegmenterStats {
  frames: number
  framesWithoutRecord: number
  framesWithoutTimecode: number
  /** Frames dropped because they could not start a segment (before the first boundary IDR, or after a lost boundary). */
  framesDropped: number
  seiErrors: number
  segments: number
  discontinuities: number
  /** Times the timecode wrapped at midnight (the day went on: numbers continue, see segmentsPerDay). */
  midnightWraps: number
  /** Times the timecode went back for another reason (an encoder or source restart): a new epoch. */
  restarts: number
}

/** One restart of the input's timecode (a new epoch), for the service to log. */
export interface TimecodeRestart {
  /** Time-of-day frame index of the highest frame before it, and of the frame that went back. */
  readonly fromFrameIndex: number
  readonly toFrameIndex: number
  /** Whether that frame's index came from its `tc` (else its PTS, counted on from the last `tc`). */
  readonly fromTimecode: boolean
  /** k after it: numbers now go on from floor(F / D) + k·S. */
  readonly epoch: number
}

export interface SegmenterOptions {
  readonly codec: VideoCodec
  readonly rate: FrameRate
  /** D: frames per segment on the shared grid. */
  readonly segmentFrames: number
  /**
   * The last segment number already published (a packager restarted with --out-dir): new numbers
   * must come after it, so a timecode that is not past it starts the next epoch.
   */
  readonly resumeAfter?: number | undefined
}

/**
 * S: segment numbers per timecode day, ceil(24 h of nominal frames / D). A timecode is a time of
 * day, so the grid number floor(F / D) starts again at 0 every midnight; the packager numbers
 * segment `floor(F / D) + k·S`, k counting the epochs (midnight wraps and restarts) it has seen,
 * so numbers keep increasing and `n mod S` is still the day's grid number (docs/wire-format.md).
 */
export function segmentsPerDay(rate: FrameRate, segmentFrames: number): number {
  return Math.ceil(framesPerDay(rate, false) / segmentFrames)
}

/**
 * Cuts segments on the timecode grid (WIRE-FORMAT.md §4): segment n starts at the IDR whose frame
 * index (from the `tc` in its MQA SEI) is n·D. A segment only ever starts on an IDR inside its own
 * grid slot, so its number is always right: frames that cannot start one (before the first
 * boundary, or after a boundary whose IDR was lost) are dropped and the next segment is marked
 * discontinuous. Pure: the ingest pushes access units and audio frames, closed segments come out.
 */
export class Segmenter {
  readonly stats: SegmenterStats = { frames: 0, framesWithoutRecord: 0, framesWithoutTimecode: 0, framesDropped: 0, seiErrors: 0, segments: 0, discontinuities: 0, midnightWraps: 0, restarts: 0 }
  readonly #o: SegmenterOptions
  #current:
    | {
        number: number
        frames: FrameEntry[]
        firstFrameIndex: number
        tsStart: number
        keyFrameNals: NalUnit[]
        discontinuity: boolean
      }
    | undefined
  #lastFrameIndex: number | undefined
  /**
   * The highest position before the last jump forward, and the frames since it: frames decoded
   * after a jump (B-frames) may belong before it, which is reordering, not the timecode going back.
   */
  #beforeJump: number | undefined
  #sinceJump = 0
  #lastClosedNumber: number | undefined
  #pendingDiscontinuity = false
  #audio: MediaSample[] = []
  /** Offset to turn a PTS-derived index into a timecode-derived one, when a frame has no tc. */
  #ptsOffset: number | undefined
  readonly #frameTicks: number
  /** k: epochs seen (midnight wraps and restarts); positions are F + k·S·D. */
  #epoch = 0
  /** S·D: frames one epoch moves positions on. */
  readonly #epochFrames: number
  readonly #halfDayFrames: number
  /** The first segment after a resume continues a published window. */
  readonly #resumed: boolean
  /** Restarts not yet taken (`takeRestarts`), at most 100. */
  #restartLog: TimecodeRestart[] = []

  constructor(options: SegmenterOptions) {
    this.#o = options
    this.#frameTicks = Math.round((90000 * options.rate.den) / options.rate.num)
    const S = segmentsPerDay(options.rate, options.segmentFrames)
    this.#epochFrames = S * options.segmentFrames
    this.#halfDayFrames = framesPerDay(options.rate, false) / 2
    this.#resumed = options.resumeAfter !== undefined
    if (options.resumeAfter !== undefined) {
      this.#epoch = Math.floor(options.resumeAfter / S)
      this.#lastClosedNumber = options.resumeAfter
    }
  }

  /** k: the epochs seen so far (midnight wraps and restarts). */
  get epoch(): number {
    return this.#epoch
  }

  /** The restarts of the input's timecode since the last call (numbers jumped by S at each). */
  takeRestarts(): TimecodeRestart[] {
    return this.#restartLog.splice(0)
  }

  /** The segment being built (low-latency serving), as number and frames so far. */
  get open(): { number: number; frames: readonly FrameEntry[]; tsStart: number } | undefined {
    return this.#current ? { number: this.#current.number, frames: this.#current.frames, tsStart: this.#current.tsStart } : undefined
  }

  pushAudio(frame: AudioFrame): void {
    this.#audio.push({ dtsTicks: frame.ptsTicks, ptsTicks: frame.ptsTicks, durationTicks: frame.durationTicks, data: frame.data, keyFrame: true })
    if (this.#audio.length > 2000) this.#audio.shift() // bounded when video stalls
  }

  pushVideo(au: VideoAccessUnit): ClosedSegment[] {
    const out: ClosedSegment[] = []
    const codec = this.#o.codec
    let nals: NalUnit[]
    try {
      nals = splitAnnexB(au.data, codec)
    } catch {
      nals = []
    }
    const found = readMqaRecords(codec, nals)
    this.stats.seiErrors += found.errors.length
    const record = found.records.find((r) => r.scope === ScoreScope.FRAME)
    this.stats.frames++
    if (!record) this.stats.framesWithoutRecord++
    const ptsIndex = Math.round((au.ptsTicks * this.#o.rate.num) / (90000 * this.#o.rate.den))
    let frameIndex: number
    const tcIndex = record?.timecode !== undefined ? safeTimecode(record.timecode, this.#o.rate) : undefined
    if (tcIndex !== undefined) {
      frameIndex = tcIndex
      this.#ptsOffset = tcIndex - ptsIndex
    } else {
      this.stats.framesWithoutTimecode++
      frameIndex = ptsIndex + (this.#ptsOffset ?? 0)
    }
    const keyFrame = nals.some((n) => isKeyframeNal(codec, n.type))
    const D = this.#o.segmentFrames
    const dayIndex = frameIndex
    // Positions, not time-of-day indices, are compared and numbered: F + k·S·D keeps increasing
    // across midnight and restarts (see segmentsPerDay).
    let pos = dayIndex + this.#epoch * this.#epochFrames
    // Decode order is not presentation order (B-frames): compare with the highest index seen, and
    // only a jump forward past a segment or backward past any reorder depth is a discontinuity.
    // After a gap in the input (frames missing upstream) the frame decoded first can be the one
    // after the gap, and the B-frames decoded next the ones before it: they are reordering as long
    // as they are not below what came before the gap, and come within the reorder depth.
    const last = this.#lastFrameIndex
    const reorderFrom = last !== undefined && this.#beforeJump !== undefined && this.#sinceJump < MAX_REORDER_FRAMES ? Math.min(last, this.#beforeJump) : last
    const floor = this.#lastFrameIndex === undefined && this.#lastClosedNumber !== undefined ? (this.#lastClosedNumber + 1) * D : undefined
    const wentBack = (reorderFrom !== undefined && pos < reorderFrom - MAX_REORDER_FRAMES) || (floor !== undefined && pos < floor - MAX_REORDER_FRAMES)
    if (wentBack) {
      // The timecode went back. From late in the day to early in it is midnight: the day goes on.
      // Anything else (an encoder or source restart) is a new epoch too, with a discontinuity:
      // numbers stay on the day's grid (n mod S) and never repeat one already published.
      const reference = last ?? floor!
      const wrap = reference - pos > this.#halfDayFrames
      this.#epoch++
      pos += this.#epochFrames
      if (wrap) this.stats.midnightWraps++
      else {
        this.stats.restarts++
        this.#pendingDiscontinuity = true
        const fromFrameIndex = reference - (this.#epoch - 1) * this.#epochFrames
        if (this.#restartLog.length < 100) this.#restartLog.push({ fromFrameIndex, toFrameIndex: dayIndex, fromTimecode: tcIndex !== undefined, epoch: this.#epoch })
      }
    }
    frameIndex = pos
    const n = Math.floor(frameIndex / D)
    if (last !== undefined && (frameIndex > last + D || frameIndex < reorderFrom! - MAX_REORDER_FRAMES)) this.#pendingDiscontinuity = true
    // A new epoch is not a jump forward to reorder across: positions before it are a day lower.
    if (wentBack) this.#beforeJump = undefined
    else if (last !== undefined && frameIndex > last + 1) {
      this.#beforeJump = last
      this.#sinceJump = 0
    } else this.#sinceJump++
    if (last === undefined || frameIndex > last || this.#pendingDiscontinuity) this.#lastFrameIndex = frameIndex
    const sample: MediaSample = { dtsTicks: au.dtsTicks, ptsTicks: au.ptsTicks, durationTicks: this.#frameTicks, data: au.data, keyFrame }
    const entry: FrameEntry = { frameIndex: dayIndex, record, sample }

    const cur = this.#current
    if (cur && n === cur.number && !this.#pendingDiscontinuity) {
      cur.frames.push(entry)
      return out
    }
    // A new grid slot (or a jump): close what is open, then start here only on an IDR.
    if (cur) {
      out.push(this.#close(au.tsOffset, cur.number === n ? undefined : au.ptsTicks))
    }
    if (keyFrame) {
      const late = frameIndex % D !== 0
      const discontinuity = this.#pendingDiscontinuity || late || (this.#lastClosedNumber !== undefined && n !== this.#lastClosedNumber + 1)
      if (discontinuity) this.stats.discontinuities++
      this.#pendingDiscontinuity = false
      this.#current = { number: n, frames: [entry], firstFrameIndex: dayIndex, tsStart: au.tsOffset, keyFrameNals: nals, discontinuity: discontinuity && (this.stats.segments > 0 || this.#resumed) }
    } else {
      this.stats.framesDropped++
      if (this.#lastClosedNumber !== undefined) this.#pendingDiscontinuity = true
    }
    return out
  }

  /** End of input: close the open segment. */
  flush(tsEnd: number): ClosedSegment[] {
    return this.#current ? [this.#close(tsEnd, undefined)] : []
  }

  #close(tsEnd: number, nextStartPts: number | undefined): ClosedSegment {
    const cur = this.#current!
    this.#current = undefined
    this.#lastClosedNumber = cur.number
    this.stats.segments++
    const frames = cur.frames
    const startPts = Math.min(...frames.map((f) => f.sample.ptsTicks))
    const startDts = frames[0]!.sample.dtsTicks
    const durationTicks = frames.length * this.#frameTicks
    const endPts = nextStartPts ?? startPts + durationTicks
    const audio = this.#audio.filter((a) => a.ptsTicks < endPts)
    this.#audio = this.#audio.filter((a) => a.ptsTicks >= endPts)
    return {
      number: cur.number,
      firstFrameIndex: cur.firstFrameIndex,
      frames,
      audio,
      durationTicks,
      startPtsTicks: startPts,
      startDtsTicks: startDts,
      aggregate: aggregateScores(frames.map((f) => f.record ?? { unmeasured: true })),
      discontinuity: cur.discontinuity,
      tsStart: cur.tsStart,
      tsEnd,
      keyFrameNals: cur.keyFrameNals,
    }
  }
}

function safeTimecode(tc: string, rate: FrameRate): number | undefined {
  try {
    return timecodeToFrameIndex(tc, rate)
  } catch {
    return undefined
  }
}
