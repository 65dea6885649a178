import { parseDictionary, Token, type BareItem, type Dictionary } from 'structured-headers'
import { ErrorCode, MqaError } from './errors.js'
import { serializeSfDictionary, sfBoolean, sfDecimal, sfInteger, sfString, sfToken, type SfMember } from './structured-field.js'
import { parseTimecode } from './timecode.js'
import { MQA_PAYLOAD_VERSION, PayloadKey, ScoreScope } from './wire-format.js'

/** The MQA SEI payload (WIRE-FORMAT.md §1), typed. Optional fields are absent when not sent. */
export interface MqaRecord {
  readonly version: number
  readonly scope: ScoreScope
  readonly frameNumber?: number
  readonly timecode?: string
  readonly psnrDb?: number
  readonly psnrYDb?: number
  readonly ssim?: number
  readonly ssimY?: number
  readonly mqa?: number
  /** Input errors charged to this frame (sum over the GOP for a summary). Default 0. */
  readonly errors: number
  readonly dropped: number
  readonly frozen: boolean
  readonly black: boolean
  readonly unmeasured: boolean
  readonly audio?: number
  /** With scope `g`: frames summarised. */
  readonly frames?: number
  /** Keys this reader does not know, kept aside and ignored. */
  readonly unknown?: ReadonlyMap<string, BareItem>
}

export type MqaRecordInput = Partial<Omit<MqaRecord, 'version' | 'unknown'>>

export type DecodedPayload =
  | { readonly kind: 'record'; readonly record: MqaRecord }
  /** A payload of another version: skipped, as the wire format says readers do. */
  | { readonly kind: 'skipped'; readonly version: number; readonly reason: string }

const PSNR_CAP_DB = 100

