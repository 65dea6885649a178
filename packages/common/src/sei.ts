import { ErrorCode, MqaError } from './errors.js'
import { type NalUnit, VideoCodec, H264NalType, H265NalType, isVclNal, isSeiNal, nalHeaderSize, splitAnnexB, splitLengthPrefixed } from './nal.js'
import { escapeRbsp, unescapeRbsp } from './rbsp.js'

/** payloadType of user_data_unregistered (H.264 D.1.6, H.265 D.2.6). */
export const SEI_USER_DATA_UNREGISTERED = 5
/** payloadType of user_data_registered_itu_t_t35 (H.264 D.1.5, H.265 D.2.5): closed captions. */
export const SEI_USER_DATA_REGISTERED_T35 = 4

/** The T.35 header of ATSC A/53 Part 4 caption data: USA (0xB5), ATSC (0x0031), "GA94", cc_data (3). */
const A53_CC_HEADER = [0xb5, 0x00, 0x31, 0x47, 0x41, 0x39, 0x34, 0x03]

export interface SeiMessage {
  readonly payloadType: number
  /** The payload bytes, unescaped. */
  readonly payload: Uint8Array
}

/**
 * Parse an SEI RBSP (NAL header removed, emulation prevention already undone) into its messages.
 * `offset` is where the RBSP starts in the caller's buffer, for error messages.
 */
export function parseSeiRbsp(rbsp: Uint8Array, offset = 0): SeiMessage[] {
  const out: SeiMessage[] = []
  let pos = 0
  if (rbsp.length === 0) throw new MqaError(ErrorCode.SEI_INVALID, 'SEI RBSP is empty', { offset })
  while (pos < rbsp.length) {
    if (isTrailing(rbsp, pos)) return out
    let payloadType = 0
    for (;;) {
      if (pos >= rbsp.length) throw new MqaError(ErrorCode.SEI_TRUNCATED, 'SEI payloadType runs past the end of the NAL', { offset: offset + pos })
      const b = rbsp[pos++]!
      payloadType += b
      if (b !== 0xff) break
    }
    let payloadSize = 0
    for (;;) {
      if (pos >= rbsp.length) throw new MqaError(ErrorCode.SEI_TRUNCATED, `SEI payloadSize of message type ${payloadType} runs past the end of the NAL`, { offset: offset + pos })
      const b = rbsp[pos++]!
      payloadSize += b
      if (b !== 0xff) break
    }
    if (pos + payloadSize > rbsp.length) {
      throw new MqaError(
        ErrorCode.SEI_TRUNCATED,
        `SEI message type ${payloadType} says ${payloadSize} payload bytes but ${rbsp.length - pos} are left`,
        { offset: offset + pos },
      )
    }
    out.push({ payloadType, payload: rbsp.subarray(pos, pos + payloadSize) })
    pos += payloadSize
  }
  // No rbsp_trailing_bits: tolerated, the messages themselves were whole.
  return out
}

/** rbsp_trailing_bits: 0x80 then only zero bytes (cabac_zero_words) to the end. */
function isTrailing(rbsp: Uint8Array, pos: number): boolean {
  if (rbsp[pos] !== 0x80) return false
  for (let i = pos + 1; i < rbsp.length; i++) if (rbsp[i] !== 0) return false
  return true
}

/** Serialize SEI messages into an RBSP with trailing bits (not escaped, no NAL header). */
export function serializeSeiRbsp(messages: readonly SeiMessage[]): Uint8Array {
  const parts: number[] = []
  for (const m of messages) {
    if (!Number.isInteger(m.payloadType) || m.payloadType < 0) throw new MqaError(ErrorCode.VALUE_RANGE, `SEI payloadType ${m.payloadType} is not a non-negative integer`)
    pushFfCoded(parts, m.payloadType)
    pushFfCoded(parts, m.payload.length)
    for (const b of m.payload) parts.push(b)
  }
  parts.push(0x80)
  return Uint8Array.from(parts)
}

