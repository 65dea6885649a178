import { ErrorCode, MqaError } from './errors.js'

/**
 * Weights of the per-frame MQA-VIDEO composite (WIRE-FORMAT.md §2). Every one can be overridden;
 * docs/wire-format.md explains each. With the defaults, PSNR 47 dB, SSIM 1.0 and 8 errors give 57.
 */
export interface MqaVideoWeights {
  /** Weight of normalised PSNR P = clamp(psnr·100/psnrFullScaleDb, 0, 100). */
  readonly psnr: number
  /** Weight of normalised SSIM S = clamp(ssim·100, 0, 100). */
  readonly ssim: number
  /** PSNR in dB that counts as 100. */
  readonly psnrFullScaleDb: number
  /** Points off per input error charged to the frame, and the most that can take off. */
  readonly perError: number
  readonly maxErrorPenalty: number
  /** Points off per input frame missing just before this one, and the most. */
  readonly perDropped: number
  readonly maxDroppedPenalty: number
  /** Points off when the source frame repeats the previous one. */
  readonly frozen: number
  /** Points off when the source frame is black. */
  readonly black: number
}

export const DEFAULT_MQA_VIDEO_WEIGHTS: MqaVideoWeights = Object.freeze({
  psnr: 0.5,
  ssim: 0.5,
  psnrFullScaleDb: 60,
  perError: 4,
  maxErrorPenalty: 60,
  perDropped: 10,
  maxDroppedPenalty: 40,
  frozen: 30,
  black: 40,
})

/** What the composite needs of one frame. */
export interface FrameMeasurement {
  readonly psnrDb: number
  readonly ssim: number
  readonly errors?: number
  readonly dropped?: number
  readonly frozen?: boolean
  readonly black?: boolean
}

export function clamp(value: number, lo: number, hi: number): number {
  return value < lo ? lo : value > hi ? hi : value
}

/** P: PSNR normalised to 0..100. */
export function normalisePsnr(psnrDb: number, weights: MqaVideoWeights = DEFAULT_MQA_VIDEO_WEIGHTS): number {
  return clamp((psnrDb * 100) / weights.psnrFullScaleDb, 0, 100)
}

/** S: SSIM normalised to 0..100. */
export function normaliseSsim(ssim: number): number {
  return clamp(ssim * 100, 0, 100)
}

/** MQA-VIDEO of one frame, an integer 0..100. */
export function mqaVideo(frame: FrameMeasurement, weights: MqaVideoWeights = DEFAULT_MQA_VIDEO_WEIGHTS): number {
  if (!Number.isFinite(frame.psnrDb) || !Number.isFinite(frame.ssim)) {
    throw new MqaError(ErrorCode.VALUE_RANGE, `MQA-VIDEO needs finite PSNR and SSIM, got ${frame.psnrDb} dB and ${frame.ssim}`)
  }
  const fidelity = weights.psnr * normalisePsnr(frame.psnrDb, weights) + weights.ssim * normaliseSsim(frame.ssim)
  const penalty =
    Math.min(weights.maxErrorPenalty, weights.perError * (frame.errors ?? 0)) +
    Math.min(weights.maxDroppedPenalty, weights.perDropped * (frame.dropped ?? 0)) +
    (frame.frozen ? weights.frozen : 0) +
    (frame.black ? weights.black : 0)
  return Math.round(clamp(fidelity - penalty, 0, 100))
}

/**
 * MQA-AUDIO weights. The score is 100 less: a penalty per percent of clipped samples (capped),
 * a fixed penalty for silence where sound was expected, and a penalty per LU that the integrated
 * loudness lies outside target ± tolerance (capped).
 */
export interface MqaAudioWeights {
  readonly targetLufs: number
  readonly toleranceLu: number
  readonly perLuOutside: number
  readonly maxLoudnessPenalty: number
  readonly perClippedPercent: number
  readonly maxClippingPenalty: number
  readonly silence: number
}

