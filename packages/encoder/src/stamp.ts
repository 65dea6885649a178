import {
  DEFAULT_MQA_VIDEO_WEIGHTS,
  MQA_SEI_UUID,
  MqaError,
  SEI_USER_DATA_UNREGISTERED,
  ScoreScope,
  aggregateScores,
  buildA53CaptionSei,
  buildMqaSeiNal,
  buildSeiNal,
  bytesEqual,
  isSeiNal,
  joinAnnexB,
  mqaVideo,
  nalType,
  parseSeiNal,
  seiInsertIndex,
  splitAnnexB,
  type MqaRecordInput,
  type MqaVideoWeights,
  type VideoCodec,
} from '@mqa/common'
import { type FrameAnalysis } from './input-analysis.js'

/** What the encoder knows of a frame before it is measured. */
export interface FrameMeta {
  /** Frame number in the encoder's output, from 0. */
  readonly fn: number
  readonly frameIndex: number
  readonly timecode: string
  readonly analysis: FrameAnalysis
  /** MQA-AUDIO of the audio spanning the frame, when there is audio. */
  readonly audio?: number | undefined
  /** The source frame's closed captions (A/53 cc_data), kept for an encoder that does not write them (libx265). */
  readonly captions?: Uint8Array | undefined
}

export interface FidelityScores {
  readonly psnrDb: number
  readonly psnrYDb: number
  readonly ssim: number
  readonly ssimY: number
  /** The chroma planes' own scores (the SEI carries Y and the mean; `--report` carries these too). */
  readonly psnrUDb?: number | undefined
  readonly psnrVDb?: number | undefined
  readonly ssimU?: number | undefined
  readonly ssimV?: number | undefined
}

/** PSNR capped as the wire format says (identical pictures give Infinity). */
export const PSNR_CAP_DB = 100

/** The SEI record of one frame: its scores, or `um` when it could not be measured in time. */
export function frameRecord(meta: FrameMeta, scores: FidelityScores | undefined, weights: MqaVideoWeights = DEFAULT_MQA_VIDEO_WEIGHTS): MqaRecordInput {
  const a = meta.analysis
  const base = {
    frameNumber: meta.fn,
    timecode: meta.timecode,
    errors: a.errors,
    dropped: a.dropped,
    frozen: a.frozen,
    black: a.black,
    ...(meta.audio !== undefined ? { audio: meta.audio } : {}),
  }
  if (!scores) return { ...base, unmeasured: true }
  const psnrDb = Math.min(scores.psnrDb, PSNR_CAP_DB)
  return {
    ...base,
    psnrDb,
    psnrYDb: Math.min(scores.psnrYDb, PSNR_CAP_DB),
    ssim: scores.ssim,
    ssimY: scores.ssimY,
    mqa: mqaVideo({ psnrDb, ssim: scores.ssim, errors: a.errors, dropped: a.dropped, frozen: a.frozen, black: a.black }, weights),
  }
}

/** Collects a GOP's frame records (in output order) and gives the `s=g` summary at the next IDR. */
export class GopSummarizer {
  #records: MqaRecordInput[] = []

  add(record: MqaRecordInput): void {
    this.#records.push(record)
  }

  /** The summary of the GOP collected so far, and a fresh start; undefined when empty. */
  take(): MqaRecordInput | undefined {
    if (this.#records.length === 0) return undefined
    const agg = aggregateScores(this.#records)
    this.#records = []
    return {
      scope: ScoreScope.GOP,
      frames: agg.frames,
      ...(agg.psnrDb !== undefined ? { psnrDb: agg.psnrDb } : {}),
      ...(agg.ssim !== undefined ? { ssim: agg.ssim } : {}),
      ...(agg.mqa !== undefined ? { mqa: Math.round(agg.mqa) } : {}),
      ...(agg.audio !== undefined ? { audio: Math.round(agg.audio) } : {}),
      errors: agg.errors,
      dropped: agg.dropped,
    }
  }
}

export interface StampOptions {
  /** Keep user-data SEI that is not ours (stale upstream scores, encoder info). Default: strip it. */
  readonly keepForeignSei?: boolean
  /**
   * The frame's closed captions (A/53 cc_data triples, FFmpeg's A53_CC side data), written as an
   * SEI of their own after ours: for H.265, whose FFmpeg 5.1 encoder wrapper drops them (libx264's
   * writes them itself).
   */
  readonly captions?: Uint8Array | undefined
}

/**
 * Write our records (GOP summary first, then the frame's) into an Annex B access unit, right before
 * its first slice. Other user_data_unregistered messages are removed unless kept; other SEI
 * messages stay. An SEI NAL that does not parse is left as it was.
 */
export function stampAccessUnit(codec: VideoCodec, au: Uint8Array, records: readonly MqaRecordInput[], options: StampOptions = {}): Uint8Array {
  const nals = splitAnnexB(au, codec)
  const kept: Uint8Array[] = []
  for (const nal of nals) {
    if (!options.keepForeignSei && isSeiNal(codec, nal.type)) {
      const stripped = stripForeignUserData(codec, nal.data)
      if (stripped) kept.push(stripped)
      continue
    }
    kept.push(nal.data)
  }
  const at = seiInsertIndex(codec, kept.map((data, i) => ({ type: nalType(codec, data[0]!), data, offset: i, start: i })))
  const ours = records.map((r) => buildMqaSeiNal(codec, r))
  if (options.captions && options.captions.length > 0) ours.push(buildSeiNal(codec, buildA53CaptionSei(options.captions)))
  return joinAnnexB([...kept.slice(0, at), ...ours, ...kept.slice(at)])
}

/** The SEI NAL without foreign user-data messages; undefined when nothing is left. */
function stripForeignUserData(codec: VideoCodec, nal: Uint8Array): Uint8Array | undefined {
  let messages
  try {
    messages = parseSeiNal(codec, nal)
  } catch (err) {
    if (err instanceof MqaError) return nal
    throw err
  }
  const keep = messages.filter((m) => m.payloadType !== SEI_USER_DATA_UNREGISTERED || bytesEqual(m.payload, 0, MQA_SEI_UUID))
  if (keep.length === messages.length) return nal
  if (keep.length === 0) return undefined
  // Rebuild with the same NAL header (H.265 prefix and suffix SEI keep their type).
  const rebuilt = buildSeiNal(codec, keep)
  rebuilt.set(nal.subarray(0, codec === 'h264' ? 1 : 2), 0)
  return rebuilt
}
