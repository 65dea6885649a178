import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseDictionary } from 'structured-headers'
import { ErrorCode, ScoreScope, decodeMqaPayload, encodeMqaPayload, formatDecimal, mqaRecord, parseSimpleDictionary, type MqaRecord } from '../src/index.js'
import { ascii, catchError } from './helpers.js'

function record(text: string): MqaRecord {
  const d = decodeMqaPayload(text)
  if (d.kind !== 'record') throw new Error(`skipped: ${d.reason}`)
  return d.record
}

describe('MQA SEI payload v1', () => {
  it('encodes the WIRE-FORMAT.md example', () => {
    expect(encodeMqaPayload({ frameNumber: 0, psnrDb: 41.237, ssim: 0.982 })).toBe('v=1,fn=0,psnr=41.237,ssim=0.982')
  })

  it('encodes every key in a fixed order, booleans bare, defaults left out', () => {
    const text = encodeMqaPayload({
      frameNumber: 12,
      timecode: '10:00:00;02',
      psnrDb: 38,
      psnrYDb: 37.1234,
      ssim: 0.95,
      ssimY: 0.9,
      mqa: 70,
      errors: 2,
      dropped: 1,
      frozen: true,
      black: false,
      audio: 88,
    })
    expect(text).toBe('v=1,fn=12,tc="10:00:00;02",psnr=38.0,psnr-y=37.123,ssim=0.95,ssim-y=0.9,mqa=70,err=2,drp=1,frz,aq=88')
  })

  it('writes a GOP summary and the contribution-source minimum', () => {
    expect(encodeMqaPayload({ scope: ScoreScope.GOP, frames: 50, mqa: 80, psnrDb: 40.5, ssim: 0.98 })).toBe('v=1,s=g,psnr=40.5,ssim=0.98,mqa=80,nf=50')
    expect(encodeMqaPayload({ timecode: '10:00:00:00' })).toBe('v=1,tc="10:00:00:00"')
  })

  it('caps PSNR at 100 dB (identical pictures)', () => {
    expect(encodeMqaPayload({ psnrDb: Infinity, ssim: 1 })).toBe('v=1,psnr=100.0,ssim=1.0')
  })

  it('decodes to a typed record with defaults', () => {
    expect(record('v=1,fn=0,psnr=41.237,ssim=0.982')).toEqual(
      mqaRecord({ frameNumber: 0, psnrDb: 41.237, ssim: 0.982 }),
    )
    expect(record('v=1,um,fn=4,blk')).toMatchObject({ unmeasured: true, black: true, frameNumber: 4, errors: 0, scope: 'f' })
  })

  it('keeps unknown keys aside and ignores them', () => {
    const r = record('v=1,fn=1,x-vendor=?0,later=(1 2)')
    expect(r.frameNumber).toBe(1)
    expect([...r.unknown!.keys()]).toEqual(['x-vendor', 'later'])
  })

  it('skips a payload of another version', () => {
    expect(decodeMqaPayload('v=2,whatever="new"')).toEqual({ kind: 'skipped', version: 2, reason: 'payload version 2; this reader knows 1' })
  })

  it.each([
    ['fn=1', ErrorCode.PAYLOAD_VALUE, /no version key/],
    ['v=1.5', ErrorCode.PAYLOAD_VALUE, /version `v` must be an integer/],
    ['v=1,psnr=-3.0', ErrorCode.PAYLOAD_VALUE, /`psnr` must be a decimal from 0 to 100/],
    ['v=1,ssim=1.5', ErrorCode.PAYLOAD_VALUE, /`ssim` must be a decimal from -1 to 1/],
    ['v=1,mqa=101', ErrorCode.PAYLOAD_VALUE, /`mqa` must be an integer from 0 to 100/],
    ['v=1,mqa=50.5', ErrorCode.PAYLOAD_VALUE, /`mqa`/],
    ['v=1,fn=-1', ErrorCode.PAYLOAD_VALUE, /`fn` must be a non-negative integer/],
    ['v=1,tc="25:00:00:00"', ErrorCode.PAYLOAD_VALUE, /`tc` must be a timecode/],
    ['v=1,tc=10', ErrorCode.PAYLOAD_VALUE, /`tc` must be a string/],
    ['v=1,frz=1', ErrorCode.PAYLOAD_VALUE, /`frz` must be a boolean/],
    ['v=1,s=x', ErrorCode.PAYLOAD_VALUE, /`s` must be the token f or g/],
    ['v=1,um,psnr=40.0', ErrorCode.PAYLOAD_VALUE, /unmeasured .* carries psnr/],
    ['v=1,nf=3', ErrorCode.PAYLOAD_VALUE, /`nf` belongs only to a GOP summary/],
    ['v=1,,fn=2', ErrorCode.PAYLOAD_SYNTAX, /not a structured-field dictionary/],
    ['v=1,fn="', ErrorCode.PAYLOAD_SYNTAX, /not a structured-field dictionary/],
  ])('rejects %s', (text, code, message) => {
    const err = catchError(() => decodeMqaPayload(text))
    expect(err.code).toBe(code)
    expect(err.message).toMatch(message)
  })

  it('rejects non-ASCII and NUL bytes, naming the offset', () => {
    const bytes = ascii('v=1,fn=1')
    bytes[5] = 0
    const err = catchError(() => decodeMqaPayload(bytes, 100))
    expect(err).toMatchObject({ code: ErrorCode.PAYLOAD_SYNTAX, offset: 105 })
  })

  it('round-trips any valid record (decimals to 3 places)', () => {
    const arb = fc.record(
      {
        frameNumber: fc.nat(),
        psnrDb: fc.double({ min: 0, max: 100, noNaN: true }),
        ssim: fc.double({ min: -1, max: 1, noNaN: true }),
        mqa: fc.integer({ min: 0, max: 100 }),
        errors: fc.nat({ max: 1000 }),
        dropped: fc.nat({ max: 1000 }),
        frozen: fc.boolean(),
        black: fc.boolean(),
        audio: fc.integer({ min: 0, max: 100 }),
      },
      { requiredKeys: [] },
    )
    fc.assert(
      fc.property(arb, (input) => {
        const text = encodeMqaPayload(input)
        expect(text).toMatch(/^[\x20-\x7e]+$/)
        const back = record(text)
        const rounded = (x: number | undefined) => (x === undefined ? undefined : Number(formatDecimal(x)))
        expect(back).toEqual(mqaRecord({ ...input, psnrDb: rounded(input.psnrDb), ssim: rounded(input.ssim) }))
      }),
      { numRuns: 500 },
    )
  })
})

