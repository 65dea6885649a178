import { ErrorCode, MqaError } from './errors.js'

export const VideoCodec = { H264: 'h264', H265: 'h265' } as const
export type VideoCodec = (typeof VideoCodec)[keyof typeof VideoCodec]

/** H.264 nal_unit_type values this project cares about (Table 7-1). */
export const H264NalType = {
  SLICE: 1,
  IDR: 5,
  SEI: 6,
  SPS: 7,
  PPS: 8,
  AUD: 9,
} as const

/** H.265 nal_unit_type values this project cares about (Table 7-1). */
export const H265NalType = {
  IDR_W_RADL: 19,
  IDR_N_LP: 20,
  CRA: 21,
  VPS: 32,
  SPS: 33,
  PPS: 34,
  AUD: 35,
  PREFIX_SEI: 39,
  SUFFIX_SEI: 40,
} as const

/** One NAL unit: `data` is the escaped NAL (header included), a view into the input. */
export interface NalUnit {
  readonly type: number
  readonly data: Uint8Array
  /** Offset of `data` in the buffer it was split from. */
  readonly offset: number
  /** Offset of the start code (Annex B) or length prefix in front of it. */
  readonly start: number
}

export function nalHeaderSize(codec: VideoCodec): number {
  return codec === VideoCodec.H264 ? 1 : 2
}

export function nalType(codec: VideoCodec, firstByte: number): number {
  return codec === VideoCodec.H264 ? firstByte & 0x1f : (firstByte >> 1) & 0x3f
}

export function isVclNal(codec: VideoCodec, type: number): boolean {
  return codec === VideoCodec.H264 ? type >= 1 && type <= 5 : type <= 31
}

/** An IDR (H.264) or IRAP (H.265: BLA, IDR, CRA) slice: decoding can start here. */
export function isKeyframeNal(codec: VideoCodec, type: number): boolean {
  return codec === VideoCodec.H264 ? type === H264NalType.IDR : type >= 16 && type <= 23
}

export function isSeiNal(codec: VideoCodec, type: number): boolean {
  return codec === VideoCodec.H264 ? type === H264NalType.SEI : type === H265NalType.PREFIX_SEI || type === H265NalType.SUFFIX_SEI
}

export interface NalHeader {
  readonly type: number
  /** H.264 nal_ref_idc; 0 for H.265. */
  readonly refIdc: number
  /** H.265 nuh_layer_id; 0 for H.264. */
  readonly layerId: number
  /** H.265 nuh_temporal_id_plus1 − 1; 0 for H.264. */
  readonly temporalId: number
}

/** Parse a NAL header; `offset` is only used in error messages. */
export function parseNalHeader(codec: VideoCodec, nal: Uint8Array, offset = 0): NalHeader {
  const size = nalHeaderSize(codec)
  if (nal.length < size) {
    throw new MqaError(ErrorCode.NAL_TRUNCATED, `${codec} NAL header needs ${size} bytes, got ${nal.length}`, { offset })
  }
  const b0 = nal[0]!
  if (b0 & 0x80) throw new MqaError(ErrorCode.NAL_INVALID, `NAL forbidden_zero_bit is set (first byte 0x${hex(b0)})`, { offset })
  if (codec === VideoCodec.H264) return { type: b0 & 0x1f, refIdc: (b0 >> 5) & 3, layerId: 0, temporalId: 0 }
  const b1 = nal[1]!
  const tid1 = b1 & 7
  if (tid1 === 0) throw new MqaError(ErrorCode.NAL_INVALID, 'H.265 NAL nuh_temporal_id_plus1 is 0', { offset: offset + 1 })
  return { type: (b0 >> 1) & 0x3f, refIdc: 0, layerId: ((b0 & 1) << 5) | (b1 >> 3), temporalId: tid1 - 1 }
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0')
}

/**
 * Node's Buffer, when there is one, searches for a 3-byte needle natively (several GB/s) without
 * an import, so this module stays free of Node built-ins and still runs in a browser.
 */
interface NativeBytes extends Uint8Array {
  indexOf(value: Uint8Array | number, byteOffset?: number): number
}
const NativeBuffer = (globalThis as { Buffer?: { from(ab: ArrayBufferLike, offset: number, length: number): NativeBytes; isBuffer(b: unknown): boolean } }).Buffer
const START_CODE_3 = new Uint8Array([0, 0, 1])

/** A view of the same bytes that searches natively where the platform can (no copy). */
export function searchable(buf: Uint8Array): Uint8Array {
  if (!NativeBuffer || NativeBuffer.isBuffer(buf)) return buf
  return NativeBuffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
}

