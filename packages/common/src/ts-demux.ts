import { ErrorCode, MqaError } from './errors.js'

/**
 * A streaming MPEG-TS demuxer (ISO/IEC 13818-1), push/flush: 188-byte packets split across
 * chunks still parse, sync is found again after garbage, PAT and PMT are read (with their CRC),
 * and PES packets come out whole per PID with their PTS/DTS (90 kHz ticks). It counts what a
 * contribution link breaks — continuity-counter gaps, sync losses, transport_error_indicator —
 * and flags each PES that lost bytes (`damaged`) instead of dropping it: the decoder conceals.
 * Never throws on input; every buffer is bounded.
 */

export const TS_PACKET_BYTES = 188
const SYNC = 0x47
/** Packets in a row at 188-byte spacing needed to (re)lock. */
const LOCK_PACKETS = 3

export const TsStreamType = {
  MPEG1_AUDIO: 0x03,
  MPEG2_AUDIO: 0x04,
  AAC_ADTS: 0x0f,
  AAC_LATM: 0x11,
  H264: 0x1b,
  H265: 0x24,
  AC3: 0x81,
} as const

export type TsCodec = 'h264' | 'h265' | 'aac' | 'mp2' | 'ac3' | 'other'

export function codecOfStreamType(streamType: number): TsCodec {
  switch (streamType) {
    case TsStreamType.H264:
      return 'h264'
    case TsStreamType.H265:
      return 'h265'
    case TsStreamType.AAC_ADTS:
    case TsStreamType.AAC_LATM:
      return 'aac'
    case TsStreamType.MPEG1_AUDIO:
    case TsStreamType.MPEG2_AUDIO:
      return 'mp2'
    case TsStreamType.AC3:
      return 'ac3'
    default:
      return 'other'
  }
}

export interface TsProgram {
  readonly pmtPid: number
  readonly videoPid: number | undefined
  readonly videoCodec: TsCodec | undefined
  readonly streams: readonly { readonly pid: number; readonly streamType: number; readonly codec: TsCodec }[]
}

export type TsEvent =
  | ({ readonly kind: 'program' } & TsProgram)
  | {
      readonly kind: 'pes'
      readonly pid: number
      readonly streamType: number
      readonly codec: TsCodec
      readonly ptsTicks?: number | undefined
      readonly dtsTicks?: number | undefined
      /** The PES payload: for video, one access unit in Annex B. */
      readonly data: Uint8Array
      readonly randomAccess: boolean
      readonly discontinuity: boolean
      /** Stream byte offset of the PES's first TS packet. */
      readonly offset: number
      /** Bytes were lost or corrupt inside it (continuity gap, TEI). */
      readonly damaged: boolean
    }
  | { readonly kind: 'error'; readonly error: MqaError }

export interface TsStats {
  packets: number
  bytes: number
  syncLosses: number
  skippedBytes: number
  continuityErrors: number
  transportErrors: number
  duplicates: number
  pesErrors: number
  crcErrors: number
  discontinuities: number
}

interface PesAssembly {
  parts: Uint8Array[]
  size: number
  offset: number
  randomAccess: boolean
  discontinuity: boolean
  damaged: boolean
}

interface PidState {
  lastCc: number
  duplicateSeen: boolean
  pes: PesAssembly | undefined
  section: Uint8Array | undefined
}

export interface TsDemuxerOptions {
  /** A PES larger than this is dropped with an error (bounds memory). */
  readonly maxPesBytes?: number
}

export class TsDemuxer {
  readonly stats: TsStats = {
    packets: 0,
    bytes: 0,
    syncLosses: 0,
    skippedBytes: 0,
    continuityErrors: 0,
    transportErrors: 0,
    duplicates: 0,
    pesErrors: 0,
    crcErrors: 0,
    discontinuities: 0,
  }
  readonly #maxPes: number
  #carry = new Uint8Array(0)
  #offset = 0
  #locked = false
  /** While resyncing: where sync was lost, for the one error reported when it comes back. */
  #lostAt: number | undefined
  #skipped = 0
  readonly #pids = new Map<number, PidState>()
  #pmtPid: number | undefined
  #program: TsProgram | undefined
  readonly #streamTypes = new Map<number, number>()

  constructor(options: TsDemuxerOptions = {}) {
    this.#maxPes = options.maxPesBytes ?? 16 * 1024 * 1024
  }

  get program(): TsProgram | undefined {
    return this.#program
  }