describe('decimals', () => {
  it.each([
    [41, '41.0'],
    [41.2374, '41.237'],
    [41.2375, '41.238'],
    [0.9999, '1.0'],
    [-0.0004, '0.0'],
    [0, '0.0'],
    [-2.5, '-2.5'],
  ])('formats %s as %s', (value, text) => {
    expect(formatDecimal(value)).toBe(text)
  })

  it('refuses what RFC 8941 cannot carry', () => {
    expect(catchError(() => formatDecimal(NaN)).code).toBe(ErrorCode.VALUE_RANGE)
    expect(catchError(() => formatDecimal(1e13)).code).toBe(ErrorCode.VALUE_RANGE)
  })
})

describe('the fast dictionary path', () => {
  const norm = (d: ReturnType<typeof parseDictionary>) => [...d].map(([k, [v, p]]) => [k, typeof v === 'object' && v !== null ? `${v.constructor.name}:${String(v)}` : v, [...p]])

  it('reads exactly what structured-headers reads whenever it answers (property)', () => {
    const unit = fc.constantFrom(...'v=1,;fn"tc:0123456789.-?*abz AZ/\\()'.split(''))
    let answered = 0
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit, maxLength: 40 }), fc.constantFrom('v=1,fn=0,psnr=41.237,ssim=0.982', 'v=1,s=g,nf=5', 'a=?1,b=?0,c', 'tc="10:00:00;02"')), (text) => {
        const fast = parseSimpleDictionary(text)
        let general: ReturnType<typeof parseDictionary> | undefined
        try {
          general = parseDictionary(text)
        } catch {
          general = undefined
        }
        if (fast === undefined) return
        answered++
        expect(general, text).toBeDefined()
        expect(norm(fast), text).toEqual(norm(general!))
      }),
      { numRuns: 5000 },
    )
    expect(answered).toBeGreaterThan(50)
  })

  it('leaves what it does not handle to the general parser', () => {
    for (const t of ['a=1;p=2', 'a=(1 2)', 'a="x\\"y"', 'a=1, b=2', 'a=:AQ==:', 'a=1,']) expect(parseSimpleDictionary(t), t).toBeUndefined()
  })
})
