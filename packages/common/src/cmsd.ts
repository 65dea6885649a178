import { parseDictionary, parseList, Token, type BareItem, type Dictionary, type InnerList, type Item, type List } from 'structured-headers'
import { ErrorCode, MqaError } from './errors.js'
import { type AggregateScore } from './scores.js'
import { serializeSfDictionary, serializeSfItem, sfDecimal, sfInteger, sfString, sfToken, type SfBare, type SfMember } from './structured-field.js'
import {
  CMSD_MQA_SOURCE_PARAM,
  CmsdKey,
  CmsdMqaKey,
  CmsdMqaParam,
  CmsdObjectType,
  CmsdStreamingFormat,
  CmsdStreamType,
} from './wire-format.js'

/** One segment's scores as CMSD-Static carries them (WIRE-FORMAT.md §3). */
export interface SegmentQuality {
  /** `sn`: the segment these scores describe (not always the one that carried the header). */
  readonly segmentNumber: number
  /** Mean MQA-VIDEO (rounded), frames in the segment, worst frame. */
  readonly video?: { readonly score: number; readonly frames: number; readonly min: number }
  readonly audio?: { readonly score: number; readonly frames: number }
  readonly psnrDb?: number
  /** Mean SSIM × 100. */
  readonly ssimPercent?: number
  /** Input errors plus missing frames in the segment. */
  readonly errors?: number
}

export interface CmsdStatic {
  readonly objectType?: CmsdObjectType
  readonly streamingFormat?: CmsdStreamingFormat
  readonly streamType?: CmsdStreamType
  readonly bitrateKbps?: number
  readonly durationMs?: number
  readonly node?: string
  readonly availableAtMs?: number
  readonly quality?: SegmentQuality
  /** Keys this reader does not know: kept, ignored. */
  readonly unknown?: ReadonlyMap<string, Item | InnerList>
}

/** A segment's CMSD scores from its aggregate. Frames with no measurement leave the means out. */
export function segmentQualityOf(segmentNumber: number, agg: AggregateScore): SegmentQuality {
  return {
    segmentNumber,
    ...(agg.mqa !== undefined ? { video: { score: Math.round(agg.mqa), frames: agg.frames, min: agg.mqaMin ?? Math.round(agg.mqa) } } : {}),
    ...(agg.audio !== undefined ? { audio: { score: Math.round(agg.audio), frames: agg.audioFrames } } : {}),
    ...(agg.psnrDb !== undefined ? { psnrDb: agg.psnrDb } : {}),
    ...(agg.ssim !== undefined ? { ssimPercent: agg.ssim * 100 } : {}),
    errors: agg.errors + agg.dropped,
  }
}

export function encodeCmsdStatic(value: CmsdStatic): string {
  const m: SfMember[] = []
  if (value.objectType !== undefined) m.push({ key: CmsdKey.OBJECT_TYPE, value: sfToken(value.objectType) })
  if (value.streamingFormat !== undefined) m.push({ key: CmsdKey.STREAMING_FORMAT, value: sfToken(value.streamingFormat) })
  if (value.streamType !== undefined) m.push({ key: CmsdKey.STREAM_TYPE, value: sfToken(value.streamType) })
  if (value.bitrateKbps !== undefined) m.push({ key: CmsdKey.BITRATE_KBPS, value: sfInteger(nonNegInt(value.bitrateKbps, 'br')) })
  if (value.durationMs !== undefined) m.push({ key: CmsdKey.DURATION_MS, value: sfInteger(nonNegInt(value.durationMs, 'd')) })
  if (value.node !== undefined) m.push({ key: CmsdKey.NODE, value: sfString(value.node) })
  if (value.availableAtMs !== undefined) m.push({ key: CmsdKey.AVAILABLE_AT_MS, value: sfInteger(nonNegInt(value.availableAtMs, 'at')) })
  const q = value.quality
  if (q) {
    const sn: [string, SfBare] = [CmsdMqaParam.SEGMENT, sfInteger(nonNegInt(q.segmentNumber, 'sn'))]
    if (q.video) {
      m.push({
        key: CmsdMqaKey.VIDEO,
        value: sfInteger(score(q.video.score, CmsdMqaKey.VIDEO)),
        params: [sn, [CmsdMqaParam.FRAMES, sfInteger(nonNegInt(q.video.frames, 'nf'))], [CmsdMqaParam.MIN, sfInteger(score(q.video.min, 'min'))]],
      })
    }
    if (q.audio) {
      m.push({ key: CmsdMqaKey.AUDIO, value: sfInteger(score(q.audio.score, CmsdMqaKey.AUDIO)), params: [sn, [CmsdMqaParam.FRAMES, sfInteger(nonNegInt(q.audio.frames, 'nf'))]] })
    }
    if (q.psnrDb !== undefined) m.push({ key: CmsdMqaKey.PSNR, value: sfDecimal(q.psnrDb), params: [sn] })
    if (q.ssimPercent !== undefined) m.push({ key: CmsdMqaKey.SSIM, value: sfDecimal(q.ssimPercent), params: [sn] })
    if (q.errors !== undefined) m.push({ key: CmsdMqaKey.ERRORS, value: sfInteger(nonNegInt(q.errors, CmsdMqaKey.ERRORS)), params: [sn] })
  }
  return serializeSfDictionary(m)
}

function nonNegInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 0) throw new MqaError(ErrorCode.VALUE_RANGE, `CMSD ${name} must be a non-negative integer, got ${v}`)
  return v
}

function score(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 100) throw new MqaError(ErrorCode.VALUE_RANGE, `CMSD ${name} must be an integer from 0 to 100, got ${v}`)
  return v
}

const OBJECT_TYPES = new Set<string>(Object.values(CmsdObjectType))
const FORMATS = new Set<string>(Object.values(CmsdStreamingFormat))
const STREAM_TYPES = new Set<string>(Object.values(CmsdStreamType))

/** Read a CMSD-Static header; invalid syntax or a known key of the wrong type throws CMSD_INVALID. */
export function decodeCmsdStatic(header: string): CmsdStatic {
  let dict: Dictionary
  try {
    dict = parseDictionary(header)
  } catch (err) {
    throw new MqaError(ErrorCode.CMSD_INVALID, `CMSD-Static is not a structured-field dictionary: ${(err as Error).message}`, { cause: err })
  }
  const out: Record<string, unknown> = {}
  const unknown = new Map<string, Item | InnerList>()
  const quality: Record<string, unknown> = {}
  let sn: number | undefined
  for (const [key, member] of dict) {
    if (Array.isArray(member[0])) {
      unknown.set(key, member)
      continue
    }
    const [value, params] = member as Item
    const bad = (want: string): never => {
      throw new MqaError(ErrorCode.CMSD_INVALID, `CMSD-Static key \`${key}\` must be ${want}, got ${JSON.stringify(String(value))}`)
    }
    const token = (set: Set<string>): string => (value instanceof Token && set.has(value.toString()) ? value.toString() : bad(`one of the tokens ${[...set].join(', ')}`))
    const int = (): number => (typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : bad('a non-negative integer'))
    const mqaSn = (): number => {
      const p = params.get(CmsdMqaParam.SEGMENT)
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 0) bad('an item with an integer parameter `sn`')
      if (sn !== undefined && sn !== p) {
        throw new MqaError(ErrorCode.CMSD_INVALID, `CMSD-Static MQA keys describe different segments: sn=${sn} and sn=${String(p)}`)
      }
      sn = p as number
      return sn
    }
    const intParam = (name: string): number => {
      const p = params.get(name)
      return typeof p === 'number' && Number.isInteger(p) && p >= 0 ? p : bad(`an item with an integer parameter \`${name}\``)
    }
    switch (key) {
      case CmsdKey.OBJECT_TYPE:
        out.objectType = token(OBJECT_TYPES)
        break
      case CmsdKey.STREAMING_FORMAT:
        out.streamingFormat = token(FORMATS)
        break
      case CmsdKey.STREAM_TYPE:
        out.streamType = token(STREAM_TYPES)
        break
      case CmsdKey.BITRATE_KBPS:
        out.bitrateKbps = int()
        break
      case CmsdKey.DURATION_MS:
        out.durationMs = int()
        break
      case CmsdKey.AVAILABLE_AT_MS:
        out.availableAtMs = int()
        break
      case CmsdKey.NODE:
        out.node = typeof value === 'string' ? value : bad('a string')
        break
      case CmsdMqaKey.VIDEO:
        mqaSn()
        quality.video = { score: scoreOf(value, bad), frames: intParam(CmsdMqaParam.FRAMES), min: scoreOf(params.get(CmsdMqaParam.MIN) ?? value, bad) }
        break
      case CmsdMqaKey.AUDIO:
        mqaSn()
        quality.audio = { score: scoreOf(value, bad), frames: intParam(CmsdMqaParam.FRAMES) }
        break
      case CmsdMqaKey.PSNR:
        mqaSn()
        quality.psnrDb = typeof value === 'number' && value >= 0 ? value : bad('a non-negative decimal')
        break
      case CmsdMqaKey.SSIM:
        mqaSn()
        quality.ssimPercent = typeof value === 'number' && value >= -100 && value <= 100 ? value : bad('a decimal from -100 to 100')
        break
      case CmsdMqaKey.ERRORS:
        mqaSn()
        quality.errors = int()
        break
      default:
        unknown.set(key, member)
    }
  }
  if (sn !== undefined) out.quality = { segmentNumber: sn, ...quality }
  if (unknown.size > 0) out.unknown = unknown
  return out as CmsdStatic
}

