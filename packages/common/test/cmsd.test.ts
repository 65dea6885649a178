import { decodeCmsdDynamic as cmlDecodeDynamic, decodeCmsdStatic as cmlDecodeStatic } from '@svta/cml-cmsd'
import fc from 'fast-check'
import { parseDictionary, parseList, Token } from 'structured-headers'
import { describe, expect, it } from 'vitest'
import {
  CmsdMqaKey,
  ErrorCode,
  aggregateScores,
  appendCmsdDynamic,
  decodeCmsdDynamic,
  decodeCmsdStatic,
  encodeCmsdDynamicEntry,
  encodeCmsdStatic,
  formatDecimal,
  segmentQualityOf,
  type CmsdStatic,
} from '../src/index.js'
import { catchError } from './helpers.js'

const example: CmsdStatic = {
  objectType: 'v',
  streamingFormat: 'h',
  streamType: 'l',
  bitrateKbps: 3200,
  durationMs: 2000,
  node: 'pkg-a',
  quality: { segmentNumber: 1042, video: { score: 83, frames: 50, min: 80 }, psnrDb: 41.237, ssimPercent: 98.214, errors: 0 },
}

describe('CMSD-Static', () => {
  it('writes the WIRE-FORMAT.md §3 example', () => {
    expect(encodeCmsdStatic(example)).toBe(
      'ot=v,sf=h,st=l,br=3200,d=2000,n="pkg-a",org.svta.mqa-video=83;sn=1042;nf=50;min=80,org.svta.mqa-psnr=41.237;sn=1042,org.svta.mqa-ssim=98.214;sn=1042,org.svta.mqa-err=0;sn=1042',
    )
  })

  it('reads back what it writes, with audio and availability time', () => {
    const value: CmsdStatic = { ...example, availableAtMs: 1_763_900_000_123, quality: { ...example.quality!, audio: { score: 97, frames: 94 } } }
    expect(decodeCmsdStatic(encodeCmsdStatic(value))).toEqual(value)
  })

  it('builds the scores from a segment aggregate', () => {
    const agg = aggregateScores([
      { mqa: 82, psnrDb: 41, ssim: 0.98 },
      { mqa: 85, psnrDb: 42, ssim: 0.99, errors: 1 },
      { unmeasured: true, dropped: 2 },
    ])
    expect(segmentQualityOf(7, agg)).toEqual({ segmentNumber: 7, video: { score: 84, frames: 3, min: 82 }, psnrDb: 41.5, ssimPercent: 98.5, errors: 3 })
    expect(segmentQualityOf(8, aggregateScores([{ unmeasured: true }]))).toEqual({ segmentNumber: 8, errors: 0 })
  })

  it('decodes with the SVTA common-media-library to the same values', () => {
    const header = encodeCmsdStatic({ ...example, availableAtMs: 1_763_900_000_123, quality: { ...example.quality!, audio: { score: 97, frames: 94 } } })
    const cml = cmlDecodeStatic(header) as Record<string, unknown>
    expect(cml.br).toBe(3200)
    expect(cml.d).toBe(2000)
    expect(cml.n).toBe('pkg-a')
    expect(cml.at).toBe(1_763_900_000_123)
    expect(String(cml.ot)).toBe('v')
    expect(String(cml.sf)).toBe('h')
    expect(String(cml.st)).toBe('l')
    // CML keeps custom keys; parameterised ones come back as an item whose value is ours.
    const valueOf = (v: unknown): unknown => (v && typeof v === 'object' && 'value' in v ? (v as { value: unknown }).value : v)
    expect(valueOf(cml[CmsdMqaKey.VIDEO])).toBe(83)
    expect(valueOf(cml[CmsdMqaKey.PSNR])).toBe(41.237)
    expect(valueOf(cml[CmsdMqaKey.SSIM])).toBe(98.214)
    expect(valueOf(cml[CmsdMqaKey.ERRORS])).toBe(0)
    expect(valueOf(cml[CmsdMqaKey.AUDIO])).toBe(97)
  })

  it('carries its parameters through structured-headers', () => {
    const dict = parseDictionary(encodeCmsdStatic(example))
    const [video, params] = dict.get(CmsdMqaKey.VIDEO) as [number, Map<string, unknown>]
    expect(video).toBe(83)
    expect(Object.fromEntries(params)).toEqual({ sn: 1042, nf: 50, min: 80 })
    expect(dict.get('ot')![0]).toEqual(new Token('v'))
    expect((dict.get(CmsdMqaKey.PSNR) as [number, Map<string, unknown>])[1].get('sn')).toBe(1042)
  })

  it('round-trips any quality through ours, CML and structured-headers (property)', () => {
    const arb = fc.record({
      segmentNumber: fc.nat({ max: 2 ** 40 }),
      score: fc.integer({ min: 0, max: 100 }),
      min: fc.integer({ min: 0, max: 100 }),
      frames: fc.nat({ max: 10_000 }),
      psnrDb: fc.double({ min: 0, max: 100, noNaN: true }),
      ssimPercent: fc.double({ min: 0, max: 100, noNaN: true }),
      errors: fc.nat({ max: 100_000 }),
      node: fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz-0123456789 "\\'.split('')), maxLength: 20 }),
    })
    fc.assert(
      fc.property(arb, (q) => {
        const v: CmsdStatic = {
          objectType: 'av',
          streamingFormat: 'd',
          streamType: 'l',
          node: q.node,
          quality: { segmentNumber: q.segmentNumber, video: { score: q.score, frames: q.frames, min: q.min }, psnrDb: q.psnrDb, ssimPercent: q.ssimPercent, errors: q.errors },
        }
        const header = encodeCmsdStatic(v)
        const rounded = { ...v, quality: { ...v.quality!, psnrDb: Number(formatDecimal(q.psnrDb)), ssimPercent: Number(formatDecimal(q.ssimPercent)) } }
        expect(decodeCmsdStatic(header)).toEqual(rounded)
        const cml = cmlDecodeStatic(header) as Record<string, unknown>
        expect(cml.n).toBe(q.node)
        const sh = parseDictionary(header)
        expect((sh.get(CmsdMqaKey.VIDEO) as [number, Map<string, unknown>])[1].get('sn')).toBe(q.segmentNumber)
      }),
      { numRuns: 300 },
    )
  })

  it.each([
    ['ot=v,,br=1', /not a structured-field dictionary/],
    ['ot=x', /`ot` must be one of the tokens v, a, av/],
    ['br=-5', /`br` must be a non-negative integer/],
    ['n=pkg', /`n` must be a string/],
    ['org.svta.mqa-video=83', /integer parameter `sn`/],
    ['org.svta.mqa-video=83;sn=1;min=80', /integer parameter `nf`/],
    ['org.svta.mqa-video=120;sn=1;nf=2;min=80', /integer from 0 to 100/],
    ['org.svta.mqa-video=83;sn=1;nf=2;min=80,org.svta.mqa-psnr=40.0;sn=2', /different segments: sn=1 and sn=2/],
  ])('rejects %s', (header, message) => {
    const err = catchError(() => decodeCmsdStatic(header))
    expect(err.code).toBe(ErrorCode.CMSD_INVALID)
    expect(err.message).toMatch(message)
  })

  it('keeps keys it does not know', () => {
    expect(decodeCmsdStatic('ot=v,com.example-x=5,su').unknown).toEqual(
      new Map([
        ['com.example-x', [5, new Map()]],
        ['su', [true, new Map()]],
      ]),
    )
  })

  it('refuses to write values the wire format cannot hold', () => {
    expect(catchError(() => encodeCmsdStatic({ bitrateKbps: 1.5 })).code).toBe(ErrorCode.VALUE_RANGE)
    expect(catchError(() => encodeCmsdStatic({ quality: { segmentNumber: 1, video: { score: 101, frames: 1, min: 1 } } })).code).toBe(ErrorCode.VALUE_RANGE)
    expect(catchError(() => encodeCmsdStatic({ node: 'é' })).code).toBe(ErrorCode.VALUE_RANGE)
  })
})

