import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  AnnexBSplitter,
  MqaError,
  VideoCodec,
  decodeCmsdDynamic,
  decodeCmsdStatic,
  decodeMqaPayload,
  groupAccessUnits,
  parseSeiNal,
  readMqaRecords,
  splitAnnexB,
  splitLengthPrefixed,
  unescapeRbsp,
} from '../src/index.js'
import { vector } from './helpers.js'

/**
 * Random bytes into every parser: each must return or throw an MqaError with a code (and, for
 * byte parsers, an offset) — never hang, never throw anything else. Bounded: a few thousand
 * inputs of at most a few KB, each run under a time limit.
 */
function expectOnlyTypedErrors(fn: () => unknown, withOffset: boolean): void {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(MqaError)
    const e = err as MqaError
    expect(e.code).toMatch(/^ERR_[A-Z_]+$/)
    if (withOffset) expect(typeof e.offset).toBe('number')
  }
}

/** Random bytes biased towards what trips parsers: zeros, 01, 03, FF, 80. */
const bytes = (max: number) =>
  fc.array(fc.oneof(fc.constantFrom(0, 0, 0, 1, 3, 0xff, 0x80, 0x06, 0x05, 0x4e, 0x67, 0x65), fc.integer({ min: 0, max: 255 })), { maxLength: max }).map((a) => Uint8Array.from(a))

describe('parsers under random input', () => {
  const codecs = fc.constantFrom(VideoCodec.H264, VideoCodec.H265)

  it('NAL splitting, streaming splitting and access-unit grouping', () => {
    fc.assert(
      fc.property(bytes(3000), codecs, fc.integer({ min: 1, max: 500 }), (buf, codec, chunk) => {
        expectOnlyTypedErrors(() => groupAccessUnits(codec, splitAnnexB(buf, codec)), true)
        expectOnlyTypedErrors(() => {
          const s = new AnnexBSplitter(codec)
          for (let i = 0; i < buf.length; i += chunk) s.push(buf.subarray(i, i + chunk))
          s.flush()
        }, true)
        expectOnlyTypedErrors(() => splitLengthPrefixed(buf, codec), true)
      }),
      { numRuns: 1500, interruptAfterTimeLimit: 20_000 },
    )
  })

  it('SEI parsing and MQA record reading', () => {
    fc.assert(
      fc.property(bytes(600), codecs, (buf, codec) => {
        expectOnlyTypedErrors(() => parseSeiNal(codec, buf), true)
        expectOnlyTypedErrors(() => unescapeRbsp(buf), true)
        // readMqaRecords never throws: it reports
        const nals = splitAnnexB(buf, codec)
        const found = readMqaRecords(codec, nals)
        for (const e of found.errors) expect(e).toBeInstanceOf(MqaError)
      }),
      { numRuns: 3000, interruptAfterTimeLimit: 20_000 },
    )
  })

  it('a real stream with random bytes flipped still parses or fails with typed errors', () => {
    const clean = vector('x264-aud-64x64-2frames.h264')
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: clean.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 20 }), (flips) => {
        const buf = clean.slice()
        for (const [i, v] of flips) buf[i] = v
        expectOnlyTypedErrors(() => {
          const aus = groupAccessUnits(VideoCodec.H264, splitAnnexB(buf, VideoCodec.H264))
          for (const au of aus) readMqaRecords(VideoCodec.H264, au)
        }, true)
      }),
      { numRuns: 500 },
    )
  })

  it('payload and CMSD decoding of random text', () => {
    const text = fc.string({ unit: fc.constantFrom(...'v=1,;fn"tc:0123456789.-?()*abcdefghijklmnopqrstuvwxyz \\'.split('')), maxLength: 80 })
    fc.assert(
      fc.property(text, (s) => {
        expectOnlyTypedErrors(() => decodeMqaPayload(s), true)
        expectOnlyTypedErrors(() => decodeMqaPayload(new TextEncoder().encode(s)), true)
        expectOnlyTypedErrors(() => decodeCmsdStatic(s), false)
        expectOnlyTypedErrors(() => decodeCmsdDynamic(s), false)
      }),
      { numRuns: 3000, interruptAfterTimeLimit: 20_000 },
    )
  })
})