function scoreOf(value: BareItem, bad: (want: string) => never): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 100 ? value : bad('an integer from 0 to 100')
}

/** One hop's CMSD-Dynamic item (CTA-5006 parameters plus the origin's chain). */
export interface CmsdDynamicEntry {
  readonly node: string
  /** Estimated throughput, kbps. */
  readonly etp?: number
  /** Round-trip time, ms. */
  readonly rtt?: number
  /** Response delay, ms. */
  readonly rd?: number
  readonly du?: boolean
  /** `org.svta.mqa-src`: the chain the origin served. */
  readonly mqaSource?: string
  readonly unknown?: ReadonlyMap<string, BareItem>
}

export function encodeCmsdDynamicEntry(entry: CmsdDynamicEntry): string {
  const params: [string, SfBare][] = []
  if (entry.etp !== undefined) params.push(['etp', sfInteger(nonNegInt(entry.etp, 'etp'))])
  if (entry.rtt !== undefined) params.push(['rtt', sfInteger(nonNegInt(entry.rtt, 'rtt'))])
  if (entry.rd !== undefined) params.push(['rd', sfInteger(nonNegInt(entry.rd, 'rd'))])
  if (entry.du) params.push(['du', { kind: 'boolean', value: true }])
  if (entry.mqaSource !== undefined) params.push([CMSD_MQA_SOURCE_PARAM, sfToken(entry.mqaSource)])
  return serializeSfItem(sfString(entry.node), params)
}

/** Append this hop's item to an upstream CMSD-Dynamic header (absent or empty: start a new one). */
export function appendCmsdDynamic(upstream: string | undefined, entry: CmsdDynamicEntry): string {
  const item = encodeCmsdDynamicEntry(entry)
  if (upstream === undefined || upstream.trim() === '') return item
  decodeCmsdDynamic(upstream) // throws CMSD_INVALID on a malformed upstream header
  return `${upstream.trim()},${item}`
}

export function decodeCmsdDynamic(header: string): CmsdDynamicEntry[] {
  let list: List
  try {
    list = parseList(header)
  } catch (err) {
    throw new MqaError(ErrorCode.CMSD_INVALID, `CMSD-Dynamic is not a structured-field list: ${(err as Error).message}`, { cause: err })
  }
  return list.map((member, i) => {
    const [value, params] = member
    if (Array.isArray(value) || typeof value !== 'string') {
      throw new MqaError(ErrorCode.CMSD_INVALID, `CMSD-Dynamic item ${i} must be a string naming the node`)
    }
    const entry: Record<string, unknown> = { node: value }
    const unknown = new Map<string, BareItem>()
    for (const [k, p] of params) {
      const int = () => {
        if (typeof p !== 'number' || !Number.isInteger(p) || p < 0) {
          throw new MqaError(ErrorCode.CMSD_INVALID, `CMSD-Dynamic item ${i} parameter \`${k}\` must be a non-negative integer`)
        }
        return p
      }
      if (k === 'etp' || k === 'rtt' || k === 'rd') entry[k] = int()
      else if (k === 'du') entry.du = p === true
      else if (k === CMSD_MQA_SOURCE_PARAM) {
        if (!(p instanceof Token)) throw new MqaError(ErrorCode.CMSD_INVALID, `CMSD-Dynamic item ${i} parameter \`${k}\` must be a token`)
        entry.mqaSource = p.toString()
      } else unknown.set(k, p)
    }
    if (unknown.size > 0) entry.unknown = unknown
    return entry as unknown as CmsdDynamicEntry
  })
}