/** A record with its defaults filled in. */
export function mqaRecord(input: MqaRecordInput): MqaRecord {
  return {
    version: MQA_PAYLOAD_VERSION,
    scope: input.scope ?? ScoreScope.FRAME,
    errors: 0,
    dropped: 0,
    frozen: false,
    black: false,
    unmeasured: false,
    ...stripUndefined(input),
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v
  return out
}

/** Serialize a record to the payload string (US-ASCII, compact, no NUL). */
export function encodeMqaPayload(input: MqaRecordInput): string {
  const r = mqaRecord(input)
  validateRecord(r, 0)
  const m: SfMember[] = [{ key: PayloadKey.VERSION, value: sfInteger(MQA_PAYLOAD_VERSION) }]
  if (r.scope !== ScoreScope.FRAME) m.push({ key: PayloadKey.SCOPE, value: sfToken(r.scope) })
  if (r.frameNumber !== undefined) m.push({ key: PayloadKey.FRAME_NUMBER, value: sfInteger(r.frameNumber) })
  if (r.timecode !== undefined) m.push({ key: PayloadKey.TIMECODE, value: sfString(r.timecode) })
  if (r.psnrDb !== undefined) m.push({ key: PayloadKey.PSNR, value: sfDecimal(Math.min(r.psnrDb, PSNR_CAP_DB)) })
  if (r.psnrYDb !== undefined) m.push({ key: PayloadKey.PSNR_Y, value: sfDecimal(Math.min(r.psnrYDb, PSNR_CAP_DB)) })
  if (r.ssim !== undefined) m.push({ key: PayloadKey.SSIM, value: sfDecimal(r.ssim) })
  if (r.ssimY !== undefined) m.push({ key: PayloadKey.SSIM_Y, value: sfDecimal(r.ssimY) })
  if (r.mqa !== undefined) m.push({ key: PayloadKey.MQA, value: sfInteger(r.mqa) })
  if (r.errors > 0) m.push({ key: PayloadKey.ERRORS, value: sfInteger(r.errors) })
  if (r.dropped > 0) m.push({ key: PayloadKey.DROPPED, value: sfInteger(r.dropped) })
  if (r.frozen) m.push({ key: PayloadKey.FROZEN, value: sfBoolean(true) })
  if (r.black) m.push({ key: PayloadKey.BLACK, value: sfBoolean(true) })
  if (r.unmeasured) m.push({ key: PayloadKey.UNMEASURED, value: sfBoolean(true) })
  if (r.audio !== undefined) m.push({ key: PayloadKey.AUDIO, value: sfInteger(r.audio) })
  if (r.frames !== undefined) m.push({ key: PayloadKey.FRAMES, value: sfInteger(r.frames) })
  return serializeSfDictionary(m)
}

/** The payload as the bytes that follow the UUID in the SEI. */
export function encodeMqaPayloadBytes(input: MqaRecordInput): Uint8Array {
  return new TextEncoder().encode(encodeMqaPayload(input))
}

/**
 * Decode a payload (the bytes after the UUID). `offset` locates it in the caller's buffer for
 * error messages. Unknown keys are kept aside; an unknown version is skipped; bad values throw.
 */
export function decodeMqaPayload(data: Uint8Array | string, offset = 0): DecodedPayload {
  const text = typeof data === 'string' ? data : asciiOf(data, offset)
  let dict: Dictionary
  try {
    dict = parseSimpleDictionary(text) ?? parseDictionary(text)
  } catch (err) {
    throw new MqaError(ErrorCode.PAYLOAD_SYNTAX, `MQA payload is not a structured-field dictionary: ${(err as Error).message}: ${JSON.stringify(text.slice(0, 80))}`, {
      offset,
      cause: err,
    })
  }
  const version = dict.get(PayloadKey.VERSION)?.[0]
  if (version === undefined) throw new MqaError(ErrorCode.PAYLOAD_VALUE, 'MQA payload has no version key `v`', { offset })
  if (typeof version !== 'number' || !Number.isInteger(version)) {
    throw new MqaError(ErrorCode.PAYLOAD_VALUE, `MQA payload version \`v\` must be an integer, got ${describe(version)}`, { offset })
  }
  if (version !== MQA_PAYLOAD_VERSION) return { kind: 'skipped', version, reason: `payload version ${version}; this reader knows ${MQA_PAYLOAD_VERSION}` }

  // One object of a fixed shape, filled in place: this runs for every frame a packager reads.
  const r: Mutable<MqaRecord> = {
    version,
    scope: ScoreScope.FRAME,
    frameNumber: undefined,
    timecode: undefined,
    psnrDb: undefined,
    psnrYDb: undefined,
    ssim: undefined,
    ssimY: undefined,
    mqa: undefined,
    errors: 0,
    dropped: 0,
    frozen: false,
    black: false,
    unmeasured: false,
    audio: undefined,
    frames: undefined,
    unknown: undefined,
  }
  let unknown: Map<string, BareItem> | undefined
  for (const [key, member] of dict) {
    const value = member[0] as BareItem
    if (Array.isArray(value)) {
      ;(unknown ??= new Map()).set(key, value as unknown as BareItem)
      continue
    }
    switch (key) {
      case PayloadKey.VERSION:
        break
      case PayloadKey.SCOPE:
        if (!(value instanceof Token) || (value.toString() !== ScoreScope.FRAME && value.toString() !== ScoreScope.GOP)) badValue(key, 'the token f or g', value, offset)
        r.scope = value.toString() as ScoreScope
        break
      case PayloadKey.FRAME_NUMBER:
        r.frameNumber = nonNegativeInteger(key, value, offset)
        break
      case PayloadKey.TIMECODE:
        if (typeof value !== 'string') badValue(key, 'a string "HH:MM:SS:FF"', value, offset)
        try {
          parseTimecode(value as string)
        } catch {
          badValue(key, 'a timecode "HH:MM:SS:FF"', value, offset)
        }
        r.timecode = value as string
        break
      case PayloadKey.PSNR:
        r.psnrDb = decimalIn(key, value, 0, PSNR_CAP_DB, offset)
        break
      case PayloadKey.PSNR_Y:
        r.psnrYDb = decimalIn(key, value, 0, PSNR_CAP_DB, offset)
        break
      case PayloadKey.SSIM:
        r.ssim = decimalIn(key, value, -1, 1, offset)
        break
      case PayloadKey.SSIM_Y:
        r.ssimY = decimalIn(key, value, -1, 1, offset)
        break
      case PayloadKey.MQA:
        r.mqa = percentValue(key, value, offset)
        break
      case PayloadKey.AUDIO:
        r.audio = percentValue(key, value, offset)
        break
      case PayloadKey.ERRORS:
        r.errors = nonNegativeInteger(key, value, offset)
        break
      case PayloadKey.DROPPED:
        r.dropped = nonNegativeInteger(key, value, offset)
        break
      case PayloadKey.FRAMES:
        r.frames = nonNegativeInteger(key, value, offset)
        break
      case PayloadKey.FROZEN:
        r.frozen = booleanValue(key, value, offset)
        break
      case PayloadKey.BLACK:
        r.black = booleanValue(key, value, offset)
        break
      case PayloadKey.UNMEASURED:
        r.unmeasured = booleanValue(key, value, offset)
        break
      default:
        ;(unknown ??= new Map()).set(key, value)
    }
  }
  r.unknown = unknown
  if (r.unmeasured && (r.psnrDb !== undefined || r.ssim !== undefined || r.mqa !== undefined)) {
    throw new MqaError(ErrorCode.PAYLOAD_VALUE, 'MQA payload marks the frame unmeasured (`um`) but carries psnr, ssim or mqa', { offset })
  }
  if (r.scope === ScoreScope.FRAME && r.frames !== undefined) {
    throw new MqaError(ErrorCode.PAYLOAD_VALUE, 'MQA payload key `nf` belongs only to a GOP summary (s=g)', { offset })
  }
  return { kind: 'record', record: r }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

function badValue(key: string, want: string, value: unknown, offset: number): never {
  throw new MqaError(ErrorCode.PAYLOAD_VALUE, `MQA payload key \`${key}\` must be ${want}, got ${describe(value)}`, { offset })
}

function decimalIn(key: string, value: BareItem, lo: number, hi: number, offset: number): number {
  if (typeof value !== 'number' || !(value >= lo && value <= hi)) badValue(key, `a decimal from ${lo} to ${hi}${key.startsWith('psnr') ? ' dB' : ''}`, value, offset)
  return value as number
}

function percentValue(key: string, value: BareItem, offset: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 100) badValue(key, 'an integer from 0 to 100', value, offset)
  return value as number
}

function booleanValue(key: string, value: BareItem, offset: number): boolean {
  if (typeof value !== 'boolean') badValue(key, 'a boolean', value, offset)
  return value as boolean
}

function validateRecord(r: MqaRecord, offset: number): void {
  const bad = (msg: string): never => {
    throw new MqaError(ErrorCode.PAYLOAD_VALUE, msg, { offset })
  }
  if (r.unmeasured && (r.psnrDb !== undefined || r.ssim !== undefined || r.mqa !== undefined)) {
    bad('MQA payload marks the frame unmeasured (`um`) but carries psnr, ssim or mqa')
  }
  if (r.scope === ScoreScope.FRAME && r.frames !== undefined) bad('MQA payload key `nf` belongs only to a GOP summary (s=g)')
  nonNegative(r.frameNumber, 'fn', bad)
  nonNegative(r.errors, 'err', bad)
  nonNegative(r.dropped, 'drp', bad)
  nonNegative(r.frames, 'nf', bad)
  percent(r.mqa, 'mqa', bad)
  percent(r.audio, 'aq', bad)
  if (r.psnrDb !== undefined && !(r.psnrDb >= 0)) bad(`MQA payload key \`psnr\` must be at least 0 dB, got ${r.psnrDb}`)
  if (r.psnrYDb !== undefined && !(r.psnrYDb >= 0)) bad(`MQA payload key \`psnr-y\` must be at least 0 dB, got ${r.psnrYDb}`)
  if (r.ssim !== undefined && !(r.ssim >= -1 && r.ssim <= 1)) bad(`MQA payload key \`ssim\` must be from -1 to 1, got ${r.ssim}`)
  if (r.ssimY !== undefined && !(r.ssimY >= -1 && r.ssimY <= 1)) bad(`MQA payload key \`ssim-y\` must be from -1 to 1, got ${r.ssimY}`)
  if (r.timecode !== undefined) parseTimecode(r.timecode)
}

function nonNegative(v: number | undefined, name: string, bad: (msg: string) => never): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 0)) bad(`MQA payload key \`${name}\` must be a non-negative integer, got ${v}`)
}