describe('CMSD-Dynamic', () => {
  it('appends one item per hop, as in WIRE-FORMAT.md §3', () => {
    const pkg = appendCmsdDynamic(undefined, { node: 'pkg-a', rd: 1 })
    expect(pkg).toBe('"pkg-a";rd=1')
    const origin = appendCmsdDynamic(pkg, { node: 'origin-1', rd: 3, mqaSource: 'a' })
    expect(origin).toBe('"pkg-a";rd=1,"origin-1";rd=3;org.svta.mqa-src=a')
    expect(decodeCmsdDynamic(origin)).toEqual([
      { node: 'pkg-a', rd: 1 },
      { node: 'origin-1', rd: 3, mqaSource: 'a' },
    ])
  })

  it('decodes with CML and structured-headers', () => {
    const header = appendCmsdDynamic('"pkg-b";etp=5000;rtt=12', { node: 'origin-1', rd: 3, du: true, mqaSource: 'b' })
    const cml = cmlDecodeDynamic(header)
    expect(cml.map((e) => e.value)).toEqual(['pkg-b', 'origin-1'])
    expect(cml[0]!.params).toMatchObject({ etp: 5000, rtt: 12 })
    expect(cml[1]!.params).toMatchObject({ rd: 3, du: true })
    const src = (cml[1]!.params as Record<string, unknown>)['org.svta.mqa-src']
    expect(typeof src === 'symbol' ? src.description : String(src)).toBe('b') // CML gives tokens as symbols
    const list = parseList(header)
    expect(list[1]![1].get('org.svta.mqa-src')).toEqual(new Token('b'))
    expect(encodeCmsdDynamicEntry({ node: 'x', du: true })).toBe('"x";du')
  })

  it('rejects a malformed upstream header instead of passing it on', () => {
    expect(catchError(() => appendCmsdDynamic('pkg-a;rd=', { node: 'o' })).code).toBe(ErrorCode.CMSD_INVALID)
    expect(catchError(() => decodeCmsdDynamic('pkg-a')).message).toMatch(/must be a string naming the node/)
    expect(catchError(() => decodeCmsdDynamic('"a";rd=-1')).message).toMatch(/`rd` must be a non-negative integer/)
  })
})
