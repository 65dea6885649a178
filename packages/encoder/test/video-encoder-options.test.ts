import { VideoCodec } from '@mqa/common'
import { describe, expect, it } from 'vitest'
import { colourDescription, colourFields, defaultPictureSize, outputSampleAspect, pictureFitFilter, videoEncoderOptions } from '../src/video-encoder-options.js'

const spec = { width: 1280, height: 720, rate: { num: 30000, den: 1001 }, bitrateKbps: 3000, preset: 'veryfast', gopFrames: 60, bframes: 3, globalHeader: false }

describe('video encoder options', () => {
  it('libx264: IDRs only where forced (keyint of 100 GOPs, no scenecut, closed GOPs), the rate as a fraction', () => {
    expect(videoEncoderOptions({ ...spec, codec: VideoCodec.H264 })).toEqual({
      name: 'libx264', width: 1280, height: 720, pix_fmt: 'yuv420p', time_base: [1001, 30000], framerate: [30000, 1001],
      bit_rate: 3_000_000, gop_size: 6000, max_b_frames: 3, flags: {},
      priv_data: { preset: 'veryfast', 'forced-idr': 1, 'x264-params': 'scenecut=0:open-gop=0:keyint=6000:bframes=3' },
    })
  })

  it('libx265: parameter sets in every IDR for MPEG-TS, in extradata only for MP4', () => {
    const ts = videoEncoderOptions({ ...spec, codec: VideoCodec.H265, bframes: 0 })
    const mp4 = videoEncoderOptions({ ...spec, codec: VideoCodec.H265, bframes: 0, globalHeader: true })
    expect(ts).toMatchObject({ name: 'libx265', flags: {}, priv_data: { 'x265-params': 'scenecut=0:open-gop=0:info=0:log-level=error:keyint=6000:bframes=0:repeat-headers=1' } })
    expect(mp4).toMatchObject({ flags: { GLOBAL_HEADER: true }, priv_data: { 'x265-params': expect.stringMatching(/:repeat-headers=0$/) } })
  })
})

describe('the output picture size without --size', () => {
  it("is the input's when x264/x265 can take it and mqa can measure it", () => {
    expect(defaultPictureSize(1280, 720)).toEqual({ width: 1280, height: 720, adjusted: false })
    expect(defaultPictureSize(16, 16)).toEqual({ width: 16, height: 16, adjusted: false })
  })
  it('an odd side loses one column or row; a side under 16 becomes 16', () => {
    expect(defaultPictureSize(1281, 721)).toEqual({ width: 1280, height: 720, adjusted: true })
    expect(defaultPictureSize(720, 577)).toEqual({ width: 720, height: 576, adjusted: true })
    expect(defaultPictureSize(12, 17)).toEqual({ width: 16, height: 16, adjusted: true })
    expect(defaultPictureSize(2, 1080)).toEqual({ width: 16, height: 1080, adjusted: true })
  })
  it('is reached by a crop when only an odd last column or row goes, else by scaling', () => {
    expect(pictureFitFilter({ width: 1281, height: 721 }, { width: 1280, height: 720 })).toBe('crop=1280:720:0:0,format=yuv420p')
    expect(pictureFitFilter({ width: 1280, height: 720 }, { width: 1280, height: 720 })).toBe('crop=1280:720:0:0,format=yuv420p')
    expect(pictureFitFilter({ width: 1920, height: 1080 }, { width: 1280, height: 720 })).toBe('scale=1280:720,format=yuv420p')
    expect(pictureFitFilter({ width: 12, height: 12 }, { width: 16, height: 16 })).toBe('scale=16:16,format=yuv420p')
    expect(pictureFitFilter({ width: 1279, height: 720 }, { width: 1280, height: 720 })).toBe('scale=1280:720,format=yuv420p')
  })
})

describe("the output's sample aspect ratio", () => {
  const pal = { width: 720, height: 576 }
  it("is the input's when the picture is not scaled (or loses an odd column or row)", () => {
    expect(outputSampleAspect([64, 45], pal, pal)).toEqual([64, 45])
    expect(outputSampleAspect([16, 15], { width: 721, height: 576 }, pal)).toEqual([16, 15])
  })
  it('keeps the display aspect when scaled, in lowest terms', () => {
    expect(outputSampleAspect([4, 3], { width: 1440, height: 1080 }, { width: 1280, height: 720 })).toEqual([1, 1])
    expect(outputSampleAspect([64, 45], pal, { width: 1024, height: 576 })).toEqual([1, 1])
    expect(outputSampleAspect([1, 1], { width: 1920, height: 1080 }, { width: 640, height: 480 })).toEqual([4, 3])
  })
  it('is left unset when the input does not say (0:1, as FFmpeg leaves it)', () => {
    expect(outputSampleAspect([0, 1], pal, pal)).toBeUndefined()
    expect(outputSampleAspect(undefined, pal, pal)).toBeUndefined()
  })
  it('fits the VUI\'s 16-bit terms: the nearest fraction when the exact one does not', () => {
    // 100003:99991 in lowest terms (both prime) does not fit in 16 bits.
    const [num, den] = outputSampleAspect([1, 1], { width: 100003, height: 2 }, { width: 99991, height: 2 })!
    expect(num).toBeLessThanOrEqual(65535)
    expect(den).toBeLessThanOrEqual(65535)
    expect(Math.abs(num / den - 100003 / 99991)).toBeLessThan(1e-6)
    expect(outputSampleAspect([1, 1], { width: 70000, height: 16 }, { width: 16, height: 70000 })).toBeUndefined()
  })
})

describe('the colour description', () => {
  it('keeps what the frame says and leaves out what it does not', () => {
    expect(colourDescription({ color_range: 'tv', color_primaries: 'bt709', color_trc: 'bt709', colorspace: 'bt709' })).toEqual({ range: 'tv', primaries: 'bt709', transfer: 'bt709', matrix: 'bt709' })
    expect(colourDescription({ color_range: 'pc', color_primaries: 'unknown', color_trc: 'unspecified', colorspace: null })).toEqual({ range: 'pc' })
    expect(colourDescription({})).toEqual({})
  })
  it("goes into the encoder's context (colorspace) and the muxer's codecpar (color_space)", () => {
    const colour = { range: 'tv', primaries: 'bt2020', transfer: 'smpte2084', matrix: 'bt2020nc' }
    expect(videoEncoderOptions({ ...spec, codec: VideoCodec.H265, colour })).toMatchObject({ color_range: 'tv', color_primaries: 'bt2020', color_trc: 'smpte2084', colorspace: 'bt2020nc' })
    expect(colourFields(colour, 'color_space')).toEqual({ color_range: 'tv', color_primaries: 'bt2020', color_trc: 'smpte2084', color_space: 'bt2020nc' })
    expect(colourFields({ primaries: 'bt709' }, 'colorspace')).toEqual({ color_primaries: 'bt709' })
    expect(colourFields(undefined, 'colorspace')).toEqual({})
  })
})
