import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  AnnexBSplitter,
  ErrorCode,
  H264NalType,
  H265NalType,
  VideoCodec,
  isKeyframeNal,
  isVclNal,
  joinAnnexB,
  joinLengthPrefixed,
  parseNalHeader,
  splitAnnexB,
  splitLengthPrefixed,
  type NalUnit,
} from '../src/index.js'
import { catchError, hex, toHex, vector } from './helpers.js'

const H264 = VideoCodec.H264
const H265 = VideoCodec.H265
const sig = (nals: readonly NalUnit[]) => nals.map((n) => `${n.type}:${toHex(n.data)}`)

describe('Annex B splitting', () => {
  it('splits the x264 vector into AUD, SPS, PPS, SEI, IDR, AUD, slice', () => {
    const nals = splitAnnexB(vector('x264-aud-64x64-2frames.h264'), H264)
    expect(nals.map((n) => n.type)).toEqual([9, 7, 8, 6, 5, 9, 1])
    expect(nals[0]!.start).toBe(0) // 4-byte start code
    expect(nals[1]!.start).toBe(6) // 00 00 00 01 after the AUD's two bytes
    expect(toHex(nals[0]!.data)).toBe('0910')
    expect(isKeyframeNal(H264, nals[4]!.type)).toBe(true)
    expect(nals.filter((n) => isVclNal(H264, n.type))).toHaveLength(2)
  })

  it('splits the x265 vector into VPS, SPS, PPS, prefix SEI, IDR', () => {
    const nals = splitAnnexB(vector('x265-64x64-1frame.hevc'), H265)
    expect(nals.map((n) => n.type)).toEqual([H265NalType.VPS, H265NalType.SPS, H265NalType.PPS, H265NalType.PREFIX_SEI, H265NalType.IDR_N_LP])
    expect(parseNalHeader(H265, nals[3]!.data)).toEqual({ type: 39, refIdc: 0, layerId: 0, temporalId: 0 })
  })

  it('takes 3- and 4-byte start codes and drops trailing zero bytes', () => {
    const nals = splitAnnexB(hex('00 00 01 09 f0 00 00 00 00 01 67 aa 00 00 00 01 68 bb 00 00'), H264)
    expect(sig(nals)).toEqual(['9:09f0', '7:67aa', '8:68bb'])
  })

  it('ignores bytes before the first start code and empty NALs', () => {
    expect(sig(splitAnnexB(hex('ff ee 00 00 01 00 00 01 06 05'), H264))).toEqual(['6:0605'])
    expect(splitAnnexB(hex(''), H264)).toEqual([])
    expect(splitAnnexB(hex('12 34 56'), H264)).toEqual([])
  })

  it('gives the same NAL units for every split of the vector into two chunks', () => {
    const stream = vector('x264-aud-64x64-2frames.h264')
    const whole = sig(splitAnnexB(stream, H264))
    for (let cut = 0; cut <= stream.length; cut++) {
      const s = new AnnexBSplitter(H264)
      const got = [...s.push(stream.subarray(0, cut)), ...s.push(stream.subarray(cut)), ...s.flush()]
      expect(sig(got), `cut at ${cut}`).toEqual(whole)
    }
  })

  it('streams any chunking of random NAL sequences like the whole-buffer split', () => {
    const nalArb = fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => {
      // A NAL never contains a start code and never ends with 00 (it ends with its trailing bits).
      const out = Uint8Array.from(b, (x) => (x === 1 ? 2 : x))
      out[0] = (out[0]! & 0x7f) | 0x01
      out[out.length - 1] = 0x80
      return out
    })
    fc.assert(
      fc.property(fc.array(nalArb, { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }), (nals, sizes) => {
        const stream = joinAnnexB(nals)
        const s = new AnnexBSplitter(H264)
        const got: NalUnit[] = []
        let pos = 0
        let i = 0
        while (pos < stream.length) {
          const n = sizes[i++ % sizes.length]!
          got.push(...s.push(stream.subarray(pos, pos + n)))
          pos += n
        }
        got.push(...s.flush())
        expect(got.map((n) => toHex(n.data))).toEqual(nals.map(toHex))
        expect(got.map((n) => [n.offset, n.start])).toEqual(splitAnnexB(stream, H264).map((n) => [n.offset, n.start]))
        // Plain Uint8Array input takes the non-native search path: same answer.
        expect(splitAnnexB(Uint8Array.from(stream), H264).map((n) => n.offset)).toEqual(splitAnnexB(stream, H264).map((n) => n.offset))
      }),
      { numRuns: 300 },
    )
  })

  it('refuses a NAL that grows past the limit with no start code after it', () => {
    const s = new AnnexBSplitter(H264, { maxNalBytes: 100 })
    s.push(hex('00 00 01 06'))
    expect(() => s.push(new Uint8Array(200).fill(7))).toThrow(expect.objectContaining({ code: ErrorCode.NAL_INVALID, offset: 0 }))
  })
})

describe('length-prefixed NAL units', () => {
  it('round-trips through joinLengthPrefixed for 1-, 2- and 4-byte lengths', () => {
    const nals = [hex('67 42 00'), hex('68 ce'), hex('65 88 84 00 03')]
    for (const size of [1, 2, 4] as const) {
      const buf = joinLengthPrefixed(nals, size)
      expect(splitLengthPrefixed(buf, H264, size).map((n) => toHex(n.data))).toEqual(nals.map(toHex))
    }
    expect(toHex(joinLengthPrefixed([hex('09 f0')]))).toBe('0000000209f0')
  })

  it('names the offset of a length that runs past the end', () => {
    const err = catchError(() => splitLengthPrefixed(hex('00 00 00 02 09 f0 00 00 00 09 65'), H264))
    expect(err.code).toBe(ErrorCode.NAL_INVALID)
    expect(err.offset).toBe(6)
    expect(err.message).toMatch(/NAL length 9 does not fit in the 1 bytes left \(at byte 6\)/)
    expect(catchError(() => splitLengthPrefixed(hex('00 00 00 02 09 f0 00 00'), H264)).code).toBe(ErrorCode.NAL_TRUNCATED)
  })
})

describe('NAL headers', () => {
  it('reads H.264 and H.265 headers and rejects bad ones with their offset', () => {
    expect(parseNalHeader(H264, hex('65'))).toEqual({ type: H264NalType.IDR, refIdc: 3, layerId: 0, temporalId: 0 })
    expect(parseNalHeader(H265, hex('40 01'))).toEqual({ type: H265NalType.VPS, refIdc: 0, layerId: 0, temporalId: 0 })
    expect(catchError(() => parseNalHeader(H264, hex('e5'), 12))).toMatchObject({ code: ErrorCode.NAL_INVALID, offset: 12 })
    expect(catchError(() => parseNalHeader(H265, hex('40 00'), 3))).toMatchObject({ code: ErrorCode.NAL_INVALID, offset: 4 })
    expect(catchError(() => parseNalHeader(H265, hex('40')))).toMatchObject({ code: ErrorCode.NAL_TRUNCATED })
  })
})
