import { ErrorCode, MqaError } from './errors.js'
import { VideoCodec } from './nal.js'

/**
 * MPEG-TS demuxing (ISO/IEC 13818-1) as a push/flush stage: bytes in any chunking → program
 * tables, one event per PES packet (for video, one access unit in Annex B), and transport errors
 * counted and reported once per incident. One program is followed (the first in the PAT, or the
 * one asked for). Timestamps are 33-bit integers in 90 kHz ticks, as read (no unwrapping).
 */

export const TS_PACKET_SIZE = 188
export const TS_SYNC_BYTE = 0x47
export const TS_NULL_PID = 0x1fff
/** PES timestamps and the PCR base count this clock. */
export const TS_TIMESCALE = 90_000

/** stream_type values (ISO/IEC 13818-1 Table 2-34, ATSC A/52) that the demuxer assembles. */
export const TsStreamType = {
  MPEG1_AUDIO: 0x03,
  MPEG2_AUDIO: 0x04,
  /** PES private data: AC-3 / E-AC-3 in DVB, told apart by a descriptor. */
  PRIVATE_PES: 0x06,
  AAC_ADTS: 0x0f,
  AAC_LATM: 0x11,
  H264: 0x1b,
  H265: 0x24,
  AC3: 0x81,
  EAC3: 0x87,
} as const
export type TsStreamType = (typeof TsStreamType)[keyof typeof TsStreamType]

export const AudioCodec = { AAC: 'aac', AAC_LATM: 'aac-latm', MPEG_AUDIO: 'mpeg-audio', AC3: 'ac3', EAC3: 'eac3' } as const
export type AudioCodec = (typeof AudioCodec)[keyof typeof AudioCodec]

export type TsCodec = VideoCodec | AudioCodec

/** One elementary stream of the program, as its PMT describes it. */
export interface TsStreamInfo {
  readonly pid: number
  readonly streamType: number
  /** Undefined for a stream type the demuxer does not assemble (its packets are only counted). */
  readonly codec: TsCodec | undefined
  /** ISO 639 language code from the PMT, when there is one. */
  readonly language?: string
}

export interface TsProgramEvent {
  readonly kind: 'program'
  readonly programNumber: number
  readonly pmtPid: number
  readonly pcrPid: number
  /** The first video stream (H.264 or H.265), if the program has one. */
  readonly videoPid: number | undefined
  readonly videoCodec: VideoCodec | undefined
  readonly audio: readonly TsStreamInfo[]
  /** Every elementary stream in PMT order, known codec or not. */
  readonly streams: readonly TsStreamInfo[]
  /** Stream byte offset of the packet that completed the PMT. */
  readonly offset: number
}

export interface TsPesEvent {
  readonly kind: 'pes'
  readonly pid: number
  readonly streamType: number
  readonly codec: TsCodec
  /** 33-bit PTS in 90 kHz ticks. */
  readonly ptsTicks?: number
  /** 33-bit DTS in 90 kHz ticks; absent when the PES carries only a PTS (then DTS = PTS). */
  readonly dtsTicks?: number
  /** The PES payload (header stripped); a fresh copy the caller owns. */
  readonly data: Uint8Array
  /** random_access_indicator was set on a packet of this PES. */
  readonly randomAccess: boolean
  /** discontinuity_indicator was set on this PID since the previous PES (or during this one). */
  readonly discontinuity: boolean
  /** Stream byte offset of the PES's first TS packet. */
  readonly offset: number
  /**
   * Packets of this PES were lost or damaged (continuity gap, transport_error_indicator, a sync
   * loss right after one of its packets, or a declared length that was not reached). It is
   * emitted anyway: a decoder can conceal.
   */
  readonly damaged: boolean
}

export interface TsErrorEvent {
  readonly kind: 'error'
  readonly error: MqaError
}

export type TsEvent = TsProgramEvent | TsPesEvent | TsErrorEvent

/** Running counts since the demuxer was made. */
export interface TsStats {
  /** Bytes pushed. */
  bytes: number
  /** Whole 188-byte packets read while in sync (null packets included). */
  packets: number
  /** Bytes thrown away while looking for sync, plus a packet cut short by the end of input. */
  skippedBytes: number
  syncLosses: number
  continuityErrors: number
  /**
   * Packets missing at those gaps: each gap's size by the 4-bit counter (16 or more lost in a row
   * look like fewer; a second duplicate counts one). What a receiver lost, where continuityErrors
   * counts the places it lost them.
   */
  lostPackets: number
  /** Duplicate packets (same continuity_counter, allowed once) that were dropped. */
  duplicatePackets: number
  /** Packets with transport_error_indicator set (dropped). */
  transportErrorIndicators: number
  /** Packets with an impossible header (reserved adaptation_field_control, adaptation field too long). */
  malformedPackets: number
  /** PES packets dropped or cut short for a reason other than a continuity gap. */
  pesErrors: number
  /** PSI sections with a bad CRC_32. */
  crcErrors: number
  /** PSI sections otherwise unusable (cut short, lengths that do not fit). */
  psiErrors: number
  /** Packets with discontinuity_indicator set. */
  discontinuities: number
}