function percent(v: number | undefined, name: string, bad: (msg: string) => never): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 100)) bad(`MQA payload key \`${name}\` must be an integer from 0 to 100, got ${v}`)
}

function nonNegativeInteger(key: string, value: BareItem, offset: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) badValue(key, 'a non-negative integer', value, offset)
  return value as number
}

function asciiOf(data: Uint8Array, offset: number): string {
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!
    if (b < 0x20 || b > 0x7e) {
      throw new MqaError(ErrorCode.PAYLOAD_SYNTAX, `MQA payload byte 0x${b.toString(16).padStart(2, '0')} is not printable US-ASCII`, { offset: offset + i })
    }
  }
  if (latin1Slice) return latin1Slice.call(data, 0, data.length)
  return data.length <= 4096 ? String.fromCharCode.apply(null, data as unknown as number[]) : new TextDecoder('latin1').decode(data)
}

/**
 * The host's native bytes-to-string for one-byte characters, where there is one (Node's Buffer,
 * found at run time: this package imports nothing of Node). About 2× String.fromCharCode.apply on
 * a payload-sized array; the bytes were checked to be printable ASCII first.
 */
const latin1Slice = (globalThis as { Buffer?: { prototype: { latin1Slice?: (this: Uint8Array, start: number, end: number) => string } } }).Buffer?.prototype.latin1Slice

