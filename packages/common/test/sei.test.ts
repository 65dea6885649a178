import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  ErrorCode,
  MQA_SEI_UUID,
  VideoCodec,
  buildA53CaptionSei,
  buildMqaSeiNal,
  buildSeiNal,
  buildUserDataUnregistered,
  findUserData,
  insertSeiAnnexB,
  insertSeiLengthPrefixed,
  joinLengthPrefixed,
  parseSeiNal,
  parseSeiRbsp,
  readA53Captions,
  readMqaRecords,
  serializeSeiRbsp,
  splitAnnexB,
  splitLengthPrefixed,
  uuidBytes,
} from '../src/index.js'
import { ascii, catchError, concatBytes, hex, toHex, vector } from './helpers.js'

const H264 = VideoCodec.H264
const H265 = VideoCodec.H265
const UUID_HEX = '6e817660c9324988881cac31ae587204'

describe('SEI RBSP', () => {
  it('writes the WIRE-FORMAT.md §1 example byte for byte', () => {
    // WIRE-FORMAT.md §1: 00 00 00 01 06 05 2f + UUID + "v=1,fn=0,psnr=41.237,ssim=0.982" + 80
    const nal = buildMqaSeiNal(H264, { frameNumber: 0, psnrDb: 41.237, ssim: 0.982 })
    expect(toHex(nal)).toBe(`06052f${UUID_HEX}${toHex(ascii('v=1,fn=0,psnr=41.237,ssim=0.982'))}80`)
    expect(nal.length).toBe(51) // "51 bytes after the start code"
  })

  it('writes the H.265 prefix SEI header 4E 01', () => {
    expect(toHex(buildSeiNal(H265, [{ payloadType: 5, payload: hex('00') }]).subarray(0, 3))).toBe('4e0105')
  })

  it('codes payloadType and payloadSize with 0xFF continuation', () => {
    const big = new Uint8Array(600).fill(0x41)
    const rbsp = serializeSeiRbsp([{ payloadType: 300, payload: big }])
    // 300 = ff + 2d, 600 = ff ff 5a
    expect(toHex(rbsp.subarray(0, 5))).toBe('ff2dffff5a')
    const [m] = parseSeiRbsp(rbsp)
    expect(m!.payloadType).toBe(300)
    expect(m!.payload.length).toBe(600)
  })

  it('reads several messages from one NAL', () => {
    const rbsp = serializeSeiRbsp([
      { payloadType: 1, payload: hex('aa bb') },
      { payloadType: 5, payload: concatBytes(MQA_SEI_UUID, ascii('v=1')) },
    ])
    const msgs = parseSeiRbsp(rbsp)
    expect(msgs.map((m) => m.payloadType)).toEqual([1, 5])
    expect(new TextDecoder().decode(findUserData(msgs[1]!, [MQA_SEI_UUID]))).toBe('v=1')
  })

  it('reads the x264 info SEI of the vector (1 message, type 5, 0xFF-coded size)', () => {
    const sei = splitAnnexB(vector('x264-aud-64x64-2frames.h264'), H264).find((n) => n.type === 6)!
    const msgs = parseSeiNal(H264, sei.data)
    expect(msgs).toHaveLength(1)
    expect(msgs[0]!.payloadType).toBe(5)
    expect(new TextDecoder().decode(msgs[0]!.payload.subarray(16, 26))).toBe('x264 - cor')
  })

  it('reports a truncated message with its code and byte offset', () => {
    // payloadSize says 0x20 bytes, 3 are there.
    const err = catchError(() => parseSeiRbsp(hex('05 20 01 02 03'), 10))
    expect(err.code).toBe(ErrorCode.SEI_TRUNCATED)
    expect(err.offset).toBe(12)
    expect(catchError(() => parseSeiRbsp(hex('ff ff'))).code).toBe(ErrorCode.SEI_TRUNCATED)
    expect(catchError(() => parseSeiRbsp(hex(''))).code).toBe(ErrorCode.SEI_INVALID)
  })

  it('accepts trailing cabac_zero_words and a missing stop bit', () => {
    expect(parseSeiRbsp(hex('01 01 aa 80 00 00'))).toHaveLength(1)
    expect(parseSeiRbsp(hex('01 01 aa'))).toHaveLength(1)
  })

  it('round-trips random messages through serialize, escape, parse', () => {
    const msg = fc.record({ payloadType: fc.integer({ min: 0, max: 1000 }), payload: fc.uint8Array({ maxLength: 400 }) })
    fc.assert(
      fc.property(fc.array(msg, { minLength: 1, maxLength: 4 }), fc.constantFrom(H264, H265), (msgs, codec) => {
        const nal = buildSeiNal(codec, msgs)
        const back = parseSeiNal(codec, nal)
        expect(back.map((m) => [m.payloadType, toHex(m.payload)])).toEqual(msgs.map((m) => [m.payloadType, toHex(m.payload)]))
      }),
      { numRuns: 300 },
    )
  })
})

