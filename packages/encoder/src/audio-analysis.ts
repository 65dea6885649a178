import { type AudioMeasurement, type MqaAudioWeights, DEFAULT_MQA_AUDIO_WEIGHTS, mqaAudio } from '@mqa/common'

/**
 * What MQA-AUDIO needs, measured on decoded PCM: momentary loudness (ITU-R BS.1770 K-weighting,
 * 400 ms window, as EBU R128's M), the share of clipped samples, and silence where there was
 * sound. Pure: fed planar float samples, it keeps its filter state and a short history.
 */

interface Biquad {
  b0: number
  b1: number
  b2: number
  a1: number
  a2: number
}

/** The two K-weighting stages for a sample rate (BS.1770-4, in the bilinear form libebur128 uses). */
export function kWeighting(sampleRate: number): [Biquad, Biquad] {
  let f0 = 1681.974450955533
  const G = 3.999843853973347
  let Q = 0.7071752369554196
  let K = Math.tan((Math.PI * f0) / sampleRate)
  const Vh = 10 ** (G / 20)
  const Vb = Vh ** 0.4996667741545416
  let a0 = 1 + K / Q + K * K
  const shelf = { b0: (Vh + (Vb * K) / Q + K * K) / a0, b1: (2 * (K * K - Vh)) / a0, b2: (Vh - (Vb * K) / Q + K * K) / a0, a1: (2 * (K * K - 1)) / a0, a2: (1 - K / Q + K * K) / a0 }
  f0 = 38.13547087602444
  Q = 0.5003270373238773
  K = Math.tan((Math.PI * f0) / sampleRate)
  a0 = 1 + K / Q + K * K
  const highpass = { b0: 1, b1: -2, b2: 1, a1: (2 * (K * K - 1)) / a0, a2: (1 - K / Q + K * K) / a0 }
  return [shelf, highpass]
}

export interface AudioAnalysisOptions {
  readonly sampleRate: number
  readonly channels: number
  /** A sample at or above this magnitude counts as clipped. */
  readonly clipLevel?: number
  /** Momentary loudness below this is silence. */
  readonly silenceLufs?: number
  /** Silence lasting this long after sound is "unexpected". */
  readonly silenceMs?: number
  readonly weights?: MqaAudioWeights
}

const BLOCK_MS = 100
const WINDOW_BLOCKS = 4 // 400 ms: momentary loudness

export class AudioAnalyzer {
  readonly #o: Required<Omit<AudioAnalysisOptions, 'weights'>> & { weights: MqaAudioWeights }
  readonly #filters: [Biquad, Biquad]
  /** Per channel: the two stages' state [x1, x2, y1, y2] each. */
  readonly #state: Float64Array[]
  readonly #blockSamples: number
  #blockFill = 0
  #blockEnergy: number[]
  #blockClipped = 0
  readonly #blocks: { energy: number; clipped: number; samples: number }[] = []
  #heardSound = false
  #silentMs = 0

  constructor(options: AudioAnalysisOptions) {
    this.#o = { clipLevel: 0.999, silenceLufs: -60, silenceMs: 2000, weights: DEFAULT_MQA_AUDIO_WEIGHTS, ...options }
    this.#filters = kWeighting(options.sampleRate)
    this.#state = Array.from({ length: options.channels }, () => new Float64Array(8))
    this.#blockSamples = Math.round((options.sampleRate * BLOCK_MS) / 1000)
    this.#blockEnergy = new Array<number>(options.channels).fill(0)
  }

  get sampleRate(): number {
    return this.#o.sampleRate
  }

  get channels(): number {
    return this.#o.channels
  }

  /** Feed planar samples (one Float32Array per channel, equal lengths). */
  push(planes: readonly Float32Array[]): void {
    const n = planes[0]?.length ?? 0
    const [s, h] = this.#filters
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < this.#o.channels; c++) {
        const x = planes[c]?.[i] ?? 0
        if (Math.abs(x) >= this.#o.clipLevel) this.#blockClipped++
        const st = this.#state[c]!
        // Stage 1: high shelf. Direct form I.
        const y1 = s.b0 * x + s.b1 * st[0]! + s.b2 * st[1]! - s.a1 * st[2]! - s.a2 * st[3]!
        st[1] = st[0]!
        st[0] = x
        st[3] = st[2]!
        st[2] = y1
        // Stage 2: high pass.
        const y2 = h.b0 * y1 + h.b1 * st[4]! + h.b2 * st[5]! - h.a1 * st[6]! - h.a2 * st[7]!
        st[5] = st[4]!
        st[4] = y1
        st[7] = st[6]!
        st[6] = y2
        this.#blockEnergy[c]! += y2 * y2
      }
      if (++this.#blockFill === this.#blockSamples) this.#closeBlock()
    }
  }

  #closeBlock(): void {
    // BS.1770 channel weights: 1.0 for L, R, C; 1.41 for surrounds (channels 4, 5 of 5.1); LFE excluded.
    let energy = 0
    for (let c = 0; c < this.#o.channels; c++) {
      const g = this.#o.channels === 6 ? (c === 3 ? 0 : c >= 4 ? 1.41 : 1) : 1
      energy += g * (this.#blockEnergy[c]! / this.#blockSamples)
      this.#blockEnergy[c] = 0
    }
    this.#blocks.push({ energy, clipped: this.#blockClipped, samples: this.#blockSamples * this.#o.channels })
    if (this.#blocks.length > WINDOW_BLOCKS) this.#blocks.shift()
    this.#blockFill = 0
    this.#blockClipped = 0
    const m = this.momentaryLufs()
    if (m > this.#o.silenceLufs) {
      this.#heardSound = true
      this.#silentMs = 0
    } else this.#silentMs += BLOCK_MS
  }

  /** Momentary loudness over the last 400 ms, LUFS; −Infinity for digital silence or no data. */
  momentaryLufs(): number {
    if (this.#blocks.length === 0) return -Infinity
    const mean = this.#blocks.reduce((sum, b) => sum + b.energy, 0) / this.#blocks.length
    return mean > 0 ? -0.691 + 10 * Math.log10(mean) : -Infinity
  }

  measurement(): AudioMeasurement {
    const samples = this.#blocks.reduce((n, b) => n + b.samples, 0)
    const clipped = this.#blocks.reduce((n, b) => n + b.clipped, 0)
    return {
      loudnessLufs: this.momentaryLufs(),
      clippedRatio: samples > 0 ? clipped / samples : 0,
      unexpectedSilence: this.#heardSound && this.#silentMs >= this.#o.silenceMs,
    }
  }

  /** MQA-AUDIO now; undefined until 400 ms of audio has been seen. */
  score(): number | undefined {
    if (this.#blocks.length < WINDOW_BLOCKS) return undefined
    return mqaAudio(this.measurement(), this.#o.weights)
  }
}