/**
 * Position of the next 00 00 01 in buf[from, end), or −1. On a Node Buffer the engine's native
 * 3-byte search does the work; elsewhere it scans for the rarer 01 byte and looks back.
 */
export function findStartCode(buf: Uint8Array, from: number, end = buf.length): number {
  if (NativeBuffer && NativeBuffer.isBuffer(buf)) {
    // Bound the search to `end`: past it may lie stale bytes (or a long run of zeros) to scan for nothing.
    const view = (end < buf.length ? buf.subarray(0, end) : buf) as NativeBytes
    return view.indexOf(START_CODE_3, from)
  }
  let i = buf.indexOf(1, from + 2)
  while (i >= 0 && i < end) {
    if (buf[i - 1] === 0 && buf[i - 2] === 0) return i - 2
    i = buf.indexOf(1, i + 1)
  }
  return -1
}

/** Trailing zero bytes belong to the next start code (zero_byte / trailing_zero_8bits), not the NAL. */
function trimTrailingZeros(buf: Uint8Array, begin: number, end: number): number {
  while (end > begin && buf[end - 1] === 0) end--
  return end
}

/** Split a whole Annex B buffer into NAL units. Bytes before the first start code are ignored. */
export function splitAnnexB(input: Uint8Array, codec: VideoCodec): NalUnit[] {
  const buf = searchable(input)
  const out: NalUnit[] = []
  let sc = findStartCode(buf, 0)
  while (sc >= 0) {
    const begin = sc + 3
    const next = findStartCode(buf, begin)
    const end = trimTrailingZeros(buf, begin, next < 0 ? buf.length : next)
    const start = sc > 0 && buf[sc - 1] === 0 ? sc - 1 : sc
    if (end > begin) out.push({ type: nalType(codec, buf[begin]!), data: buf.subarray(begin, end), offset: begin, start })
    sc = next
  }
  return out
}

/**
 * Streaming Annex B splitter (push/flush): a start code or NAL split across chunks still parses.
 * The carry-over (bytes since the last start code) lives in a buffer that doubles when full, so a
 * NAL spread over many chunks costs linear time. Emitted NAL data are copies the caller owns.
 */
export class AnnexBSplitter {
  readonly codec: VideoCodec
  #buf: Uint8Array = searchable(new Uint8Array(64 * 1024))
  /** Live bytes are #buf[#start, #len); what lies before #start is consumed. */
  #start = 0
  #len = 0
  /** Offset in #buf of the current NAL's start code, or −1 before the first one. */
  #current = -1
  /** Where the next start-code search may begin (already-scanned bytes are skipped). */
  #scanFrom = 0
  /** Stream offset of #buf[0], for NalUnit.offset and error messages. */
  #base = 0
  readonly #maxNalBytes: number

  constructor(codec: VideoCodec, options: { maxNalBytes?: number } = {}) {
    this.codec = codec
    this.#maxNalBytes = options.maxNalBytes ?? 64 * 1024 * 1024
  }

  push(chunk: Uint8Array): NalUnit[] {
    this.#append(chunk)
    const buf = this.#buf
    const len = this.#len
    const out: NalUnit[] = []
    let sc = this.#current >= 0 ? this.#current : findStartCode(buf, Math.max(this.#start, this.#scanFrom), len)
    let from = this.#current >= 0 ? Math.max(this.#scanFrom, sc + 3) : this.#start
    while (sc >= 0) {
      const next = findStartCode(buf, from, len)
      if (next < 0) break
      this.#emit(sc, next, out)
      sc = next
      from = sc + 3
    }
    if (sc < 0) {
      // No start code yet: only the last two bytes may begin one, after the zero of a 4-byte one.
      this.#discardBefore(Math.max(this.#start, len - 3))
      this.#current = -1
      this.#scanFrom = 0
      return out
    }
    if (len - sc > this.#maxNalBytes) {
      const offset = this.#base + sc
      this.#current = -1
      this.#discardBefore(len)
      this.#scanFrom = 0
      throw new MqaError(ErrorCode.NAL_INVALID, `NAL unit longer than ${this.#maxNalBytes} bytes with no start code after it`, { offset })
    }
    // Keep one byte before the start code: it may be the zero of a 4-byte start code.
    const keepFrom = sc > this.#start && buf[sc - 1] === 0 ? sc - 1 : sc
    this.#discardBefore(keepFrom)
    this.#current = sc
    // A start code may straddle the end: rescan the last two bytes next time.
    this.#scanFrom = Math.max(this.#current + 3, this.#len - 2)
    return out
  }

