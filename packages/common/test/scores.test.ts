import { describe, expect, it } from 'vitest'
import { DEFAULT_MQA_VIDEO_WEIGHTS, aggregateScores, mqaAudio, mqaVideo, normalisePsnr, normaliseSsim } from '../src/index.js'

describe('MQA-VIDEO', () => {
  it('gives 57 for PSNR 47 dB, SSIM 1.0 and 8 errors (WIRE-FORMAT.md §2)', () => {
    expect(mqaVideo({ psnrDb: 47, ssim: 1, errors: 8 })).toBe(57)
  })

  it('normalises and clamps', () => {
    expect(normalisePsnr(30)).toBe(50)
    expect(normalisePsnr(100)).toBe(100)
    expect(normalisePsnr(-5)).toBe(0)
    expect(normaliseSsim(0.982)).toBeCloseTo(98.2, 10)
    expect(mqaVideo({ psnrDb: 100, ssim: 1 })).toBe(100)
  })

  it('applies each penalty with its cap', () => {
    const base = { psnrDb: 60, ssim: 1 }
    expect(mqaVideo({ ...base, errors: 100 })).toBe(40)
    expect(mqaVideo({ ...base, dropped: 1 })).toBe(90)
    expect(mqaVideo({ ...base, dropped: 9 })).toBe(60)
    expect(mqaVideo({ ...base, frozen: true })).toBe(70)
    expect(mqaVideo({ ...base, black: true })).toBe(60)
    expect(mqaVideo({ psnrDb: 10, ssim: 0.2, errors: 20, black: true })).toBe(0)
  })

  it('takes overridden weights', () => {
    expect(mqaVideo({ psnrDb: 30, ssim: 0.5 }, { ...DEFAULT_MQA_VIDEO_WEIGHTS, psnr: 1, ssim: 0 })).toBe(50)
    expect(mqaVideo({ psnrDb: 60, ssim: 1, frozen: true }, { ...DEFAULT_MQA_VIDEO_WEIGHTS, frozen: 0 })).toBe(100)
  })

  it('refuses a missing fidelity rather than inventing one', () => {
    expect(() => mqaVideo({ psnrDb: NaN, ssim: 1 })).toThrow(/finite PSNR and SSIM/)
  })
})

describe('MQA-AUDIO', () => {
  it('is 100 at target loudness without clipping, and loses points for each fault', () => {
    expect(mqaAudio({ loudnessLufs: -23, clippedRatio: 0, unexpectedSilence: false })).toBe(100)
    expect(mqaAudio({ loudnessLufs: -16, clippedRatio: 0, unexpectedSilence: false })).toBe(94)
    expect(mqaAudio({ loudnessLufs: -23, clippedRatio: 0.01, unexpectedSilence: false })).toBe(80)
    expect(mqaAudio({ loudnessLufs: -Infinity, clippedRatio: 0, unexpectedSilence: true })).toBe(40)
    expect(mqaAudio({ loudnessLufs: -70, clippedRatio: 0, unexpectedSilence: false })).toBe(70)
  })
})

describe('aggregation', () => {
  it('takes means over measured frames, sums err and drp, keeps the worst frame and counts unmeasured', () => {
    const agg = aggregateScores([
      { mqa: 80, psnrDb: 40, ssim: 0.98, errors: 0 },
      { mqa: 70, psnrDb: 38, ssim: 0.96, errors: 2, dropped: 1 },
      { unmeasured: true, errors: 1 },
      { mqa: 90, psnrDb: 42, ssim: 0.99, audio: 95 },
    ])
    expect(agg).toMatchObject({ frames: 4, measured: 3, unmeasured: 1, mqa: 80, mqaMin: 70, psnrDb: 40, errors: 3, dropped: 1, audio: 95, audioFrames: 1 })
    expect(agg.ssim).toBeCloseTo(0.9766667, 6)
  })

  it('has no means when nothing was measured', () => {
    const agg = aggregateScores([{ unmeasured: true }, {}])
    expect(agg).toEqual({ frames: 2, measured: 0, unmeasured: 2, audioFrames: 0, errors: 0, dropped: 0 })
    expect(aggregateScores([])).toMatchObject({ frames: 0, measured: 0 })
  })
})