  push(chunk: Uint8Array): TsEvent[] {
    const out: TsEvent[] = []
    let buf: Uint8Array
    if (this.#carry.length === 0) buf = chunk
    else {
      buf = new Uint8Array(this.#carry.length + chunk.length)
      buf.set(this.#carry, 0)
      buf.set(chunk, this.#carry.length)
    }
    const base = this.#offset - this.#carry.length
    let pos = 0
    while (buf.length - pos >= TS_PACKET_BYTES) {
      if (!this.#locked) {
        const found = this.#findSync(buf, pos)
        if (found < 0) {
          // Keep what could still start a lock; drop the rest as skipped.
          const keep = Math.min(buf.length - pos, TS_PACKET_BYTES * LOCK_PACKETS - 1)
          this.#skip(buf.length - keep - pos, base + pos)
          pos = buf.length - keep
          break
        }
        this.#skip(found - pos, base + pos)
        pos = found
        this.#locked = true
        if (this.#lostAt !== undefined) {
          out.push(error(ErrorCode.TS_SYNC, `MPEG-TS sync lost; ${this.#skipped} bytes skipped before it came back at byte ${base + pos}`, this.#lostAt))
          this.#lostAt = undefined
          this.#skipped = 0
        }
      }
      if (buf[pos] !== SYNC) {
        this.#locked = false
        this.stats.syncLosses++
        this.#lostAt = base + pos
        this.#markAllDamaged()
        continue
      }
      this.#packet(buf.subarray(pos, pos + TS_PACKET_BYTES), base + pos, out)
      pos += TS_PACKET_BYTES
    }
    this.#carry = buf.slice(pos)
    this.#offset += chunk.length
    this.stats.bytes += chunk.length
    return out
  }

  /** End of stream: the PES still being assembled on each PID. */
  flush(): TsEvent[] {
    const out: TsEvent[] = []
    if (this.#lostAt !== undefined) {
      out.push(error(ErrorCode.TS_SYNC, `MPEG-TS sync lost and never found again; ${this.#skipped + this.#carry.length} bytes skipped`, this.#lostAt))
      this.#lostAt = undefined
    }
    for (const [pid, st] of this.#pids) {
      if (st.pes) this.#emitPes(pid, st, out)
    }
    this.#carry = new Uint8Array(0)
    return out
  }

  #findSync(buf: Uint8Array, from: number): number {
    for (let i = from; i + TS_PACKET_BYTES * (LOCK_PACKETS - 1) < buf.length; i++) {
      if (buf[i] !== SYNC) continue
      let ok = true
      for (let k = 1; k < LOCK_PACKETS; k++) if (buf[i + k * TS_PACKET_BYTES] !== SYNC) ok = false
      if (ok) return i
    }
    return -1
  }

  #skip(n: number, at: number): void {
    if (n <= 0) return
    if (this.#lostAt === undefined) {
      this.#lostAt = at
      this.stats.syncLosses++
    }
    this.#skipped += n
    this.stats.skippedBytes += n
  }

  #markAllDamaged(): void {
    for (const st of this.#pids.values()) if (st.pes) st.pes.damaged = true
  }

  #state(pid: number): PidState {
    let st = this.#pids.get(pid)
    if (!st) {
      st = { lastCc: -1, duplicateSeen: false, pes: undefined, section: undefined }
      this.#pids.set(pid, st)
    }
    return st
  }

  #packet(p: Uint8Array, offset: number, out: TsEvent[]): void {
    this.stats.packets++
    const tei = (p[1]! & 0x80) !== 0
    const pusi = (p[1]! & 0x40) !== 0
    const pid = ((p[1]! & 0x1f) << 8) | p[2]!
    const afc = (p[3]! >> 4) & 3
    const cc = p[3]! & 0x0f
    if (pid === 0x1fff) return // null packets
    const st = this.#state(pid)
    if (tei) {
      this.stats.transportErrors++
      if (st.pes) st.pes.damaged = true
      out.push(error(ErrorCode.TS_CONTINUITY, `transport_error_indicator set on PID ${pid}`, offset))
      return
    }
    let payloadStart = 4
    let discontinuity = false
    let randomAccess = false
    if (afc & 2) {
      const len = p[4]!
      if (len > 183) {
        this.stats.pesErrors++
        out.push(error(ErrorCode.TS_PES, `adaptation_field_length ${len} on PID ${pid} runs past the packet`, offset + 4))
        if (st.pes) st.pes.damaged = true
        return
      }
      if (len > 0) {
        discontinuity = (p[5]! & 0x80) !== 0
        randomAccess = (p[5]! & 0x40) !== 0
      }
      payloadStart = 5 + len
    }
    const hasPayload = (afc & 1) !== 0
    if (hasPayload) {
      if (discontinuity) {
        this.stats.discontinuities++
      } else if (st.lastCc >= 0) {
        const expected = (st.lastCc + 1) & 0x0f
        if (cc === st.lastCc && !st.duplicateSeen) {
          // One duplicate packet is allowed (13818-1 2.4.3.3): skip its payload.
          st.duplicateSeen = true
          this.stats.duplicates++
          return
        }
        if (cc !== expected) {
          this.stats.continuityErrors++
          const lost = (cc - expected + 16) & 0x0f
          out.push(error(ErrorCode.TS_CONTINUITY, `continuity counter on PID ${pid} jumped from ${st.lastCc} to ${cc}: about ${lost || 16} packets lost`, offset + 3))
          if (st.pes) st.pes.damaged = true
          else if (!pusi) st.section = undefined
        }
      }
      st.lastCc = cc
      st.duplicateSeen = false
    }
    if (!hasPayload || payloadStart >= TS_PACKET_BYTES) return
    const payload = p.subarray(payloadStart)
    if (pid === 0 || pid === this.#pmtPid) {
      this.#psi(pid, st, payload, pusi, offset, out)
      return
    }
    const streamType = this.#streamTypes.get(pid)
    if (streamType === undefined) return
    if (pusi) {
      if (st.pes) this.#emitPes(pid, st, out)
      st.pes = { parts: [payload.slice()], size: payload.length, offset, randomAccess, discontinuity, damaged: false }
    } else if (st.pes) {
      st.pes.parts.push(payload.slice())
      st.pes.size += payload.length
      if (randomAccess) st.pes.randomAccess = true
      if (st.pes.size > this.#maxPes) {
        this.stats.pesErrors++
        out.push(error(ErrorCode.TS_PES, `PES on PID ${pid} grew past ${this.#maxPes} bytes without a new start: dropped`, st.pes.offset))
        st.pes = undefined
        return
      }
    } else {
      return // joined mid-PES: wait for the next start
    }
    // Audio PES usually say their length: emit as soon as they are whole.
    const pes = st.pes
    if (pes && pes.size >= 6) {
      const head = pes.parts[0]!
      if (head.length >= 6) {
        const declared = (head[4]! << 8) | head[5]!
        if (declared > 0 && pes.size >= declared + 6) this.#emitPes(pid, st, out)
      }
    }
  }

  #emitPes(pid: number, st: PidState, out: TsEvent[]): void {
    const pes = st.pes!
    st.pes = undefined
    const buf = pes.parts.length === 1 ? pes.parts[0]! : concatParts(pes.parts, pes.size)
    const streamType = this.#streamTypes.get(pid) ?? 0
    if (buf.length < 9 || buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 1) {
      this.stats.pesErrors++
      out.push(error(ErrorCode.TS_PES, `PES on PID ${pid} has no start code`, pes.offset))
      return
    }
    const declared = (buf[4]! << 8) | buf[5]!
    const flags = buf[7]!
    const headerLength = buf[8]!
    const dataStart = 9 + headerLength
    if (dataStart > buf.length) {
      this.stats.pesErrors++
      out.push(error(ErrorCode.TS_PES, `PES header on PID ${pid} says ${headerLength} bytes, the PES has ${buf.length - 9}`, pes.offset))
      return
    }
    const ptsDts = flags >> 6
    const pts = ptsDts & 2 && headerLength >= 5 ? readTimestamp(buf, 9) : undefined
    const dts = ptsDts === 3 && headerLength >= 10 ? readTimestamp(buf, 14) : pts
    const end = declared > 0 ? Math.min(buf.length, declared + 6) : buf.length
    const damaged = pes.damaged || (declared > 0 && buf.length < declared + 6)
    out.push({
      kind: 'pes',
      pid,
      streamType,
      codec: codecOfStreamType(streamType),
      ptsTicks: pts,
      dtsTicks: dts,
      data: buf.subarray(dataStart, end),
      randomAccess: pes.randomAccess,
      discontinuity: pes.discontinuity,
      offset: pes.offset,
      damaged,
    })
  }

  #psi(pid: number, st: PidState, payload: Uint8Array, pusi: boolean, offset: number, out: TsEvent[]): void {
    let data = payload
    if (pusi) {
      const pointer = data[0]!
      // The tail of a previous section may precede the new one: finish it first.
      if (st.section && pointer > 0) this.#section(pid, concatParts([st.section, data.subarray(1, 1 + pointer)], st.section.length + pointer), offset, out)
      st.section = undefined
      data = data.subarray(1 + pointer)
      st.section = data.slice()
    } else if (st.section) {
      st.section = concatParts([st.section, data], st.section.length + data.length)
    } else return
    const s = st.section
    if (s.length >= 3) {
      if (s[0] === 0xff) {
        st.section = undefined
        return
      }
      const len = ((s[1]! & 0x0f) << 8) | s[2]!
      if (len > 1021) {
        this.stats.crcErrors++
        out.push(error(ErrorCode.TS_PSI, `PSI section_length ${len} on PID ${pid} is over 1021`, offset))
        st.section = undefined
        return
      }
      if (s.length >= len + 3) {
        st.section = undefined
        this.#section(pid, s.subarray(0, len + 3), offset, out)
      }
    }
  }

  #section(pid: number, s: Uint8Array, offset: number, out: TsEvent[]): void {
    if (s.length < 12) return
    if (crc32Mpeg(s) !== 0) {
      this.stats.crcErrors++
      out.push(error(ErrorCode.TS_PSI, `PSI section on PID ${pid} fails its CRC`, offset))
      return
    }
    const tableId = s[0]!
    const end = s.length - 4
    if (pid === 0 && tableId === 0x00) {
      for (let i = 8; i + 4 <= end; i += 4) {
        const program = (s[i]! << 8) | s[i + 1]!
        const pmt = ((s[i + 2]! & 0x1f) << 8) | s[i + 3]!
        if (program !== 0) {
          this.#pmtPid = pmt
          break
        }
      }
      return
    }
    if (tableId !== 0x02) return
    const infoLen = ((s[10]! & 0x0f) << 8) | s[11]!
    const streams: { pid: number; streamType: number; codec: TsCodec }[] = []
    for (let i = 12 + infoLen; i + 5 <= end; ) {
      const streamType = s[i]!
      const esPid = ((s[i + 1]! & 0x1f) << 8) | s[i + 2]!
      const esInfo = ((s[i + 3]! & 0x0f) << 8) | s[i + 4]!
      streams.push({ pid: esPid, streamType, codec: codecOfStreamType(streamType) })
      i += 5 + esInfo
    }
    const video = streams.find((x) => x.codec === 'h264' || x.codec === 'h265')
    const program: TsProgram = { pmtPid: pid, videoPid: video?.pid, videoCodec: video?.codec, streams }
    const changed = JSON.stringify(program) !== JSON.stringify(this.#program)
    this.#streamTypes.clear()
    for (const x of streams) this.#streamTypes.set(x.pid, x.streamType)
    if (changed) {
      this.#program = program
      out.push({ kind: 'program', ...program })
    }
  }
}

function error(code: ErrorCode, message: string, offset: number): TsEvent {
  return { kind: 'error', error: new MqaError(code, message, { offset }) }
}

function concatParts(parts: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size)
  let o = 0
  for (const p of parts) {
    out.set(p.subarray(0, Math.min(p.length, size - o)), o)
    o += p.length
    if (o >= size) break
  }
  return out
}

/** A 33-bit PES timestamp at `at` (5 bytes with marker bits). */
function readTimestamp(b: Uint8Array, at: number): number {
  return ((b[at]! >> 1) & 0x07) * 2 ** 30 + (b[at + 1]! << 22) + ((b[at + 2]! >> 1) << 15) + (b[at + 3]! << 7) + (b[at + 4]! >> 1)
}

let crcTable: Uint32Array | undefined

/** CRC-32/MPEG-2 (poly 0x04C11DB7, init all ones, no reflection); 0 over a section with its CRC. */
export function crc32Mpeg(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256)
    for (let i = 0; i < 256; i++) {
      let c = i << 24
      for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1
      crcTable[i] = c >>> 0
    }
  }
  let crc = 0xffffffff
  for (let i = 0; i < data.length; i++) crc = ((crc << 8) ^ crcTable[((crc >>> 24) ^ data[i]!) & 0xff]!) >>> 0
  return crc >>> 0
}