export interface TsDemuxerOptions {
  /** Follow this program_number instead of the first one in the PAT. */
  readonly programNumber?: number
  /** A PES growing past this many bytes is dropped with an error (default 16 MiB). */
  readonly maxPesBytes?: number
  /** Consecutive sync bytes at 188-byte spacing needed to (re)lock (default 3, at least 1). */
  readonly lockPackets?: number
}

/** MPEG-2 CRC-32 (polynomial 0x04C11DB7, MSB first, initial all ones, no final XOR). */
export function crc32Mpeg2(bytes: Uint8Array, begin = 0, end = bytes.length): number {
  const table = crcTable()
  let crc = 0xffffffff
  for (let i = begin; i < end; i++) crc = (crc << 8) ^ table[((crc >>> 24) ^ bytes[i]!) & 0xff]!
  return crc >>> 0
}

let CRC_TABLE: Uint32Array | undefined
function crcTable(): Uint32Array {
  if (CRC_TABLE) return CRC_TABLE
  const t = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i << 24
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1
    t[i] = c >>> 0
  }
  CRC_TABLE = t
  return t
}

/** Codec of an elementary stream from its stream_type and ES descriptors. */
export function codecForStreamType(streamType: number, descriptors?: Uint8Array): TsCodec | undefined {
  switch (streamType) {
    case TsStreamType.H264:
      return VideoCodec.H264
    case TsStreamType.H265:
      return VideoCodec.H265
    case TsStreamType.AAC_ADTS:
      return AudioCodec.AAC
    case TsStreamType.AAC_LATM:
      return AudioCodec.AAC_LATM
    case TsStreamType.MPEG1_AUDIO:
    case TsStreamType.MPEG2_AUDIO:
      return AudioCodec.MPEG_AUDIO
    case TsStreamType.AC3:
      return AudioCodec.AC3
    case TsStreamType.EAC3:
      return AudioCodec.EAC3
    case TsStreamType.PRIVATE_PES:
      // DVB (EN 300 468): AC-3 descriptor 0x6A, enhanced AC-3 descriptor 0x7A.
      if (hasDescriptor(descriptors, 0x6a)) return AudioCodec.AC3
      if (hasDescriptor(descriptors, 0x7a)) return AudioCodec.EAC3
      return undefined
    default:
      return undefined
  }
}

function isVideoCodec(codec: TsCodec | undefined): codec is VideoCodec {
  return codec === VideoCodec.H264 || codec === VideoCodec.H265
}

function hasDescriptor(d: Uint8Array | undefined, tag: number): boolean {
  if (!d) return false
  for (let i = 0; i + 2 <= d.length; i += 2 + d[i + 1]!) if (d[i] === tag) return true
  return false
}

function languageOf(d: Uint8Array): string | undefined {
  for (let i = 0; i + 2 <= d.length; i += 2 + d[i + 1]!) {
    // ISO_639_language_descriptor: 3 letters (+ audio_type) per entry; the first one is the language.
    if (d[i] === 0x0a && d[i + 1]! >= 3 && i + 5 <= d.length) {
      const code = String.fromCharCode(d[i + 2]!, d[i + 3]!, d[i + 4]!)
      return /^[\x20-\x7e]{3}$/.test(code) ? code.trim() || undefined : undefined
    }
  }
  return undefined
}

/** A 33-bit PES timestamp from its 5 bytes at `at` (marker bits ignored). */
function readTimestamp(b: Uint8Array, at: number): number {
  // The top 3 bits would overflow a 32-bit shift: multiply instead.
  const high = ((b[at]! >> 1) & 0x07) * 0x40000000
  return high + ((b[at + 1]! << 22) | ((b[at + 2]! >> 1) << 15) | (b[at + 3]! << 7) | (b[at + 4]! >> 1))
}

/** stream_ids whose PES has no optional header (13818-1 2.4.3.7): map, padding, private 2, ECM, EMM, DSM-CC, H.222.1 E, directory. */
function hasOptionalPesHeader(streamId: number): boolean {
  return !(streamId === 0xbc || streamId === 0xbe || streamId === 0xbf || streamId === 0xf0 || streamId === 0xf1 || streamId === 0xf2 || streamId === 0xf8 || streamId === 0xff)
}

const PesState = { IDLE: 0, COLLECTING: 1, DROPPING: 2 } as const
type PesState = (typeof PesState)[keyof typeof PesState]

/** Carry-over for one PES PID: the PES being assembled, header included, in a reused buffer. */
interface PesAssembly {
  readonly pid: number
  readonly streamType: number
  readonly codec: TsCodec
  state: PesState
  buf: Uint8Array
  len: number
  /** 6 + PES_packet_length; 0 when unbounded (video), −1 until the first 6 bytes are in. */
  expected: number
  offset: number
  damaged: boolean
  randomAccess: boolean
  discontinuity: boolean
  /** A discontinuity_indicator seen while no PES was open: it belongs to the next one. */
  pendingDiscontinuity: boolean
}

