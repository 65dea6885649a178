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
    dict = parseDictionary(text)
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

  const fields: Record<string, unknown> = {}
  const unknown = new Map<string, BareItem>()
  for (const [key, member] of dict) {
    if (Array.isArray(member[0])) {
      unknown.set(key, member[0] as unknown as BareItem)
      continue
    }
    const value = member[0] as BareItem
    const bad = (want: string): never => {
      throw new MqaError(ErrorCode.PAYLOAD_VALUE, `MQA payload key \`${key}\` must be ${want}, got ${describe(value)}`, { offset })
    }
    switch (key) {
      case PayloadKey.VERSION:
        break
      case PayloadKey.SCOPE:
        if (!(value instanceof Token) || (value.toString() !== ScoreScope.FRAME && value.toString() !== ScoreScope.GOP)) bad('the token f or g')
        fields.scope = value.toString()
        break
      case PayloadKey.FRAME_NUMBER:
        fields.frameNumber = nonNegativeInteger(value, bad)
        break
      case PayloadKey.TIMECODE:
        if (typeof value !== 'string') bad('a string "HH:MM:SS:FF"')
        try {
          parseTimecode(value as string)
        } catch {
          bad('a timecode "HH:MM:SS:FF"')
        }
        fields.timecode = value
        break
      case PayloadKey.PSNR:
      case PayloadKey.PSNR_Y:
        if (typeof value !== 'number' || value < 0 || value > PSNR_CAP_DB) bad(`a decimal from 0 to ${PSNR_CAP_DB} dB`)
        fields[key === PayloadKey.PSNR ? 'psnrDb' : 'psnrYDb'] = value
        break
      case PayloadKey.SSIM:
      case PayloadKey.SSIM_Y:
        if (typeof value !== 'number' || value < -1 || value > 1) bad('a decimal from -1 to 1')
        fields[key === PayloadKey.SSIM ? 'ssim' : 'ssimY'] = value
        break
      case PayloadKey.MQA:
      case PayloadKey.AUDIO:
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 100) bad('an integer from 0 to 100')
        fields[key === PayloadKey.MQA ? 'mqa' : 'audio'] = value
        break
      case PayloadKey.ERRORS:
        fields.errors = nonNegativeInteger(value, bad)
        break
      case PayloadKey.DROPPED:
        fields.dropped = nonNegativeInteger(value, bad)
        break
      case PayloadKey.FRAMES:
        fields.frames = nonNegativeInteger(value, bad)
        break
      case PayloadKey.FROZEN:
      case PayloadKey.BLACK:
      case PayloadKey.UNMEASURED:
        if (typeof value !== 'boolean') bad('a boolean')
        fields[key === PayloadKey.FROZEN ? 'frozen' : key === PayloadKey.BLACK ? 'black' : 'unmeasured'] = value
        break
      default:
        unknown.set(key, value)
    }
  }
  const record = mqaRecord(fields as MqaRecordInput)
  validateRecord(record, offset)
  return { kind: 'record', record: unknown.size > 0 ? { ...record, unknown } : record }
}

function validateRecord(r: MqaRecord, offset: number): void {
  const bad = (msg: string): never => {
    throw new MqaError(ErrorCode.PAYLOAD_VALUE, msg, { offset })
  }
  if (r.unmeasured && (r.psnrDb !== undefined || r.ssim !== undefined || r.mqa !== undefined)) {
    bad('MQA payload marks the frame unmeasured (`um`) but carries psnr, ssim or mqa')
  }
  if (r.scope === ScoreScope.FRAME && r.frames !== undefined) bad('MQA payload key `nf` belongs only to a GOP summary (s=g)')
  for (const [name, v] of [
    ['fn', r.frameNumber],
    ['err', r.errors],
    ['drp', r.dropped],
    ['nf', r.frames],
  ] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) bad(`MQA payload key \`${name}\` must be a non-negative integer, got ${v}`)
  }
  for (const [name, v] of [
    ['mqa', r.mqa],
    ['aq', r.audio],
  ] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 100)) bad(`MQA payload key \`${name}\` must be an integer from 0 to 100, got ${v}`)
  }
  for (const [name, v] of [
    ['psnr', r.psnrDb],
    ['psnr-y', r.psnrYDb],
  ] as const) {
    if (v !== undefined && !(v >= 0)) bad(`MQA payload key \`${name}\` must be at least 0 dB, got ${v}`)
  }
  for (const [name, v] of [
    ['ssim', r.ssim],
    ['ssim-y', r.ssimY],
  ] as const) {
    if (v !== undefined && !(v >= -1 && v <= 1)) bad(`MQA payload key \`${name}\` must be from -1 to 1, got ${v}`)
  }
  if (r.timecode !== undefined) parseTimecode(r.timecode)
}

function nonNegativeInteger(value: BareItem, bad: (want: string) => never): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) bad('a non-negative integer')
  return value as number
}

function asciiOf(data: Uint8Array, offset: number): string {
  let s = ''
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!
    if (b < 0x20 || b > 0x7e) {
      throw new MqaError(ErrorCode.PAYLOAD_SYNTAX, `MQA payload byte 0x${b.toString(16).padStart(2, '0')} is not printable US-ASCII`, { offset: offset + i })
    }
    s += String.fromCharCode(b)
  }
  return s
}

function describe(v: unknown): string {
  if (v instanceof Token) return `token ${v.toString()}`
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`
  if (typeof v === 'object' && v !== null) return (v as object).constructor?.name ?? 'object'
  return `${typeof v} ${String(v)}`
}