  /** End of stream: the last NAL. */
  flush(): NalUnit[] {
    const out: NalUnit[] = []
    if (this.#current >= 0) this.#emit(this.#current, this.#len, out)
    this.#discardBefore(this.#len)
    this.#current = -1
    this.#scanFrom = 0
    return out
  }

  #append(chunk: Uint8Array): void {
    if (this.#len + chunk.length > this.#buf.length && this.#start > 0) {
      // Compact only when out of room, so each byte moves O(1) times on average.
      const shift = this.#start
      this.#buf.copyWithin(0, shift, this.#len)
      this.#len -= shift
      this.#base += shift
      this.#start = 0
      if (this.#current >= 0) this.#current -= shift
      this.#scanFrom = Math.max(0, this.#scanFrom - shift)
    }
    const need = this.#len + chunk.length
    if (need > this.#buf.length) {
      let size = this.#buf.length
      while (size < need) size *= 2
      const grown = searchable(new Uint8Array(size))
      grown.set(this.#buf.subarray(0, this.#len), 0)
      this.#buf = grown
    }
    this.#buf.set(chunk, this.#len)
    this.#len = need
  }

  /** Mark bytes before `pos` consumed (views handed out were copies, so the space is reused). */
  #discardBefore(pos: number): void {
    if (pos > this.#start) this.#start = pos
    if (this.#start === this.#len) {
      this.#base += this.#len
      this.#start = 0
      this.#len = 0
      if (this.#current >= 0) this.#current = -1
      this.#scanFrom = 0
    }
  }

  #emit(sc: number, next: number, out: NalUnit[]): void {
    const buf = this.#buf
    const begin = sc + 3
    const end = trimTrailingZeros(buf, begin, next)
    if (end <= begin) return
    const start = sc > this.#start && buf[sc - 1] === 0 ? sc - 1 : sc
    // A copy: Buffer#slice would be a view, and this buffer is reused.
    const data = new Uint8Array(end - begin)
    data.set(buf.subarray(begin, end))
    out.push({ type: nalType(this.codec, data[0]!), data, offset: this.#base + begin, start: this.#base + start })
  }
}

/** Split length-prefixed NAL units (AVCC/HVCC sample data, as MP4 demuxers give). */
export function splitLengthPrefixed(buf: Uint8Array, codec: VideoCodec, lengthSize: 1 | 2 | 4 = 4): NalUnit[] {
  const out: NalUnit[] = []
  let pos = 0
  while (pos < buf.length) {
    if (pos + lengthSize > buf.length) {
      throw new MqaError(ErrorCode.NAL_TRUNCATED, `${lengthSize}-byte NAL length prefix cut short: ${buf.length - pos} bytes left`, { offset: pos })
    }
    let len = 0
    for (let i = 0; i < lengthSize; i++) len = len * 256 + buf[pos + i]!
    const begin = pos + lengthSize
    if (len === 0 || begin + len > buf.length) {
      throw new MqaError(ErrorCode.NAL_INVALID, `NAL length ${len} does not fit in the ${buf.length - begin} bytes left`, { offset: pos })
    }
    out.push({ type: nalType(codec, buf[begin]!), data: buf.subarray(begin, begin + len), offset: begin, start: pos })
    pos = begin + len
  }
  return out
}

const START_CODE = new Uint8Array([0, 0, 0, 1])

/** NAL units → Annex B with 4-byte start codes. */
export function joinAnnexB(nals: readonly Uint8Array[]): Uint8Array {
  let size = 0
  for (const n of nals) size += 4 + n.length
  const out = new Uint8Array(size)
  let pos = 0
  for (const n of nals) {
    out.set(START_CODE, pos)
    out.set(n, pos + 4)
    pos += 4 + n.length
  }
  return out
}

/** NAL units → length-prefixed sample data. The length counts the escaped bytes. */
export function joinLengthPrefixed(nals: readonly Uint8Array[], lengthSize: 1 | 2 | 4 = 4): Uint8Array {
  let size = 0
  for (const n of nals) size += lengthSize + n.length
  const out = new Uint8Array(size)
  let pos = 0
  for (const n of nals) {
    const max = 2 ** (8 * lengthSize)
    if (n.length >= max) throw new MqaError(ErrorCode.VALUE_RANGE, `NAL of ${n.length} bytes does not fit a ${lengthSize}-byte length`)
    let len = n.length
    for (let i = lengthSize - 1; i >= 0; i--) {
      out[pos + i] = len & 0xff
      len = Math.floor(len / 256)
    }
    out.set(n, pos + lengthSize)
    pos += lengthSize + n.length
  }
  return out
}