const NO_PARAMS: Map<string, BareItem> = new Map()
/**
 * The payloads we write use a small part of RFC 8941: members `key=value` with no spaces, no
 * parameters, no inner lists, strings without escapes. Parse that part directly, one character
 * code at a time with no regular expression or substring but the key and the value (this runs for
 * every frame a packager reads: about 4× faster than the general parser), and give back undefined
 * for anything else, which the general parser then reads. What this accepts it reads exactly as
 * RFC 8941 does (a property test holds it to `structured-headers`).
 */
export function parseSimpleDictionary(text: string): Dictionary | undefined {
  const dict: Dictionary = new Map()
  const n = text.length
  if (n === 0) return dict
  let pos = 0
  for (;;) {
    // key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )
    const keyStart = pos
    let c = text.charCodeAt(pos)
    if (!((c >= 0x61 && c <= 0x7a) || c === 0x2a)) return undefined
    for (pos++; pos < n; pos++) {
      c = text.charCodeAt(pos)
      if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d || c === 0x2e || c === 0x2a)) break
    }
    const key = text.slice(keyStart, pos)
    let value: BareItem
    if (pos === n || c === 0x2c /* , */) value = true
    else if (c !== 0x3d /* = */) return undefined // parameters, spaces, anything else: the general parser
    else {
      pos++
      let end = text.indexOf(',', pos)
      if (end < 0) end = n
      const parsed = simpleBareItem(text, pos, end)
      if (parsed === undefined) return undefined
      value = parsed
      pos = end
    }
    dict.set(key, [value, NO_PARAMS])
    if (pos === n) return dict
    pos++ // the comma
    if (pos === n) return undefined // a trailing comma: let the general parser say why
  }
}

/** A bare item filling text[from, to): string without escapes, boolean, integer, decimal, token. */
function simpleBareItem(text: string, from: number, to: number): BareItem | undefined {
  if (from >= to) return undefined
  const first = text.charCodeAt(from)
  if (first === 0x22 /* " */) {
    if (to - from < 2 || text.charCodeAt(to - 1) !== 0x22) return undefined
    for (let i = from + 1; i < to - 1; i++) {
      const c = text.charCodeAt(i)
      // No escapes or inner quotes, printable ASCII only; spaces, tabs and ';' go to the general parser.
      if (c < 0x21 || c > 0x7e || c === 0x22 || c === 0x5c || c === 0x3b) return undefined
    }
    return text.slice(from + 1, to - 1)
  }
  if (first === 0x3f /* ? */) {
    if (to - from !== 2) return undefined
    const b = text.charCodeAt(from + 1)
    return b === 0x31 ? true : b === 0x30 ? false : undefined
  }
  if (first === 0x2d /* - */ || (first >= 0x30 && first <= 0x39)) {
    // integer: -?DIGIT{1,15}; decimal: -?DIGIT{1,12} "." DIGIT{1,3}
    let i = first === 0x2d ? from + 1 : from
    const intStart = i
    while (i < to && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++
    const intDigits = i - intStart
    if (intDigits === 0) return undefined
    if (i === to) return intDigits <= 15 ? Number(text.slice(from, to)) : undefined
    if (text.charCodeAt(i) !== 0x2e || intDigits > 12) return undefined
    const fracStart = ++i
    while (i < to && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++
    const fracDigits = i - fracStart
    return i === to && fracDigits >= 1 && fracDigits <= 3 ? Number(text.slice(from, to)) : undefined
  }
  // token = ( ALPHA / "*" ) *( tchar / ":" / "/" )
  if (!((first >= 0x41 && first <= 0x5a) || (first >= 0x61 && first <= 0x7a) || first === 0x2a)) return undefined
  for (let i = from + 1; i < to; i++) if (!isTokenChar(text.charCodeAt(i))) return undefined
  return new Token(text.slice(from, to))
}

/** tchar (RFC 9110) plus ":" and "/", as RFC 8941 sf-token allows after its first character. */
function isTokenChar(c: number): boolean {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return true
  switch (c) {
    case 0x21: case 0x23: case 0x24: case 0x25: case 0x26: case 0x27: case 0x2a: case 0x2b: case 0x2d: case 0x2e: // ! # $ % & ' * + - .
    case 0x5e: case 0x5f: case 0x60: case 0x7c: case 0x7e: case 0x3a: case 0x2f: // ^ _ ` | ~ : /
      return true
    default:
      return false
  }
}

function describe(v: unknown): string {
  if (v instanceof Token) return `token ${v.toString()}`
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`
  if (typeof v === 'object' && v !== null) return (v as object).constructor?.name ?? 'object'
  return `${typeof v} ${String(v)}`
}