/** Carry-over for one PSI PID: the section being assembled. */
interface SectionAssembly {
  buf: Uint8Array
  len: number
  /** Stream offset of the packet the section began in. */
  offset: number
}

/** Sections of PAT and PMT are at most 1024 bytes (section_length ≤ 1021). */
const MAX_SECTION_BYTES = 1024

const Role = { NONE: 0, PSI: 1, PES: 2 } as const

/** What the packet loop knows about one packet, as bits (no object per packet on the hot path). */
const PacketFlag = {
  PUSI: 1,
  /** A continuity gap just before this packet. */
  GAP: 2,
  /** The next packet's sync byte is missing: this one may be cut short. */
  SUSPECT: 4,
  DISCONTINUITY: 8,
  RANDOM_ACCESS: 16,
} as const

/** The sync carry-over: bytes not yet parsed and whether packet boundaries are known. */
interface SyncState {
  /** At most (lockPackets − 1) × 188 + 188 bytes: a packet waiting for its next sync byte, or a lock candidate. */
  carry: Uint8Array
  carryLen: number
  /** Stream offset of carry[0]. */
  carryOffset: number
  locked: boolean
  /** While not locked: stream offset where the search began (sync lost there, or the input started). */
  searchFrom: number
  /** Whether the search follows a loss of sync (not the start of input). */
  lost: boolean
  /** Bytes skipped since sync was lost (or since the start). */
  skipped: number
}

/** A run of packets with transport_error_indicator, reported as one error when it ends. */
interface TeiRun {
  offset: number
  count: number
}

/**
 * Streaming MPEG-TS demuxer. `push` bytes in any chunking and get the same events as for one
 * big chunk; `flush` at the end of input emits the last PES and pending errors. Neither throws on
 * bad input: problems come out as `error` events (never fatal) and in `stats`. Memory is bounded
 * by `maxPesBytes` per elementary stream of the followed program, plus a few packets.
 *
 * Continuity is checked on every PID but the null PID: packets without payload are not counted;
 * a repeated counter is a duplicate, dropped once; discontinuity_indicator accepts any counter.
 * A packet whose next sync byte is missing (cut short, or followed by garbage: the two look the
 * same) marks its PES damaged. A packet with transport_error_indicator is dropped and marks its
 * PES damaged; its counter is taken when it is the expected one, so one bad packet is one error.
 *
 * A packet is parsed once the next one's sync byte is in (or at flush): events lag the input by at
 * most one packet. No reference to a pushed chunk is kept; event data are copies the caller owns.
 */