export const DEFAULT_MQA_AUDIO_WEIGHTS: MqaAudioWeights = Object.freeze({
  targetLufs: -23,
  toleranceLu: 5,
  perLuOutside: 3,
  maxLoudnessPenalty: 30,
  perClippedPercent: 20,
  maxClippingPenalty: 50,
  silence: 60,
})

export interface AudioMeasurement {
  /** Integrated (or short-term) loudness in LUFS; −Infinity for digital silence. */
  readonly loudnessLufs: number
  /** Fraction 0..1 of samples at full scale. */
  readonly clippedRatio: number
  /** Silence where the source was expected to carry sound. */
  readonly unexpectedSilence: boolean
}

export function mqaAudio(a: AudioMeasurement, weights: MqaAudioWeights = DEFAULT_MQA_AUDIO_WEIGHTS): number {
  const clipping = Math.min(weights.maxClippingPenalty, weights.perClippedPercent * clamp(a.clippedRatio, 0, 1) * 100)
  const silence = a.unexpectedSilence ? weights.silence : 0
  const outside = Number.isFinite(a.loudnessLufs) ? Math.max(0, Math.abs(a.loudnessLufs - weights.targetLufs) - weights.toleranceLu) : Infinity
  const loudness = a.unexpectedSilence ? 0 : Math.min(weights.maxLoudnessPenalty, weights.perLuOutside * outside)
  return Math.round(clamp(100 - clipping - silence - loudness, 0, 100))
}

/** Per-frame values an aggregate is taken over (a subset of MqaRecord). */
export interface FrameScore {
  readonly mqa?: number | undefined
  readonly psnrDb?: number | undefined
  readonly ssim?: number | undefined
  readonly audio?: number | undefined
  readonly errors?: number | undefined
  readonly dropped?: number | undefined
  readonly unmeasured?: boolean | undefined
}

/** Aggregate over a GOP or a segment. Means are over measured frames only; undefined when none. */
export interface AggregateScore {
  readonly frames: number
  readonly measured: number
  readonly unmeasured: number
  readonly mqa?: number
  /** The worst frame's MQA-VIDEO. */
  readonly mqaMin?: number
  readonly psnrDb?: number
  readonly ssim?: number
  readonly audio?: number
  readonly audioFrames: number
  /** Errors plus missing frames, summed. */
  readonly errors: number
  readonly dropped: number
}

/** Mean of per-frame values; unmeasured frames are counted, not averaged; err and drp are summed. */
export function aggregateScores(frames: readonly FrameScore[]): AggregateScore {
  let measured = 0
  let unmeasured = 0
  let mqaSum = 0
  let mqaN = 0
  let mqaMin = Infinity
  let psnrSum = 0
  let psnrN = 0
  let ssimSum = 0
  let ssimN = 0
  let audioSum = 0
  let audioN = 0
  let errors = 0
  let dropped = 0
  for (const f of frames) {
    errors += f.errors ?? 0
    dropped += f.dropped ?? 0
    if (f.audio !== undefined) {
      audioSum += f.audio
      audioN++
    }
    if (f.unmeasured || (f.mqa === undefined && f.psnrDb === undefined && f.ssim === undefined)) {
      unmeasured++
      continue
    }
    measured++
    if (f.mqa !== undefined) {
      mqaSum += f.mqa
      mqaN++
      if (f.mqa < mqaMin) mqaMin = f.mqa
    }
    if (f.psnrDb !== undefined) {
      psnrSum += f.psnrDb
      psnrN++
    }
    if (f.ssim !== undefined) {
      ssimSum += f.ssim
      ssimN++
    }
  }
  return {
    frames: frames.length,
    measured,
    unmeasured,
    ...(mqaN > 0 ? { mqa: mqaSum / mqaN, mqaMin } : {}),
    ...(psnrN > 0 ? { psnrDb: psnrSum / psnrN } : {}),
    ...(ssimN > 0 ? { ssim: ssimSum / ssimN } : {}),
    ...(audioN > 0 ? { audio: audioSum / audioN } : {}),
    audioFrames: audioN,
    errors,
    dropped,
  }
}