function pushFfCoded(out: number[], value: number): void {
  let v = value
  while (v >= 255) {
    out.push(0xff)
    v -= 255
  }
  out.push(v)
}

/** A whole SEI NAL unit (header + escaped RBSP): H.264 type 6, H.265 prefix SEI (4E 01). */
export function buildSeiNal(codec: VideoCodec, messages: readonly SeiMessage[]): Uint8Array {
  const body = escapeRbsp(serializeSeiRbsp(messages))
  const header = codec === VideoCodec.H264 ? [H264NalType.SEI] : [H265NalType.PREFIX_SEI << 1, 0x01]
  const out = new Uint8Array(header.length + body.length)
  out.set(header, 0)
  out.set(body, header.length)
  return out
}

/** The messages of one SEI NAL unit (escaped, header included). */
export function parseSeiNal(codec: VideoCodec, nal: Uint8Array, offset = 0): SeiMessage[] {
  const h = nalHeaderSize(codec)
  if (nal.length <= h) throw new MqaError(ErrorCode.SEI_TRUNCATED, `SEI NAL of ${nal.length} bytes has no RBSP`, { offset })
  return parseSeiRbsp(unescapeRbsp(nal.subarray(h)), offset + h)
}

/**
 * Closed captions as SEI (ATSC A/53 Part 4, in user_data_registered_itu_t_t35, as FFmpeg's libx264
 * wrapper writes them for H.264 and H.265 carries them too): `ccData` is cc_data's triples
 * (cc_valid and cc_type, then two bytes), as FFmpeg's A53_CC frame side data holds them. cc_count
 * is 5 bits: more than 31 triples go into one message each 31.
 */
export function buildA53CaptionSei(ccData: Uint8Array): SeiMessage[] {
  if (ccData.length % 3 !== 0) throw new MqaError(ErrorCode.VALUE_RANGE, `cc_data is whole triples, got ${ccData.length} bytes`)
  const out: SeiMessage[] = []
  for (let at = 0; at < ccData.length; at += 31 * 3) {
    const triples = ccData.subarray(at, Math.min(ccData.length, at + 31 * 3))
    // process_cc_data_flag, cc_count; em_data (0xFF); the triples; marker_bits (0xFF).
    const payload = Uint8Array.from([...A53_CC_HEADER, 0x40 | (triples.length / 3), 0xff, ...triples, 0xff])
    out.push({ payloadType: SEI_USER_DATA_REGISTERED_T35, payload })
  }
  return out
}

/** The cc_data triples of an A/53 caption message (`buildA53CaptionSei`'s inverse); undefined for any other message. */
export function readA53Captions(message: SeiMessage): Uint8Array | undefined {
  const p = message.payload
  if (message.payloadType !== SEI_USER_DATA_REGISTERED_T35 || p.length < A53_CC_HEADER.length + 2 || !A53_CC_HEADER.every((b, i) => p[i] === b)) return undefined
  const count = p[A53_CC_HEADER.length]! & 0x1f
  const from = A53_CC_HEADER.length + 2
  return p.length < from + count * 3 ? undefined : p.slice(from, from + count * 3)
}

/** user_data_unregistered: a 16-byte UUID, then the data. */
export function buildUserDataUnregistered(uuid: Uint8Array, data: Uint8Array): SeiMessage {
  if (uuid.length !== 16) throw new MqaError(ErrorCode.VALUE_RANGE, `a UUID has 16 bytes, got ${uuid.length}`)
  const payload = new Uint8Array(16 + data.length)
  payload.set(uuid, 0)
  payload.set(data, 16)
  return { payloadType: SEI_USER_DATA_UNREGISTERED, payload }
}

export function bytesEqual(a: Uint8Array, aOffset: number, b: Uint8Array): boolean {
  if (aOffset + b.length > a.length) return false
  for (let i = 0; i < b.length; i++) if (a[aOffset + i] !== b[i]) return false
  return true
}