export class TsDemuxer {
  readonly #maxPesBytes: number
  readonly #lockPackets: number
  readonly #wantProgram: number | undefined
  readonly #stats: TsStats = {
    bytes: 0,
    packets: 0,
    skippedBytes: 0,
    syncLosses: 0,
    continuityErrors: 0,
    lostPackets: 0,
    duplicatePackets: 0,
    transportErrorIndicators: 0,
    malformedPackets: 0,
    pesErrors: 0,
    crcErrors: 0,
    psiErrors: 0,
    discontinuities: 0,
  }
  readonly #sync: SyncState
  /** Stream offset of the next byte to be pushed. */
  #streamPos = 0
  /** Per PID: last continuity_counter (−1: none yet) and whether one duplicate was already allowed. */
  readonly #lastCc = new Int8Array(8192).fill(-1)
  readonly #dupSeen = new Uint8Array(8192)
  readonly #role = new Uint8Array(8192)
  readonly #pes = new Map<number, PesAssembly>()
  readonly #sections = new Map<number, SectionAssembly>()
  #tei: TeiRun | undefined
  #programNumber: number | undefined
  #pmtPid: number | undefined
  /** A signature of the last PMT reported, to emit `program` only when it changes. */
  #programKey: string | undefined
  /** Events of the push/flush in progress. */
  #out: TsEvent[] = []

  constructor(options: TsDemuxerOptions = {}) {
    this.#maxPesBytes = Math.max(1024, options.maxPesBytes ?? 16 * 1024 * 1024)
    this.#lockPackets = Math.max(1, Math.floor(options.lockPackets ?? 3))
    this.#wantProgram = options.programNumber
    this.#sync = {
      carry: new Uint8Array(this.#lockPackets * TS_PACKET_SIZE + 1),
      carryLen: 0,
      carryOffset: 0,
      locked: false,
      searchFrom: 0,
      lost: false,
      skipped: 0,
    }
    this.#role[0] = Role.PSI
  }

  /** A copy of the counts so far. */
  /** The PMT's PID, from the last PAT read (undefined before one). */
  get pmtPid(): number | undefined {
    return this.#pmtPid
  }

  get stats(): TsStats {
    return { ...this.#stats }
  }

  push(chunk: Uint8Array): TsEvent[] {
    this.#out = []
    this.#stats.bytes += chunk.length
    const sync = this.#sync
    const chunkOffset = this.#streamPos
    this.#streamPos += chunk.length
    let from = 0
    if (sync.carryLen > 0) {
      // Join the carry-over to just enough of the chunk to get past it (the scan can resume at any
      // position), so a big chunk is not copied to save a few bytes.
      const headLen = Math.min(chunk.length, sync.carry.length + TS_PACKET_SIZE)
      const head = new Uint8Array(sync.carryLen + headLen)
      head.set(sync.carry.subarray(0, sync.carryLen), 0)
      head.set(chunk.subarray(0, headLen), sync.carryLen)
      const base = sync.carryOffset
      const used = this.#scan(head, 0, base, false)
      from = used - sync.carryLen
      if (from < 0 || headLen === chunk.length) {
        this.#keep(head, used, base)
        return this.#take()
      }
    }
    this.#keep(chunk, this.#scan(chunk, from, chunkOffset, false), chunkOffset)
    return this.#take()
  }

  /** Carry buf[used..] over to the next push (at most a few packets: see SyncState). */
  #keep(buf: Uint8Array, used: number, base: number): void {
    const sync = this.#sync
    sync.carry.set(buf.subarray(used), 0)
    sync.carryLen = buf.length - used
    sync.carryOffset = base + used
  }

  /**
   * End of input: parse what is left, emit every open PES (a bounded one cut short is damaged)
   * and pending errors. The demuxer then expects a new stream (sync and continuity start over;
   * the program stays known).
   */
  flush(): TsEvent[] {
    this.#out = []
    const sync = this.#sync
    const buf = sync.carry.subarray(0, sync.carryLen)
    const base = sync.carryOffset
    const used = this.#scan(buf, 0, base, true)
    const rest = buf.length - used
    if (rest > 0) {
      this.#stats.skippedBytes += rest
      if (sync.locked) {
        this.#error(ErrorCode.TS_PACKET, `input ends ${rest} bytes into a ${TS_PACKET_SIZE}-byte packet; dropped`, base + used)
      } else {
        sync.skipped += rest
      }
    }
    if (!sync.locked) this.#reportSyncSearch(undefined)
    this.#endTeiRun()
    for (const pes of this.#pes.values()) if (pes.state === PesState.COLLECTING) this.#finishPes(pes)
    for (const pes of this.#pes.values()) {
      pes.state = PesState.IDLE
      pes.pendingDiscontinuity = false
    }
    for (const s of this.#sections.values()) s.len = 0
    sync.carryLen = 0
    sync.carryOffset = this.#streamPos
    sync.locked = false
    sync.searchFrom = this.#streamPos
    sync.lost = false
    sync.skipped = 0
    this.#lastCc.fill(-1)
    this.#dupSeen.fill(0)
    return this.#take()
  }

  #take(): TsEvent[] {
    const out = this.#out
    this.#out = []
    return out
  }

  #error(code: ErrorCode, message: string, offset: number): void {
    this.#out.push({ kind: 'error', error: new MqaError(code, message, { offset }) })
  }

  /** Parse packets in buf from `from` (stream offset of buf[0] is `base`); returns where it stopped: the rest is carried over. */
  #scan(buf: Uint8Array, from: number, base: number, final: boolean): number {
    const sync = this.#sync
    const end = buf.length
    let pos = from
    for (;;) {
      if (sync.locked) {
        while (pos + TS_PACKET_SIZE <= end) {
          if (buf[pos] !== TS_SYNC_BYTE) {
            sync.locked = false
            sync.searchFrom = base + pos
            sync.lost = true
            sync.skipped = 0
            this.#stats.syncLosses++
            break
          }
          const next = pos + TS_PACKET_SIZE
          // Wait for the next packet's sync byte: without it this packet cannot be trusted.
          if (next === end && !final) return pos
          this.#packet(buf, pos, base + pos, next < end && buf[next] !== TS_SYNC_BYTE)
          pos = next
        }
        if (sync.locked) return pos
      }
      // Looking for sync: a 0x47 followed by lockPackets − 1 more at 188-byte spacing.
      const span = (this.#lockPackets - 1) * TS_PACKET_SIZE
      let found = -1
      let p = pos
      while (p < end) {
        const at = buf.indexOf(TS_SYNC_BYTE, p)
        if (at < 0) {
          p = end
          break
        }
        p = at
        if (p + span >= end || p + TS_PACKET_SIZE > end) {
          if (!final) break
          // End of input: lock on what is there, if it is at least one whole packet.
          if (p + TS_PACKET_SIZE > end) {
            p = end
            break
          }
        }
        let ok = true
        for (let k = TS_PACKET_SIZE; k <= span && p + k < end; k += TS_PACKET_SIZE) {
          if (buf[p + k] !== TS_SYNC_BYTE) {
            ok = false
            break
          }
        }
        if (ok) {
          found = p
          break
        }
        p++
      }
      sync.skipped += p - pos
      this.#stats.skippedBytes += p - pos
      pos = p
      if (found < 0) return pos
      sync.locked = true
      this.#reportSyncSearch(base + found)
    }
  }

  /** One error for a whole search for sync: where it began and how much was skipped. */
  #reportSyncSearch(lockedAt: number | undefined): void {
    const sync = this.#sync
    const skipped = sync.skipped
    const tail = lockedAt === undefined ? 'to the end of input' : `before locking at byte ${lockedAt}`
    if (sync.lost) {
      this.#error(ErrorCode.TS_SYNC, `lost MPEG-TS sync: skipped ${skipped} bytes ${tail}`, sync.searchFrom)
    } else if (skipped > 0) {
      // The start of input is only an error if bytes had to be skipped.
      this.#stats.syncLosses++
      this.#error(ErrorCode.TS_SYNC, `no MPEG-TS sync at the start: skipped ${skipped} bytes ${tail}`, sync.searchFrom)
    }
    sync.lost = false
    sync.skipped = 0
  }

  #endTeiRun(): void {
    const run = this.#tei
    if (!run) return
    this.#tei = undefined
    this.#error(ErrorCode.TS_TRANSPORT_ERROR, `${run.count} packet(s) with transport_error_indicator set; payload dropped`, run.offset)
  }

  /** One 188-byte packet at buf[p]; `suspect` when the next sync byte is missing. */
  #packet(buf: Uint8Array, p: number, offset: number, suspect: boolean): void {
    const stats = this.#stats
    stats.packets++
    const b1 = buf[p + 1]!
    const pid = ((b1 & 0x1f) << 8) | buf[p + 2]!
    if (b1 & 0x80) {
      // The header itself may be wrong: the payload is dropped, the PID trusted only to flag its PES.
      stats.transportErrorIndicators++
      if (this.#tei) this.#tei.count++
      else this.#tei = { offset, count: 1 }
      if (this.#role[pid] !== Role.NONE) {
        // Take its counter when it is the one expected, so one corrupt packet is one error, not two.
        const b3 = buf[p + 3]!
        const last = this.#lastCc[pid]!
        if (b3 & 0x10 && last >= 0 && (b3 & 0x0f) === ((last + 1) & 0x0f)) {
          this.#lastCc[pid] = b3 & 0x0f
          this.#dupSeen[pid] = 0
        }
        const pes = this.#pes.get(pid)
        if (pes && pes.state === PesState.COLLECTING) pes.damaged = true
        const sec = this.#sections.get(pid)
        if (sec) sec.len = 0
      }
      return
    }
    if (this.#tei) this.#endTeiRun()
    if (pid === TS_NULL_PID) return
    const b3 = buf[p + 3]!
    const afc = (b3 >> 4) & 3
    const cc = b3 & 0x0f
    if (afc === 0) {
      stats.malformedPackets++
      this.#error(ErrorCode.TS_PACKET, `PID ${pid}: reserved adaptation_field_control 00; packet dropped`, offset)
      return
    }
    let payloadStart = p + 4
    let discontinuity = false
    let randomAccess = false
    if (afc & 2) {
      const afLength = buf[p + 4]!
      if (afLength > (afc === 3 ? 182 : 183)) {
        stats.malformedPackets++
        this.#error(ErrorCode.TS_PACKET, `PID ${pid}: adaptation_field_length ${afLength} does not fit the packet; packet dropped`, offset)
        return
      }
      if (afLength > 0) {
        const flags = buf[p + 5]!
        discontinuity = (flags & 0x80) !== 0
        randomAccess = (flags & 0x40) !== 0
      }
      payloadStart = p + 5 + afLength
    }
    if (discontinuity) stats.discontinuities++
    const role = this.#role[pid]
    if (!(afc & 1)) {
      // No payload: the counter does not advance (and is not checked); a flag may still matter.
      if (role === Role.PES) this.#pesFlags(pid, discontinuity)
      return
    }
    const last = this.#lastCc[pid]!
    let gap = false
    if (last >= 0 && !discontinuity) {
      if (cc === last) {
        if (!this.#dupSeen[pid]) {
          this.#dupSeen[pid] = 1
          stats.duplicatePackets++
          return
        }
        gap = true
      } else if (cc !== ((last + 1) & 0x0f)) {
        gap = true
      }
    }
    if (cc !== last) this.#dupSeen[pid] = 0
    this.#lastCc[pid] = cc
    if (gap) {
      stats.continuityErrors++
      const expected = (last + 1) & 0x0f
      stats.lostPackets += cc === last ? 1 : (cc - expected + 16) & 0x0f
      const lost = cc === last ? 'a second duplicate' : `${(cc - expected + 16) & 0x0f} packet(s) lost, or more`
      this.#error(ErrorCode.TS_CONTINUITY, `PID ${pid}: continuity_counter ${cc}, expected ${expected} (${lost})`, offset)
    }
    const payloadEnd = p + TS_PACKET_SIZE
    if (role === Role.PES) {
      const flags =
        (b1 & 0x40 ? PacketFlag.PUSI : 0) |
        (gap ? PacketFlag.GAP : 0) |
        (suspect ? PacketFlag.SUSPECT : 0) |
        (discontinuity ? PacketFlag.DISCONTINUITY : 0) |
        (randomAccess ? PacketFlag.RANDOM_ACCESS : 0)
      this.#pesPayload(pid, buf, payloadStart, payloadEnd, offset, flags)
    } else if (role === Role.PSI) {
      this.#psiPayload(pid, buf.subarray(payloadStart, payloadEnd), (b1 & 0x40) !== 0, offset, gap)
    }
  }

  /** An adaptation-field-only packet: its discontinuity_indicator applies to what follows, the next PES. */
  #pesFlags(pid: number, discontinuity: boolean): void {
    const pes = this.#pes.get(pid)
    if (pes && discontinuity) pes.pendingDiscontinuity = true
  }

  /** One packet's payload buf[begin, end) for a PES PID; `flags` are PacketFlag bits. */
  #pesPayload(pid: number, buf: Uint8Array, begin: number, end: number, offset: number, flags: number): void {
    const pes = this.#pes.get(pid)
    if (!pes) return
    // Lost packets belong to the PES in progress (or to one whose start is gone with them).
    if (flags & PacketFlag.GAP && pes.state === PesState.COLLECTING) pes.damaged = true
    const discontinuity = (flags & PacketFlag.DISCONTINUITY) !== 0
    const randomAccess = (flags & PacketFlag.RANDOM_ACCESS) !== 0
    if (flags & PacketFlag.PUSI) {
      if (pes.state === PesState.COLLECTING) this.#finishPes(pes)
      pes.state = PesState.COLLECTING
      pes.len = 0
      pes.expected = -1
      pes.offset = offset
      pes.damaged = false
      pes.randomAccess = randomAccess
      pes.discontinuity = pes.pendingDiscontinuity || discontinuity
      pes.pendingDiscontinuity = false
    } else if (pes.state !== PesState.COLLECTING) {
      // Payload with no PES start before it: joined mid-stream, or the start was lost (already counted).
      if (discontinuity) pes.pendingDiscontinuity = true
      return
    } else {
      if (randomAccess) pes.randomAccess = true
      if (discontinuity) pes.discontinuity = true
    }
    if (flags & PacketFlag.SUSPECT) pes.damaged = true
    const n = end - begin
    if (n <= 0) return
    const need = pes.len + n
    if (need > this.#maxPesBytes) {
      this.#stats.pesErrors++
      pes.state = PesState.DROPPING
      this.#error(ErrorCode.TS_PES, `PID ${pid}: PES larger than ${this.#maxPesBytes} bytes with no end in sight; dropped`, pes.offset)
      return
    }
    if (need > pes.buf.length) {
      let size = pes.buf.length * 2
      while (size < need) size *= 2
      const grown = new Uint8Array(Math.min(size, this.#maxPesBytes))
      grown.set(pes.buf.subarray(0, pes.len))
      pes.buf = grown
    }
    pes.buf.set(buf.subarray(begin, end), pes.len)
    pes.len = need
    if (pes.expected < 0 && need >= 6) {
      const b = pes.buf
      if (b[0] !== 0 || b[1] !== 0 || b[2] !== 1) {
        this.#stats.pesErrors++
        pes.state = PesState.DROPPING
        this.#error(ErrorCode.TS_PES, `PID ${pid}: PES does not start with 00 00 01 (got ${hexBytes(b, 0, 3)}); dropped`, pes.offset)
        return
      }
      const length = (b[4]! << 8) | b[5]!
      pes.expected = length === 0 ? 0 : 6 + length
    }
    if (pes.expected > 0 && pes.len >= pes.expected) this.#finishPes(pes)
  }

  /** Emit the PES in progress (its end is known, or the next one started, or input ended). */
  #finishPes(pes: PesAssembly): void {
    pes.state = PesState.IDLE
    const b = pes.buf
    let end = pes.len
    const fail = (what: string): void => {
      this.#stats.pesErrors++
      this.#error(ErrorCode.TS_PES, `PID ${pes.pid}: ${what}; PES dropped`, pes.offset)
    }
    if (end < 6 || b[0] !== 0 || b[1] !== 0 || b[2] !== 1) {
      // Shorter than a PES header: if packets were lost this is part of the same loss.
      if (pes.damaged) return
      fail(end < 6 ? `PES of ${end} bytes is shorter than its header` : `PES does not start with 00 00 01 (got ${hexBytes(b, 0, 3)})`)
      return
    }
    if (pes.expected > 0) {
      if (end < pes.expected) {
        if (!pes.damaged) {
          this.#stats.pesErrors++
          this.#error(ErrorCode.TS_PES, `PID ${pes.pid}: PES cut short: ${end} of ${pes.expected} bytes; emitted as damaged`, pes.offset)
          pes.damaged = true
        }
      } else {
        end = pes.expected
      }
    }
    let payload = 6
    let ptsTicks: number | undefined
    let dtsTicks: number | undefined
    const streamId = b[3]!
    if (streamId === 0xbe) return // padding_stream
    if (hasOptionalPesHeader(streamId)) {
      if (end < 9 || (b[6]! & 0xc0) !== 0x80) {
        fail(end < 9 ? 'PES header cut short' : `PES header marker bits are ${(b[6]! >> 6).toString(2)}, not 10`)
        return
      }
      const ptsDts = b[7]! >> 6
      const headerLength = b[8]!
      payload = 9 + headerLength
      if (payload > end || (ptsDts & 2 && headerLength < 5) || (ptsDts === 3 && headerLength < 10)) {
        fail(`PES_header_data_length ${headerLength} does not fit`)
        return
      }
      if (ptsDts & 2) ptsTicks = readTimestamp(b, 9)
      if (ptsDts === 3) dtsTicks = readTimestamp(b, 14)
    }
    this.#out.push({
      kind: 'pes',
      pid: pes.pid,
      streamType: pes.streamType,
      codec: pes.codec,
      ptsTicks,
      dtsTicks,
      data: b.slice(payload, end),
      randomAccess: pes.randomAccess,
      discontinuity: pes.discontinuity,
      offset: pes.offset,
      damaged: pes.damaged,
    })
  }

  #psiPayload(pid: number, payload: Uint8Array, pusi: boolean, offset: number, gap: boolean): void {
    let sec = this.#sections.get(pid)
    if (!sec) {
      sec = { buf: new Uint8Array(MAX_SECTION_BYTES), len: 0, offset }
      this.#sections.set(pid, sec)
    }
    if (gap && sec.len > 0) {
      // The rest of this section went with the lost packets; the next repetition will do.
      sec.len = 0
      this.#stats.psiErrors++
      this.#error(ErrorCode.TS_PSI, `PID ${pid}: PSI section lost its continuation; dropped`, sec.offset)
    }
    if (!pusi) {
      if (sec.len > 0) this.#sectionBytes(pid, sec, payload, 0, offset, false)
      return
    }
    const pointer = payload[0] ?? 0
    if (1 + pointer > payload.length) {
      sec.len = 0
      this.#stats.psiErrors++
      this.#error(ErrorCode.TS_PSI, `PID ${pid}: pointer_field ${pointer} points past the packet`, offset)
      return
    }
    if (sec.len > 0) {
      this.#sectionBytes(pid, sec, payload.subarray(0, 1 + pointer), 1, offset, false)
      if (sec.len > 0) {
        sec.len = 0
        this.#stats.psiErrors++
        this.#error(ErrorCode.TS_PSI, `PID ${pid}: PSI section cut short by the next one`, sec.offset)
      }
    }
    this.#sectionBytes(pid, sec, payload, 1 + pointer, offset, true)
  }

  /** Feed payload[from..] into the section assembly; `mayStart`: new sections may begin here. */
  #sectionBytes(pid: number, sec: SectionAssembly, payload: Uint8Array, from: number, offset: number, mayStart: boolean): void {
    let pos = from
    while (pos < payload.length) {
      if (sec.len === 0) {
        // 0xFF where a table_id would be: stuffing to the end of the packet.
        if (!mayStart || payload[pos] === 0xff) return
        sec.offset = offset
      }
      const total = sec.len >= 3 ? 3 + (((sec.buf[1]! & 0x0f) << 8) | sec.buf[2]!) : 3
      const take = Math.min(total - sec.len, payload.length - pos)
      sec.buf.set(payload.subarray(pos, pos + take), sec.len)
      sec.len += take
      pos += take
      if (sec.len < 3) return
      const length = ((sec.buf[1]! & 0x0f) << 8) | sec.buf[2]!
      if (sec.len === 3 && (length < 9 || 3 + length > MAX_SECTION_BYTES)) {
        // A PAT or PMT has 5 header and 4 CRC bytes and fits 1024: the rest of this packet is not a section.
        sec.len = 0
        this.#stats.psiErrors++
        this.#error(ErrorCode.TS_PSI, `PID ${pid}: section_length ${length} is outside 9..${MAX_SECTION_BYTES - 3}; section dropped`, sec.offset)
        return
      }
      if (sec.len === 3 + length) {
        this.#section(pid, sec.buf.subarray(0, sec.len), sec.offset, offset)
        sec.len = 0
      }
    }
  }

  /** A whole PSI section: CRC, then PAT or PMT. */
  #section(pid: number, s: Uint8Array, offset: number, endOffset: number): void {
    const tableId = s[0]!
    if (!(s[1]! & 0x80)) return // short-form section: not PAT/PMT
    if (s.length < 12) {
      this.#stats.psiErrors++
      this.#error(ErrorCode.TS_PSI, `PID ${pid}: table ${tableId} section of ${s.length} bytes is too short`, offset)
      return
    }
    if (crc32Mpeg2(s) !== 0) {
      this.#stats.crcErrors++
      this.#error(ErrorCode.TS_PSI, `PID ${pid}: table ${tableId} section fails its CRC_32; ignored`, offset)
      return
    }
    if (!(s[5]! & 1)) return // current_next_indicator 0: not yet applicable
    if (pid === 0 && tableId === 0x00) this.#pat(s)
    else if (pid === this.#pmtPid && tableId === 0x02) this.#pmt(pid, s, offset, endOffset)
  }

  #pat(s: Uint8Array): void {
    const end = s.length - 4
    for (let i = 8; i + 4 <= end; i += 4) {
      const program = (s[i]! << 8) | s[i + 1]!
      const pmtPid = ((s[i + 2]! & 0x1f) << 8) | s[i + 3]!
      if (program === 0) continue // network_PID
      if (this.#wantProgram !== undefined && program !== this.#wantProgram) continue
      if (program === this.#programNumber && pmtPid === this.#pmtPid) return
      // A new program or PMT PID: forget the old one's streams.
      if (this.#pmtPid !== undefined && this.#pmtPid !== 0) {
        this.#role[this.#pmtPid] = Role.NONE
        this.#sections.delete(this.#pmtPid)
      }
      this.#programNumber = program
      this.#pmtPid = pmtPid
      this.#programKey = undefined
      if (pmtPid !== 0) this.#role[pmtPid] = Role.PSI
      return
    }
  }

  #pmt(pid: number, s: Uint8Array, offset: number, endOffset: number): void {
    const program = (s[3]! << 8) | s[4]!
    if (program !== this.#programNumber) return
    const end = s.length - 4
    const pcrPid = ((s[8]! & 0x1f) << 8) | s[9]!
    const infoLength = ((s[10]! & 0x0f) << 8) | s[11]!
    const streams: TsStreamInfo[] = []
    let i = 12 + infoLength
    while (i + 5 <= end) {
      const streamType = s[i]!
      const esPid = ((s[i + 1]! & 0x1f) << 8) | s[i + 2]!
      const esInfoLength = ((s[i + 3]! & 0x0f) << 8) | s[i + 4]!
      if (i + 5 + esInfoLength > end) {
        this.#stats.psiErrors++
        this.#error(ErrorCode.TS_PSI, `PID ${pid}: ES_info_length ${esInfoLength} of PID ${esPid} runs past the PMT; PMT ignored`, offset)
        return
      }
      const d = s.subarray(i + 5, i + 5 + esInfoLength)
      const language = languageOf(d)
      const info: TsStreamInfo = { pid: esPid, streamType, codec: codecForStreamType(streamType, d) }
      streams.push(language === undefined ? info : { ...info, language })
      i += 5 + esInfoLength
    }
    const key = `${pcrPid}|${streams.map((st) => `${st.pid}:${st.streamType}:${st.codec ?? ''}:${st.language ?? ''}`).join(',')}`
    if (key === this.#programKey) return
    this.#programKey = key
    // Streams that left the program: their partial PES goes with them.
    for (const [p, pes] of this.#pes) {
      if (!streams.some((st) => st.pid === p && st.codec === pes.codec && st.streamType === pes.streamType)) {
        this.#pes.delete(p)
        if (this.#role[p] === Role.PES) this.#role[p] = Role.NONE
      }
    }
    for (const st of streams) {
      if (st.codec === undefined || this.#pes.has(st.pid) || st.pid === 0 || st.pid === this.#pmtPid || st.pid === TS_NULL_PID) continue
      this.#role[st.pid] = Role.PES
      this.#pes.set(st.pid, {
        pid: st.pid,
        streamType: st.streamType,
        codec: st.codec,
        state: PesState.IDLE,
        buf: new Uint8Array(isVideoCodec(st.codec) ? 64 * 1024 : 4096),
        len: 0,
        expected: -1,
        offset: 0,
        damaged: false,
        randomAccess: false,
        discontinuity: false,
        pendingDiscontinuity: false,
      })
    }
    const video = streams.find((st) => isVideoCodec(st.codec))
    this.#out.push({
      kind: 'program',
      programNumber: program,
      pmtPid: pid,
      pcrPid,
      videoPid: video?.pid,
      videoCodec: video && isVideoCodec(video.codec) ? video.codec : undefined,
      audio: streams.filter((st) => st.codec !== undefined && !isVideoCodec(st.codec)),
      streams,
      offset: endOffset,
    })
  }
}

function hexBytes(b: Uint8Array, begin: number, end: number): string {
  const out: string[] = []
  for (let i = begin; i < end && i < b.length; i++) out.push(b[i]!.toString(16).padStart(2, '0'))
  return out.join(' ')
}
