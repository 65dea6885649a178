import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { escapeRbsp, unescapeRbsp } from '../src/index.js'
import { hex, toHex } from './helpers.js'

describe('emulation prevention', () => {
  // H.264 7.4.1: 00 00 0x (x ≤ 3) inside a NAL becomes 00 00 03 0x.
  it.each([
    ['00 00 00', '00 00 03 00'],
    ['00 00 01', '00 00 03 01'],
    ['00 00 02', '00 00 03 02'],
    ['00 00 03', '00 00 03 03'],
    ['00 00 04', '00 00 04'],
    ['00 00 00 00 00', '00 00 03 00 00 03 00'],
    ['11 00 00 01 00 00 01', '11 00 00 03 01 00 00 03 01'],
    ['', ''],
  ])('escapes %s as %s', (rbsp, escaped) => {
    expect(toHex(escapeRbsp(hex(rbsp)))).toBe(toHex(hex(escaped)))
    expect(toHex(unescapeRbsp(hex(escaped)))).toBe(toHex(hex(rbsp)))
  })

  it('unescapes the SPS x264 wrote (vector x264-aud-64x64-2frames.h264 bytes 11..31)', () => {
    // 67 42 c0 0a da 10 9b 01 10 00 00 03 00 10 00 00 03 03 20 f1 22 6a: two 00 00 03 escapes.
    const sps = hex('67 42 c0 0a da 10 9b 01 10 00 00 03 00 10 00 00 03 03 20 f1 22 6a')
    const rbsp = unescapeRbsp(sps)
    expect(toHex(rbsp)).toBe('6742c00ada109b01100000001000000320f1226a')
    expect(toHex(escapeRbsp(rbsp))).toBe(toHex(sps))
  })

  it('returns the input itself when there is nothing to do', () => {
    const b = hex('01 02 03 00 05')
    expect(escapeRbsp(b)).toBe(b)
    expect(unescapeRbsp(b)).toBe(b)
  })

  it('round-trips any bytes, and the escaped form never holds a start code', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (raw, zeroHeavy) => {
        const rbsp = zeroHeavy ? raw.map((b) => (b < 200 ? 0 : b & 3)) : raw
        const escaped = escapeRbsp(rbsp)
        expect(toHex(unescapeRbsp(escaped))).toBe(toHex(rbsp))
        for (let i = 2; i < escaped.length; i++) {
          if (escaped[i - 2] === 0 && escaped[i - 1] === 0) expect(escaped[i]).toBeGreaterThanOrEqual(3)
        }
      }),
      { numRuns: 500 },
    )
  })
})