describe('user_data_unregistered', () => {
  it('finds our payload 16 bytes in, behind an x265 UUID', () => {
    const x265Uuid = hex('2ca2de09b51747dbbb55a4fe7fc2fc4e')
    const m = { payloadType: 5, payload: concatBytes(x265Uuid, MQA_SEI_UUID, ascii('v=1,fn=3')) }
    expect(new TextDecoder().decode(findUserData(m, [MQA_SEI_UUID]))).toBe('v=1,fn=3')
  })

  it('takes other configured UUIDs and ignores foreign ones', () => {
    const other = uuidBytes('00112233-4455-6677-8899-aabbccddeeff')
    const m = buildUserDataUnregistered(other, ascii('v=1'))
    expect(findUserData(m, [MQA_SEI_UUID])).toBeUndefined()
    expect(findUserData(m, [MQA_SEI_UUID, other])).toBeDefined()
    expect(findUserData({ payloadType: 4, payload: concatBytes(MQA_SEI_UUID, ascii('v=1')) }, [MQA_SEI_UUID])).toBeUndefined()
  })
})

describe('inserting the SEI into an access unit', () => {
  const au264 = () => {
    const v = vector('x264-aud-64x64-2frames.h264')
    const second = splitAnnexB(v, H264)[5]!.start
    return v.subarray(0, second) // AUD SPS PPS SEI IDR
  }

  it('puts it after AUD/SPS/PPS/SEI and right before the first slice (Annex B), other bytes unchanged', () => {
    const au = au264()
    const sei = buildMqaSeiNal(H264, { frameNumber: 7, psnrDb: 40, ssim: 0.99, mqa: 83 })
    const out = insertSeiAnnexB(H264, au, sei)
    const nals = splitAnnexB(out, H264)
    expect(nals.map((n) => n.type)).toEqual([9, 7, 8, 6, 6, 5])
    expect(toHex(nals[4]!.data)).toBe(toHex(sei))
    const idr = splitAnnexB(au, H264)[4]!
    expect(toHex(out.subarray(0, idr.start))).toBe(toHex(au.subarray(0, idr.start)))
    expect(toHex(out.subarray(out.length - (au.length - idr.start)))).toBe(toHex(au.subarray(idr.start)))
    expect(readMqaRecords(H264, nals).records).toEqual([expect.objectContaining({ frameNumber: 7, mqa: 83 })])
  })

  it('does the same for H.265 and length-prefixed data; the length counts the escaped bytes', () => {
    const nals = splitAnnexB(vector('x265-64x64-1frame.hevc'), H265)
    const sample = joinLengthPrefixed(nals.map((n) => n.data))
    // A payload whose RBSP needs escaping: fn=0 with 00 00 01-like bytes cannot occur in ASCII,
    // so put zero bytes in through a foreign message in the same NAL.
    const sei = buildSeiNal(H265, [{ payloadType: 1, payload: hex('00 00 01 00 00') }, buildUserDataUnregistered(MQA_SEI_UUID, ascii('v=1,fn=1'))])
    expect(sei.length).toBeGreaterThan(serializeSeiRbsp([]).length + 2 + 5 + 2 + 16 + 8 + 2) // escaped: longer than the RBSP
    const out = insertSeiLengthPrefixed(H265, sample, sei)
    const back = splitLengthPrefixed(out, H265)
    expect(back.map((n) => n.type)).toEqual([32, 33, 34, 39, 39, 20])
    expect(toHex(back[4]!.data)).toBe(toHex(sei))
    const found = readMqaRecords(H265, back)
    // x265's own info SEI is not ours; our record is found once.
    expect(found.records.map((r) => r.frameNumber)).toEqual([1])
    expect(found.errors).toEqual([])
  })

  it('refuses an access unit without a slice', () => {
    const nals = splitAnnexB(vector('x264-aud-64x64-2frames.h264'), H264)
    const noSlice = vector('x264-aud-64x64-2frames.h264').subarray(0, nals[4]!.start)
    expect(catchError(() => insertSeiAnnexB(H264, noSlice, buildMqaSeiNal(H264, {}))).code).toBe(ErrorCode.AU_NO_SLICE)
  })

  it('insert then parse gives back every record (property)', () => {
    fc.assert(
      fc.property(fc.nat({ max: 1_000_000 }), fc.double({ min: 0, max: 100, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (fn, psnr, ssim) => {
        const out = insertSeiAnnexB(H264, au264(), buildMqaSeiNal(H264, { frameNumber: fn, psnrDb: psnr, ssim }))
        const [r] = readMqaRecords(H264, splitAnnexB(out, H264)).records
        expect(r!.frameNumber).toBe(fn)
        expect(Math.abs(r!.psnrDb! - psnr)).toBeLessThanOrEqual(0.0005 + 1e-9)
        expect(Math.abs(r!.ssim! - ssim)).toBeLessThanOrEqual(0.0005 + 1e-9)
      }),
      { numRuns: 200 },
    )
  })

  it('skips a damaged SEI and reports it, keeping the good ones', () => {
    const good = buildMqaSeiNal(H264, { frameNumber: 1 })
    const bad = hex('06 05 40 01 02') // says 64 payload bytes, has 2
    const badPayload = buildSeiNal(H264, [buildUserDataUnregistered(MQA_SEI_UUID, ascii('v=1,fn=-4'))])
    const nals = [bad, badPayload, good].map((d, i) => ({ type: 6, data: d, offset: i * 100, start: i * 100 }))
    const found = readMqaRecords(H264, nals)
    expect(found.records.map((r) => r.frameNumber)).toEqual([1])
    expect(found.errors.map((e) => e.code)).toEqual([ErrorCode.SEI_TRUNCATED, ErrorCode.PAYLOAD_VALUE])
    expect(found.errors[0]!.offset).toBe(3)
  })
})

describe('closed captions (ATSC A/53 Part 4 in user_data_registered_itu_t_t35)', () => {
  it('are written as FFmpeg writes them (libx264 wrapper, ff_alloc_a53_sei) and read back', () => {
    const cc = hex('fc 94 20 fc 80 80')
    const [m, ...more] = buildA53CaptionSei(cc)
    expect(more).toHaveLength(0)
    expect(m!.payloadType).toBe(4)
    // country 0xB5, provider 0x0031, "GA94", type 3, process_cc_data_flag | cc_count 2, em_data 0xFF, triples, marker 0xFF.
    expect(toHex(m!.payload)).toBe('b50031474139340342fffc9420fc8080ff')
    expect(readA53Captions(m!)).toEqual(cc)
    // Through a whole SEI NAL (emulation prevention and all) and back.
    expect(parseSeiNal(H265, buildSeiNal(H265, [m!])).map(readA53Captions)).toEqual([cc])
  })
  it('more than 31 triples (cc_count is 5 bits) go into one message each 31', () => {
    const cc = Uint8Array.from({ length: 40 * 3 }, (_, i) => (i % 3 === 0 ? 0xfc : i & 0x7f))
    const messages = buildA53CaptionSei(cc)
    expect(messages.map((msg) => readA53Captions(msg)!.length / 3)).toEqual([31, 9])
    expect(concatBytes(...messages.map((msg) => readA53Captions(msg)!))).toEqual(cc)
  })
  it('refuses a part triple; other messages, other T.35 data and short payloads are not captions', () => {
    expect(catchError(() => buildA53CaptionSei(hex('fc 94'))).message).toMatch(/whole triples, got 2 bytes/)
    expect(readA53Captions(buildUserDataUnregistered(MQA_SEI_UUID, ascii('v=1')))).toBeUndefined()
    expect(readA53Captions({ payloadType: 4, payload: hex('b5 00 3c 00 01 04') })).toBeUndefined() // another provider (HDR10+)
    expect(readA53Captions({ payloadType: 4, payload: hex('b5 00 31 47 41 39 34 03 45 ff fc 94') })).toBeUndefined() // says 5 triples, has 1
  })
})