/**
 * The data of a user_data_unregistered message addressed to one of `uuids`, or undefined.
 * Finds it also 16 bytes in, where x265 put its own UUID in front of ours.
 */
export function findUserData(message: SeiMessage, uuids: readonly Uint8Array[]): Uint8Array | undefined {
  if (message.payloadType !== SEI_USER_DATA_UNREGISTERED) return undefined
  const p = message.payload
  for (const uuid of uuids) {
    if (bytesEqual(p, 0, uuid)) return p.subarray(16)
  }
  if (p.length >= 32) {
    for (const uuid of uuids) {
      if (bytesEqual(p, 16, uuid)) return p.subarray(32)
    }
  }
  return undefined
}

/**
 * Where an SEI goes in an access unit: before the first slice (so after AUD, parameter sets and
 * any SEI already there). Throws when the access unit has no slice.
 */
export function seiInsertIndex(codec: VideoCodec, nals: readonly NalUnit[]): number {
  const i = nals.findIndex((n) => isVclNal(codec, n.type))
  if (i < 0) throw new MqaError(ErrorCode.AU_NO_SLICE, `access unit of ${nals.length} NAL units has no slice to put an SEI before`)
  return i
}

/** Insert an SEI NAL (from buildSeiNal) into an Annex B access unit; the other bytes are kept as they were. */
export function insertSeiAnnexB(codec: VideoCodec, au: Uint8Array, seiNal: Uint8Array): Uint8Array {
  const nals = splitAnnexB(au, codec)
  const at = nals[seiInsertIndex(codec, nals)]!.start
  const out = new Uint8Array(au.length + 4 + seiNal.length)
  out.set(au.subarray(0, at), 0)
  out.set([0, 0, 0, 1], at)
  out.set(seiNal, at + 4)
  out.set(au.subarray(at), at + 4 + seiNal.length)
  return out
}

/** Insert an SEI NAL into length-prefixed sample data (MP4/CMAF); the length counts escaped bytes. */
export function insertSeiLengthPrefixed(codec: VideoCodec, au: Uint8Array, seiNal: Uint8Array, lengthSize: 1 | 2 | 4 = 4): Uint8Array {
  const nals = splitLengthPrefixed(au, codec, lengthSize)
  const at = nals[seiInsertIndex(codec, nals)]!.start
  if (seiNal.length >= 2 ** (8 * lengthSize)) throw new MqaError(ErrorCode.VALUE_RANGE, `SEI NAL of ${seiNal.length} bytes does not fit a ${lengthSize}-byte length`)
  const out = new Uint8Array(au.length + lengthSize + seiNal.length)
  out.set(au.subarray(0, at), 0)
  let len = seiNal.length
  for (let i = lengthSize - 1; i >= 0; i--) {
    out[at + i] = len & 0xff
    len = Math.floor(len / 256)
  }
  out.set(seiNal, at + lengthSize)
  out.set(au.subarray(at), at + lengthSize + seiNal.length)
  return out
}

/** All user-data payloads for `uuids` found in the SEI NAL units of one access unit, in order. */
export interface UserDataFound {
  readonly data: Uint8Array[]
  /** SEI NAL units that could not be parsed: skipped, reported, never fatal. */
  readonly errors: MqaError[]
}

export function findUserDataInNals(codec: VideoCodec, nals: readonly NalUnit[], uuids: readonly Uint8Array[]): UserDataFound {
  const data: Uint8Array[] = []
  const errors: MqaError[] = []
  for (const nal of nals) {
    if (!isSeiNal(codec, nal.type)) continue
    let messages: SeiMessage[]
    try {
      messages = parseSeiNal(codec, nal.data, nal.offset)
    } catch (err) {
      if (err instanceof MqaError) {
        errors.push(err)
        continue
      }
      throw err
    }
    for (const m of messages) {
      const d = findUserData(m, uuids)
      if (d) data.push(d)
    }
  }
  return { data, errors }
}
