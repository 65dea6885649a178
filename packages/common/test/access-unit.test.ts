import { describe, expect, it } from 'vitest'
import { VideoCodec, groupAccessUnits, splitAnnexB } from '../src/index.js'
import { hex, vector } from './helpers.js'

describe('access units', () => {
  it('groups the x264 vector into its two pictures', () => {
    const aus = groupAccessUnits(VideoCodec.H264, splitAnnexB(vector('x264-aud-64x64-2frames.h264'), VideoCodec.H264))
    expect(aus.map((au) => au.map((n) => n.type))).toEqual([[9, 7, 8, 6, 5], [9, 1]])
  })

  it('starts a picture at a slice with first_mb_in_slice 0 when there is no AUD, and keeps later slices together', () => {
    // SPS PPS IDR(first_mb=0) IDR(first_mb≠0: first bit 0) | slice(first_mb=0) | SEI slice(first_mb=0)
    const stream = hex('00 00 01 67 aa 00 00 01 68 bb 00 00 01 65 88 00 00 01 65 08 00 00 01 41 9a 00 00 01 06 05 00 00 01 41 9b')
    const aus = groupAccessUnits(VideoCodec.H264, splitAnnexB(stream, VideoCodec.H264))
    expect(aus.map((au) => au.map((n) => n.type))).toEqual([[7, 8, 5, 5], [1], [6, 1]])
  })

  it('groups H.265 by first_slice_segment_in_pic_flag and prefix SEI', () => {
    const stream = hex('00 00 01 40 01 0c 00 00 01 42 01 01 00 00 01 44 01 c1 00 00 01 26 01 af 00 00 01 26 01 2f 00 00 01 4e 01 05 00 00 01 02 01 d0')
    const aus = groupAccessUnits(VideoCodec.H265, splitAnnexB(stream, VideoCodec.H265))
    expect(aus.map((au) => au.map((n) => n.type))).toEqual([[32, 33, 34, 19, 19], [39, 1]])
  })
})
