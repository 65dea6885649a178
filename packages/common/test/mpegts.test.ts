import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ErrorCode, VideoCodec } from '../src/index.js'
import { AudioCodec, TS_PACKET_SIZE, TsDemuxer, TsStreamType, crc32Mpeg2, type TsDemuxerOptions, type TsEvent, type TsPesEvent, type TsStats } from '../src/mpegts.js'
import { ascii, concatBytes, toHex, vector } from './helpers.js'

/**
 * The MPEG-TS demuxer against FFmpeg's muxer (vectors in test/vectors), against damage made on
 * purpose (so the counts are known), under every split and random chunkings, and under random bytes.
 */

const H264_TS = vector('x264-aac-64x64-1s.ts')
const H265_TS = vector('x265-aac-64x64-1s.ts')

/** `ffprobe -v error -select_streams v -show_entries packet=pts,dts -of csv=p=0 x264-aac-64x64-1s.ts`, once: 127920 + 3600 n. */
const H264_PTS = Array.from({ length: 25 }, (_, i) => 127_920 + 3600 * i)
/** The same for x265-aac-64x64-1s.ts (B-frames: decode order, so PTS jumps back; DTS rises by 3600). */
const H265_PTS = [
  133200, 144000, 140400, 136800, 158400, 151200, 147600, 154800, 176400, 169200, 162000, 165600, 172800, 180000, 194400, 187200, 183600, 190800, 205200,
  201600, 198000, 219600, 212400, 208800, 216000,
]
const H265_DTS = Array.from({ length: 25 }, (_, i) => 126_000 + 3600 * i)

function demux(input: Uint8Array, cuts: readonly number[] = [], options?: TsDemuxerOptions): { events: TsEvent[]; stats: TsStats } {
  const d = new TsDemuxer(options)
  const events: TsEvent[] = []
  let from = 0
  for (const cut of [...cuts, input.length]) {
    events.push(...d.push(input.subarray(from, cut)))
    from = cut
  }
  events.push(...d.flush())
  return { events, stats: d.stats }
}

/** Events as plain data (an MqaError as its code, offset and message; PES data as hex), for a fast toEqual. */
function plain(events: readonly TsEvent[]): unknown[] {
  return events.map((e) => {
    if (e.kind === 'error') return { kind: 'error', code: e.error.code, offset: e.error.offset, message: e.error.message, fatal: e.error.fatal }
    if (e.kind === 'pes') return { ...e, data: toHex(e.data) }
    return e
  })
}

const pesOf = (events: readonly TsEvent[], pid?: number): TsPesEvent[] => events.filter((e): e is TsPesEvent => e.kind === 'pes' && (pid === undefined || e.pid === pid))
const errorsOf = (events: readonly TsEvent[]) => events.flatMap((e) => (e.kind === 'error' ? [e.error] : []))
const packetAt = (ts: Uint8Array, i: number) => ts.subarray(i * TS_PACKET_SIZE, (i + 1) * TS_PACKET_SIZE)
const pidOf = (pkt: Uint8Array) => ((pkt[1]! & 0x1f) << 8) | pkt[2]!
const startsWithStartCode = (b: Uint8Array) => (b[0] === 0 && b[1] === 0 && b[2] === 1) || (b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 1)

/** The whole packets of `ts` with some removed, repeated or changed: damage with a known place. */
function rebuild(ts: Uint8Array, edit: (i: number, pkt: Uint8Array) => Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = []
  for (let i = 0; i * TS_PACKET_SIZE < ts.length; i++) parts.push(...edit(i, packetAt(ts, i)))
  return concatBytes(...parts)
}

/** Garbage with no 0x47 in it, so where sync comes back is known. */
function garbage(n: number, seed = 1): Uint8Array {
  const g = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    const v = (seed * 31 + i * 97) & 0xff
    g[i] = v === 0x47 ? 0x48 : v
  }
  return g
}

describe('crc32Mpeg2', () => {
  it('gives the CRC-32/MPEG-2 check value, and 0 over a section with its CRC', () => {
    expect(crc32Mpeg2(ascii('123456789'))).toBe(0x0376e6e7)
    // FFmpeg's PAT: section from after the pointer_field to the end of its CRC (3 + section_length bytes).
    const pat = packetAt(H264_TS, 1)
    const sectionLength = ((pat[6]! & 0x0f) << 8) | pat[7]!
    expect(crc32Mpeg2(pat, 5, 5 + 3 + sectionLength)).toBe(0)
  })
})

describe('TsDemuxer on FFmpeg output', () => {
  it('finds the H.264 + AAC program and one video PES per frame with the PTS ffprobe reports', () => {
    const { events, stats } = demux(H264_TS)
    expect(errorsOf(events)).toEqual([])
    const programs = events.filter((e) => e.kind === 'program')
    expect(programs).toEqual([
      {
        kind: 'program',
        programNumber: 1,
        pmtPid: 0x1000,
        pcrPid: 0x100,
        videoPid: 0x100,
        videoCodec: VideoCodec.H264,
        audio: [{ pid: 0x101, streamType: TsStreamType.AAC_ADTS, codec: AudioCodec.AAC }],
        streams: [
          { pid: 0x100, streamType: TsStreamType.H264, codec: VideoCodec.H264 },
          { pid: 0x101, streamType: TsStreamType.AAC_ADTS, codec: AudioCodec.AAC },
        ],
        offset: 2 * TS_PACKET_SIZE,
      },
    ])
    // The program comes before any PES.
    expect(events[0]!.kind).toBe('program')
    const video = pesOf(events, 0x100)
    expect(video.map((p) => p.ptsTicks)).toEqual(H264_PTS)
    for (const [i, p] of video.entries()) {
      expect(p.codec).toBe(VideoCodec.H264)
      expect(p.streamType).toBe(0x1b)
      expect(p.damaged).toBe(false)
      expect(startsWithStartCode(p.data), `PES ${i}`).toBe(true)
      if (i > 0) expect(p.ptsTicks!).toBeGreaterThan(video[i - 1]!.ptsTicks!)
      // FFmpeg writes a DTS only when it differs from the PTS.
      expect(p.dtsTicks).toBeUndefined()
    }
    expect(video[0]!.randomAccess).toBe(true)
    expect(video.slice(1).some((p) => p.randomAccess)).toBe(false)
    expect(video[0]!.offset).toBe(3 * TS_PACKET_SIZE)
    // AAC: ADTS frames (syncword 0xFFF), PTS rising, PES lengths declared and met.
    const audio = pesOf(events, 0x101)
    expect(audio).toHaveLength(3)
    for (const a of audio) {
      expect(a.codec).toBe(AudioCodec.AAC)
      expect(a.data[0]).toBe(0xff)
      expect(a.data[1]! & 0xf0).toBe(0xf0)
    }
    expect(audio.map((a) => a.ptsTicks)).toEqual([...audio.map((a) => a.ptsTicks!)].sort((x, y) => x - y))
    expect(stats).toMatchObject({ bytes: H264_TS.length, packets: H264_TS.length / TS_PACKET_SIZE, syncLosses: 0, skippedBytes: 0, continuityErrors: 0, pesErrors: 0, crcErrors: 0, psiErrors: 0 })
  })

  it('reads the H.265 stream with B-frames: PTS in decode order, DTS rising', () => {
    const { events } = demux(H265_TS)
    expect(errorsOf(events)).toEqual([])
    const program = events.find((e) => e.kind === 'program')
    expect(program).toMatchObject({ videoPid: 0x100, videoCodec: VideoCodec.H265, audio: [{ pid: 0x101, codec: AudioCodec.AAC }] })
    const video = pesOf(events, 0x100)
    expect(video.map((p) => p.ptsTicks)).toEqual(H265_PTS)
    // A DTS equal to the PTS is not written (PTS_DTS_flags 10): absent, it is the PTS.
    expect(video.map((p) => p.dtsTicks ?? p.ptsTicks)).toEqual(H265_DTS)
    expect(video.filter((p) => p.dtsTicks === undefined).length).toBeGreaterThan(0)
    expect(new Set(video.map((p) => p.ptsTicks)).size).toBe(25)
    for (const p of video) expect(startsWithStartCode(p.data)).toBe(true)
    // FFmpeg's muxer puts an access unit delimiter (type 35) first in each H.265 PES.
    for (const p of video) expect((p.data[4]! >> 1) & 0x3f).toBe(35)
  })

  it('joins the video PES back into the elementary stream byte for byte', () => {
    // The concatenated payloads are what `ffmpeg -c copy -f h264` would write; here: sizes add up.
    const { events } = demux(H264_TS)
    const video = pesOf(events, 0x100)
    const total = video.reduce((n, p) => n + p.data.length, 0)
    // Each video packet carries 184 bytes less its adaptation field; PES headers are 14 bytes (PTS only) at FFmpeg's settings.
    let payload = 0
    for (let i = 0; i * TS_PACKET_SIZE < H264_TS.length; i++) {
      const pkt = packetAt(H264_TS, i)
      if (pidOf(pkt) !== 0x100) continue
      payload += 184 - ((pkt[3]! & 0x20) ? pkt[4]! + 1 : 0)
    }
    expect(total).toBe(payload - 14 * video.length)
  })
})

describe('TsDemuxer chunking', () => {
  const whole = plain(demux(H264_TS).events)

  it('gives the same events for every split of an 8000-byte prefix into two chunks', () => {
    const prefix = H264_TS.subarray(0, 8000) // not a whole number of packets: the cut-short tail is reported too
    const expected = plain(demux(prefix).events)
    expect(expected.some((e) => (e as { kind: string }).kind === 'pes')).toBe(true)
    expect(errorsOf(demux(prefix).events).map((e) => e.code)).toEqual([ErrorCode.TS_PACKET])
    for (let cut = 0; cut <= prefix.length; cut++) {
      const got = plain(demux(prefix, [cut]).events)
      expect(got, `cut at ${cut}`).toEqual(expected)
    }
  })

  it('gives the same events for every split of a damaged 6000-byte prefix', () => {
    const damaged = concatBytes(garbage(50), H264_TS.subarray(0, 2000), garbage(300, 2), H264_TS.subarray(2100, 6000))
    const expected = plain(demux(damaged).events)
    expect(errorsOf(demux(damaged).events).length).toBeGreaterThanOrEqual(2)
    for (let cut = 0; cut <= damaged.length; cut++) expect(plain(demux(damaged, [cut]).events), `cut at ${cut}`).toEqual(expected)
  })

  it('gives the same events for random chunkings, byte-sized ones included', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: H264_TS.length - 1 }), { maxLength: 300 }), (cuts) => {
        cuts.sort((a, b) => a - b)
        expect(plain(demux(H264_TS, cuts).events)).toEqual(whole)
      }),
      { numRuns: 200, interruptAfterTimeLimit: 15_000 },
    )
    // One byte at a time.
    expect(plain(demux(H264_TS, Array.from({ length: H264_TS.length - 1 }, (_, i) => i + 1)).events)).toEqual(whole)
  })
})

describe('TsDemuxer on damaged input', () => {
  const clean = demux(H264_TS).events
  const cleanVideo = pesOf(clean, 0x100)
  /** Index of the video PES whose packets include packet i (the last one starting at or before it). */
  const videoPesAt = (i: number) => cleanVideo.findLastIndex((p) => p.offset <= i * TS_PACKET_SIZE)

  it('counts the packets a gap lost: one gap, three packets (a dropped UDP datagram holds seven)', () => {
    expect([10, 11, 12].map((i) => pidOf(packetAt(H264_TS, i)))).toEqual([0x100, 0x100, 0x100])
    const { stats } = demux(rebuild(H264_TS, (i, pkt) => (i >= 10 && i <= 12 ? [] : [pkt])))
    expect(stats).toMatchObject({ continuityErrors: 1, lostPackets: 3, packets: 159 })
  })

  it('counts a lost video packet and a lost audio packet, flags their PES and nothing else', () => {
    // Packet 10: inside the first (IDR) access unit; packet 108: inside the second audio PES.
    expect(pidOf(packetAt(H264_TS, 10))).toBe(0x100)
    expect(pidOf(packetAt(H264_TS, 108))).toBe(0x101)
    const ts = rebuild(H264_TS, (i, pkt) => (i === 10 || i === 108 ? [] : [pkt]))
    const { events, stats } = demux(ts)
    expect(stats).toMatchObject({ continuityErrors: 2, lostPackets: 2, syncLosses: 0, pesErrors: 0, packets: 160 })
    const errors = errorsOf(events)
    expect(errors.map((e) => [e.code, e.offset])).toEqual([
      [ErrorCode.TS_CONTINUITY, 10 * TS_PACKET_SIZE],
      [ErrorCode.TS_CONTINUITY, 107 * TS_PACKET_SIZE],
    ])
    expect(errors[0]!.message).toMatch(/PID 256: continuity_counter \d+, expected \d+ \(1 packet\(s\) lost/)
    const video = pesOf(events, 0x100)
    expect(video).toHaveLength(25)
    expect(video.map((p) => p.damaged)).toEqual(cleanVideo.map((_, i) => i === 0))
    expect(video[0]!.data.length).toBe(cleanVideo[0]!.data.length - 184)
    // Every later PES is intact, byte for byte.
    for (let i = 1; i < 25; i++) expect(video[i]!.data).toEqual(cleanVideo[i]!.data)
    const audio = pesOf(events, 0x101)
    expect(audio.map((a) => a.damaged)).toEqual([false, true, false])
    expect(audio[2]!.data).toEqual(pesOf(clean, 0x101)[2]!.data)
  })

  it('drops a duplicate packet once; a second duplicate is a continuity error', () => {
    const once = demux(rebuild(H264_TS, (i, pkt) => (i === 12 ? [pkt, pkt] : [pkt])))
    expect(once.stats).toMatchObject({ duplicatePackets: 1, continuityErrors: 0 })
    // The same events but for the offsets after the extra packet.
    const sansOffset = (events: readonly TsEvent[]) => plain(events).map((e) => ({ ...(e as object), offset: undefined }))
    expect(sansOffset(once.events)).toEqual(sansOffset(clean))
    const twice = demux(rebuild(H264_TS, (i, pkt) => (i === 12 ? [pkt, pkt, pkt] : [pkt])))
    expect(twice.stats).toMatchObject({ duplicatePackets: 1, continuityErrors: 1 })
    expect(errorsOf(twice.events)[0]!.message).toMatch(/second duplicate/)
    expect(pesOf(twice.events, 0x100).filter((p) => p.damaged)).toHaveLength(1)
  })

  it('reports garbage between packets as one sync loss with its offset and size', () => {
    // 100 bytes after packet 30 (a video packet inside PES 4), 1000 bytes after packet 100.
    const ts = rebuild(H264_TS, (i, pkt) => (i === 30 ? [pkt, garbage(100)] : i === 100 ? [pkt, garbage(1000, 7)] : [pkt]))
    const { events, stats } = demux(ts, [4096, 8192, 20000])
    expect(stats).toMatchObject({ syncLosses: 2, skippedBytes: 1100, continuityErrors: 0, packets: 162 })
    const errors = errorsOf(events)
    expect(errors.map((e) => [e.code, e.offset])).toEqual([
      [ErrorCode.TS_SYNC, 31 * TS_PACKET_SIZE],
      [ErrorCode.TS_SYNC, 101 * TS_PACKET_SIZE + 100],
    ])
    expect(errors[0]!.message).toBe(`lost MPEG-TS sync: skipped 100 bytes before locking at byte ${31 * TS_PACKET_SIZE + 100} (at byte ${31 * TS_PACKET_SIZE})`)
    // The packet before the garbage is suspect (a packet cut short looks the same): its PES is flagged.
    const video = pesOf(events, 0x100)
    const flagged = new Set([videoPesAt(30), videoPesAt(100)])
    expect(video.map((p, i) => p.damaged === flagged.has(i))).toEqual(video.map(() => true))
    for (const [i, p] of video.entries()) expect(p.data).toEqual(cleanVideo[i]!.data)
  })

  it('loses one packet to a corrupt sync byte: one sync loss, one continuity error', () => {
    // Packet 46 (video, inside the PES packet 45 starts) gets its 0x47 overwritten: the demuxer
    // re-locks on packet 47, which shows the gap; packet 45, with no sync byte after it, is suspect.
    const ts = rebuild(H264_TS, (i, pkt) => (i === 46 ? [Uint8Array.of(0x00, ...pkt.subarray(1))] : [pkt]))
    const { events, stats } = demux(ts)
    expect(stats).toMatchObject({ syncLosses: 1, skippedBytes: 188, continuityErrors: 1, packets: 161 })
    expect(errorsOf(events).map((e) => [e.code, e.offset])).toEqual([
      [ErrorCode.TS_SYNC, 46 * TS_PACKET_SIZE],
      [ErrorCode.TS_CONTINUITY, 47 * TS_PACKET_SIZE],
    ])
    const video = pesOf(events, 0x100)
    expect(videoPesAt(45)).toBe(videoPesAt(46))
    expect(video.filter((p) => p.damaged).map((p) => video.indexOf(p))).toEqual([videoPesAt(46)])
    expect(video).toHaveLength(25)
  })

  it('drops a packet with transport_error_indicator, counts it once and flags its PES', () => {
    const ts = rebuild(H264_TS, (i, pkt) => (i === 20 || i === 21 ? [Uint8Array.of(0x47, pkt[1]! | 0x80, ...pkt.subarray(2))] : [pkt]))
    const { events, stats } = demux(ts)
    expect(stats).toMatchObject({ transportErrorIndicators: 2, continuityErrors: 0 })
    // Two in a row: one error event.
    expect(errorsOf(events).map((e) => [e.code, e.offset, e.message])).toEqual([
      [ErrorCode.TS_TRANSPORT_ERROR, 20 * TS_PACKET_SIZE, `2 packet(s) with transport_error_indicator set; payload dropped (at byte ${20 * TS_PACKET_SIZE})`],
    ])
    const video = pesOf(events, 0x100)
    expect(video.filter((p) => p.damaged).map((p) => video.indexOf(p))).toEqual([videoPesAt(20)])
  })

  it('ignores a PMT with a bad CRC and takes the program from the next one', () => {
    const ts = rebuild(H264_TS, (i, pkt) => {
      if (i !== 2) return [pkt]
      const bad = pkt.slice()
      bad[20] = bad[20]! ^ 0x01
      return [bad]
    })
    const { events, stats } = demux(ts)
    expect(stats).toMatchObject({ crcErrors: 1, continuityErrors: 0 })
    expect(errorsOf(events).map((e) => [e.code, e.offset])).toEqual([[ErrorCode.TS_PSI, 2 * TS_PACKET_SIZE]])
    const program = events.findIndex((e) => e.kind === 'program')
    expect(events[program]).toMatchObject({ offset: 26 * TS_PACKET_SIZE, videoCodec: VideoCodec.H264 })
    // PES before the program was known are not assembled; from packet 27 on they all are.
    const video = pesOf(events, 0x100)
    expect(video.map((p) => p.ptsTicks)).toEqual(cleanVideo.filter((p) => p.offset >= 27 * TS_PACKET_SIZE).map((p) => p.ptsTicks))
  })

  it('survives all of it at once, in small chunks, and later PES come out intact', () => {
    const ts = rebuild(H264_TS, (i, pkt) => {
      if (i === 0) return [garbage(77), pkt]
      if (i === 10 || i === 57) return []
      if (i === 30) return [pkt, garbage(100)]
      if (i === 46) return [Uint8Array.of(0x00, ...pkt.subarray(1))]
      if (i === 60) return [pkt, pkt]
      return [pkt]
    })
    const cuts = Array.from({ length: Math.floor(ts.length / 1316) }, (_, i) => (i + 1) * 1316)
    const { events, stats } = demux(ts, cuts)
    expect(stats).toMatchObject({ syncLosses: 3, skippedBytes: 77 + 100 + 188, continuityErrors: 3, duplicatePackets: 1, pesErrors: 0, crcErrors: 0 })
    expect(errorsOf(events).map((e) => e.code)).toEqual([
      ErrorCode.TS_SYNC,
      ErrorCode.TS_CONTINUITY,
      ErrorCode.TS_SYNC,
      ErrorCode.TS_SYNC,
      ErrorCode.TS_CONTINUITY,
      ErrorCode.TS_CONTINUITY,
    ])
    expect(errorsOf(events)[0]!.message).toBe('no MPEG-TS sync at the start: skipped 77 bytes before locking at byte 77 (at byte 0)')
    const video = pesOf(events, 0x100)
    expect(video).toHaveLength(25)
    const damaged = new Set([videoPesAt(10), videoPesAt(30), videoPesAt(46)])
    expect(pesOf(events, 0x101).map((a) => a.damaged)).toEqual([true, false, false])
    expect(video.map((p, i) => p.damaged === damaged.has(i)).every(Boolean)).toBe(true)
    for (let i = videoPesAt(61) + 1; i < 25; i++) expect(video[i]!.data).toEqual(cleanVideo[i]!.data)
  })

  it('drops a PES over the size limit with one error and goes on', () => {
    // The IDR access unit (2.7 KB) and the three audio PES (1.3 to 1.6 KB) are over a 1 KB limit.
    const { events, stats } = demux(H264_TS, [], { maxPesBytes: 1024 })
    const big = pesOf(clean).filter((p) => 14 + p.data.length > 1024)
    expect(big.map((p) => p.pid)).toEqual([0x100, 0x101, 0x101, 0x101])
    expect(stats.pesErrors).toBe(4)
    expect(errorsOf(events).map((e) => e.offset)).toEqual(big.map((p) => p.offset))
    expect(errorsOf(events).every((e) => e.code === ErrorCode.TS_PES && /larger than 1024 bytes/.test(e.message))).toBe(true)
    expect(pesOf(events).map((p) => p.ptsTicks)).toEqual(cleanVideo.slice(1).map((p) => p.ptsTicks))
  })
})

/** Synthetic streams: what FFmpeg never writes, but a contribution link may deliver. */
describe('TsDemuxer on synthetic streams', () => {
  class Mux {
    readonly #cc = new Map<number, number>()
    setCc(pid: number, cc: number): void {
      this.#cc.set(pid, cc)
    }
    packet(pid: number, payload: Uint8Array, o: { pusi?: boolean; discontinuity?: boolean; randomAccess?: boolean; noPayload?: boolean; cc?: number } = {}): Uint8Array {
      const pkt = new Uint8Array(TS_PACKET_SIZE).fill(0xff)
      const cc = o.cc ?? (o.noPayload ? (this.#cc.get(pid) ?? 0) : ((this.#cc.get(pid) ?? 15) + 1) & 15)
      if (!o.noPayload) this.#cc.set(pid, cc)
      const flags = (o.discontinuity ? 0x80 : 0) | (o.randomAccess ? 0x40 : 0)
      const needAf = o.noPayload || flags !== 0 || payload.length < 184
      const afLength = o.noPayload ? 183 : needAf ? 183 - payload.length : -1
      if (needAf && afLength < (flags ? 1 : 0)) throw new Error(`${payload.length} bytes do not fit with an adaptation field`)
      pkt[0] = 0x47
      pkt[1] = (o.pusi ? 0x40 : 0) | (pid >> 8)
      pkt[2] = pid & 0xff
      pkt[3] = (needAf ? 0x20 : 0) | (o.noPayload ? 0 : 0x10) | cc
      if (needAf) {
        pkt[4] = afLength
        if (afLength > 0) pkt[5] = flags
      }
      pkt.set(payload, TS_PACKET_SIZE - payload.length)
      return pkt
    }
    /** A section split over packets, pointer_field 0. */
    psi(pid: number, section: Uint8Array): Uint8Array[] {
      const data = concatBytes(Uint8Array.of(0), section)
      const out: Uint8Array[] = []
      for (let i = 0; i < data.length; i += 184) out.push(this.packet(pid, data.subarray(i, i + 184), { pusi: i === 0 }))
      return out
    }
    pes(pid: number, streamId: number, body: Uint8Array, o: { ptsTicks?: number; dtsTicks?: number; bounded?: boolean; randomAccess?: boolean }): Uint8Array[] {
      const ts = (prefix: number, t: number) => [
        (prefix << 4) | (Math.floor(t / 2 ** 30) << 1) | 1,
        (t >>> 22) & 0xff,
        (((t >>> 15) & 0x7f) << 1) | 1,
        (t >>> 7) & 0xff,
        ((t & 0x7f) << 1) | 1,
      ]
      const opt = o.ptsTicks === undefined ? [] : o.dtsTicks === undefined ? ts(2, o.ptsTicks) : [...ts(3, o.ptsTicks), ...ts(1, o.dtsTicks)]
      const flags = o.ptsTicks === undefined ? 0 : o.dtsTicks === undefined ? 0x80 : 0xc0
      const header = [0x80, flags, opt.length, ...opt]
      const length = o.bounded ? header.length + body.length : 0
      const pes = concatBytes(Uint8Array.of(0, 0, 1, streamId, length >> 8, length & 0xff, ...header), body)
      const out: Uint8Array[] = []
      // The flags byte of the adaptation field takes two bytes from the first packet.
      const first = o.randomAccess ? 182 : 184
      out.push(this.packet(pid, pes.subarray(0, first), { pusi: true, randomAccess: o.randomAccess === true }))
      for (let i = first; i < pes.length; i += 184) out.push(this.packet(pid, pes.subarray(i, i + 184)))
      return out
    }
  }

  function section(tableId: number, idExt: number, body: number[]): Uint8Array {
    const length = 5 + body.length + 4
    const s = Uint8Array.of(tableId, 0xb0 | (length >> 8), length & 0xff, idExt >> 8, idExt & 0xff, 0xc1, 0, 0, ...body, 0, 0, 0, 0)
    const crc = crc32Mpeg2(s, 0, s.length - 4)
    s.set([crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff], s.length - 4)
    return s
  }
  const pat = (program: number, pmtPid: number) => section(0, 1, [program >> 8, program & 0xff, 0xe0 | (pmtPid >> 8), pmtPid & 0xff])
  function pmt(program: number, pcrPid: number, streams: { type: number; pid: number; descriptors?: number[] }[]): Uint8Array {
    const body = [0xe0 | (pcrPid >> 8), pcrPid & 0xff, 0xf0, 0]
    for (const s of streams) {
      const d = s.descriptors ?? []
      body.push(s.type, 0xe0 | (s.pid >> 8), s.pid & 0xff, 0xf0 | (d.length >> 8), d.length & 0xff, ...d)
    }
    return section(2, program, body)
  }
  const body = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff)

  it('assembles a PMT spread over two packets, with languages and a DVB AC-3 stream', () => {
    const m = new Mux()
    const lang = (code: string) => [0x0a, 4, ...ascii(code), 0]
    const streams = [
      { type: 0x24, pid: 0x40, descriptors: Array.from({ length: 150 }, () => 0x00) }, // 75 empty descriptors (tag 0, length 0)
      { type: 0x0f, pid: 0x41, descriptors: lang('eng') },
      { type: 0x06, pid: 0x42, descriptors: [0x6a, 1, 0, ...lang('deu')] },
      { type: 0x11, pid: 0x43 },
      { type: 0x86, pid: 0x44 }, // SCTE-35: sections, not PES; listed, not assembled
    ]
    const ts = concatBytes(...m.psi(0, pat(7, 0x30)), ...m.psi(0x30, pmt(7, 0x40, streams)), ...m.pes(0x42, 0xbd, body(300, 1), { ptsTicks: 1000, bounded: true }))
    expect(ts.length).toBe(5 * TS_PACKET_SIZE)
    const { events } = demux(ts)
    expect(errorsOf(events)).toEqual([])
    expect(events[0]).toEqual({
      kind: 'program',
      programNumber: 7,
      pmtPid: 0x30,
      pcrPid: 0x40,
      videoPid: 0x40,
      videoCodec: VideoCodec.H265,
      audio: [
        { pid: 0x41, streamType: 0x0f, codec: AudioCodec.AAC, language: 'eng' },
        { pid: 0x42, streamType: 0x06, codec: AudioCodec.AC3, language: 'deu' },
        { pid: 0x43, streamType: 0x11, codec: AudioCodec.AAC_LATM },
      ],
      streams: [
        { pid: 0x40, streamType: 0x24, codec: VideoCodec.H265 },
        { pid: 0x41, streamType: 0x0f, codec: AudioCodec.AAC, language: 'eng' },
        { pid: 0x42, streamType: 0x06, codec: AudioCodec.AC3, language: 'deu' },
        { pid: 0x43, streamType: 0x11, codec: AudioCodec.AAC_LATM },
        { pid: 0x44, streamType: 0x86, codec: undefined },
      ],
      offset: 2 * TS_PACKET_SIZE,
    })
    expect(pesOf(events)).toMatchObject([{ pid: 0x42, codec: AudioCodec.AC3, ptsTicks: 1000, data: body(300, 1) }])
  })

  it('emits a bounded PES as soon as it is complete, an unbounded one at the next start', () => {
    const m = new Mux()
    const d = new TsDemuxer()
    // A packet is read once the next one's sync byte is in: the PMT comes out with the next push.
    expect(d.push(concatBytes(...m.psi(0, pat(1, 0x100)), ...m.psi(0x100, pmt(1, 0x101, [{ type: 0x1b, pid: 0x101 }, { type: 0x0f, pid: 0x102 }]))))).toEqual([])
    // Bounded audio: out with the push that completes it (the next packet's sync byte is all it waits for).
    const audio = concatBytes(...m.pes(0x102, 0xc0, body(500, 2), { ptsTicks: 2 ** 33 - 1, bounded: true }))
    expect(d.push(audio).map((e) => e.kind)).toEqual(['program'])
    expect(d.push(Uint8Array.of(0x47))).toMatchObject([{ kind: 'pes', pid: 0x102, ptsTicks: 2 ** 33 - 1, data: body(500, 2) }])
    const rest = concatBytes(...m.pes(0x101, 0xe0, body(1000, 3), { ptsTicks: 2 ** 32 + 5, dtsTicks: 2 ** 32 + 1, randomAccess: true })).subarray(1)
    expect(d.push(rest)).toEqual([])
    expect(d.flush()).toMatchObject([{ kind: 'pes', pid: 0x101, ptsTicks: 2 ** 32 + 5, dtsTicks: 2 ** 32 + 1, randomAccess: true, damaged: false, data: body(1000, 3) }])
  })

  it('follows the continuity rules: no payload does not count, discontinuity_indicator resets', () => {
    const m = new Mux()
    const pid = 0x101
    const ts = concatBytes(
      ...m.psi(0, pat(1, 0x100)),
      ...m.psi(0x100, pmt(1, pid, [{ type: 0x1b, pid }])),
      ...m.pes(pid, 0xe0, body(400, 4), { ptsTicks: 0 }),
      m.packet(pid, new Uint8Array(0), { noPayload: true }), // adaptation field only: same counter
      m.packet(pid, new Uint8Array(0), { noPayload: true }),
      ...m.pes(pid, 0xe0, body(100, 5), { ptsTicks: 3600 }),
      m.packet(pid, new Uint8Array(0), { noPayload: true, discontinuity: true, cc: 9 }),
      m.packet(pid, concatBytes(Uint8Array.of(0, 0, 1, 0xe0, 0, 0, 0x80, 0, 0), body(165, 6)), { pusi: true, cc: 3, discontinuity: true }), // jump: allowed
      m.packet(pid, body(184, 7), { cc: 4 }),
      m.packet(pid, body(184, 8), { cc: 6 }), // 5 lost
    )
    const { events, stats } = demux(ts)
    expect(stats).toMatchObject({ continuityErrors: 1, discontinuities: 2, duplicatePackets: 0 })
    expect(errorsOf(events).map((e) => e.message)).toEqual([`PID ${pid}: continuity_counter 6, expected 5 (1 packet(s) lost, or more) (at byte ${11 * TS_PACKET_SIZE})`])
    expect(pesOf(events).map((p) => [p.ptsTicks, p.discontinuity, p.damaged, p.data.length])).toEqual([
      [0, false, false, 400],
      [3600, false, false, 100],
      [undefined, true, true, 165 + 184 + 184],
    ])
  })

  it('reports a bounded PES cut short, a PES without a start code and a cut-short last packet', () => {
    const m = new Mux()
    const pid = 0x102
    const head = [...m.psi(0, pat(1, 0x100)), ...m.psi(0x100, pmt(1, pid, [{ type: 0x0f, pid }]))]
    const audio = m.pes(pid, 0xc0, body(400, 9), { ptsTicks: 90, bounded: true })
    m.setCc(pid, 0) // as if only the first packet had been sent: no continuity gap
    const ts = concatBytes(
      ...head,
      audio[0]!, // the rest never comes: the next PUSI ends it
      ...m.pes(pid, 0xc0, body(10, 10), { ptsTicks: 180, bounded: true }).map((p) => p.slice()),
      m.packet(pid, body(184, 11), { pusi: true }), // no 00 00 01
      ...m.pes(pid, 0xc0, body(10, 12), { ptsTicks: 270, bounded: true }),
    )
    const { events, stats } = demux(ts.subarray(0, ts.length - 100))
    expect(stats.pesErrors).toBe(2)
    expect(errorsOf(events).map((e) => [e.code, e.offset])).toEqual([
      [ErrorCode.TS_PES, 2 * TS_PACKET_SIZE],
      [ErrorCode.TS_PES, 4 * TS_PACKET_SIZE],
      [ErrorCode.TS_PACKET, 5 * TS_PACKET_SIZE],
    ])
    expect(errorsOf(events).map((e) => e.message.replace(/ \(at byte \d+\)$/, ''))).toEqual([
      `PID ${pid}: PES cut short: 184 of 414 bytes; emitted as damaged`,
      `PID ${pid}: PES does not start with 00 00 01 (got 0b 18 25); dropped`,
      'input ends 88 bytes into a 188-byte packet; dropped',
    ])
    expect(pesOf(events).map((p) => [p.ptsTicks, p.damaged, p.data.length])).toEqual([
      [90, true, 170],
      [180, false, 10],
    ])
  })

  it('follows a PAT that moves the program, and a PMT that changes, with one program event each', () => {
    const m = new Mux()
    const v = [{ type: 0x1b, pid: 0x101 }]
    const ts = concatBytes(
      ...m.psi(0, pat(1, 0x100)),
      ...m.psi(0x100, pmt(1, 0x101, v)),
      ...m.psi(0x100, pmt(1, 0x101, v)), // repeated: no event
      ...m.psi(0, pat(2, 0x200)),
      ...m.psi(0x100, pmt(1, 0x101, [{ type: 0x24, pid: 0x101 }])), // old PMT PID: ignored
      ...m.psi(0x200, pmt(2, 0x101, [...v, { type: 0x03, pid: 0x105 }])),
    )
    const programs = demux(ts).events
    expect(programs.map((e) => (e.kind === 'program' ? [e.programNumber, e.videoCodec, e.audio.map((a) => a.codec)] : e.kind))).toEqual([
      [1, VideoCodec.H264, []],
      [2, VideoCodec.H264, [AudioCodec.MPEG_AUDIO]],
    ])
    expect(demux(ts, [], { programNumber: 2 }).events).toHaveLength(1)
  })
})

describe('TsDemuxer under random input', () => {
  /** Bytes biased towards sync bytes and the values headers are made of. */
  const bytes = (max: number) =>
    fc.array(fc.oneof(fc.constantFrom(0x47, 0x47, 0, 1, 0x40, 0x10, 0x30, 0xff, 0xe0, 0xc0), fc.integer({ min: 0, max: 255 })), { maxLength: max }).map((a) => Uint8Array.from(a))

  function checkInvariants(input: Uint8Array, events: readonly TsEvent[], stats: TsStats): void {
    expect(stats.bytes).toBe(input.length)
    expect(stats.packets * TS_PACKET_SIZE + stats.skippedBytes).toBeLessThanOrEqual(input.length)
    let out = 0
    for (const e of events) {
      if (e.kind === 'error') {
        expect(e.error.code).toMatch(/^ERR_TS_[A-Z_]+$/)
        expect(e.error.offset).toBeGreaterThanOrEqual(0)
        expect(e.error.offset).toBeLessThanOrEqual(input.length)
        expect(e.error.fatal).toBe(false)
      } else if (e.kind === 'pes') {
        out += e.data.length
        expect(e.offset).toBeLessThan(input.length)
      }
    }
    // Nothing is made up: the payload handed out is at most the input.
    expect(out).toBeLessThanOrEqual(input.length)
  }

  it('never throws or hangs on random bytes, in random chunks', () => {
    fc.assert(
      fc.property(bytes(4000), fc.integer({ min: 1, max: 700 }), (input, chunk) => {
        const cuts: number[] = []
        for (let i = chunk; i < input.length; i += chunk) cuts.push(i)
        const { events, stats } = demux(input, cuts)
        checkInvariants(input, events, stats)
      }),
      { numRuns: 1000, interruptAfterTimeLimit: 15_000 },
    )
  })

  it('never throws on mutated real streams, and chunking never changes the events', () => {
    const edits = fc.array(
      fc.record({ at: fc.nat({ max: H264_TS.length - 1 }), op: fc.constantFrom('flip', 'delete', 'insert', 'zero'), n: fc.integer({ min: 1, max: 400 }), v: fc.integer({ min: 0, max: 255 }) }),
      { minLength: 1, maxLength: 8 },
    )
    fc.assert(
      fc.property(edits, fc.integer({ min: 1, max: 5000 }), (list, chunk) => {
        let input = H264_TS
        for (const e of list) {
          const at = Math.min(e.at, input.length)
          if (e.op === 'flip') input = concatBytes(input.subarray(0, at), Uint8Array.of((input[at] ?? 0) ^ (e.v | 1)), input.subarray(at + 1))
          else if (e.op === 'delete') input = concatBytes(input.subarray(0, at), input.subarray(at + e.n))
          else if (e.op === 'insert') input = concatBytes(input.subarray(0, at), garbage(e.n, e.v), input.subarray(at))
          else input = concatBytes(input.subarray(0, at), new Uint8Array(Math.min(e.n, input.length - at)), input.subarray(at + e.n))
        }
        const cuts: number[] = []
        for (let i = chunk; i < input.length; i += chunk) cuts.push(i)
        const one = demux(input)
        checkInvariants(input, one.events, one.stats)
        const chunked = demux(input, cuts)
        expect(plain(chunked.events)).toEqual(plain(one.events))
        expect(chunked.stats).toEqual(one.stats)
      }),
      { numRuns: 300, interruptAfterTimeLimit: 20_000 },
    )
  })

  it('keeps memory bounded: an endless PES is cut at the limit, sync search keeps no backlog', () => {
    const m = {
      cc: 0,
      packet(pid: number, payload: Uint8Array, pusi = false): Uint8Array {
        const p = new Uint8Array(TS_PACKET_SIZE)
        p.set([0x47, (pusi ? 0x40 : 0) | (pid >> 8), pid & 0xff, 0x10 | (this.cc++ & 15)])
        p.set(payload.subarray(0, 184), 4)
        return p
      },
    }
    // PAT + PMT from the vector, then one video PES that never ends (4 MB), limit 1 MB.
    const d = new TsDemuxer({ maxPesBytes: 1 << 20 })
    const events: TsEvent[] = [...d.push(H264_TS.subarray(0, 3 * TS_PACKET_SIZE))]
    events.push(...d.push(m.packet(0x100, Uint8Array.of(0, 0, 1, 0xe0, 0, 0, 0x80, 0, 0), true)))
    const filler = new Uint8Array(184).fill(0xaa)
    for (let i = 0; i < (4 << 20) / 184; i++) events.push(...d.push(m.packet(0x100, filler)))
    events.push(...d.flush())
    expect(errorsOf(events).map((e) => e.code)).toEqual([ErrorCode.TS_PES])
    expect(pesOf(events)).toEqual([])
    // Megabytes of garbage: one error, at the end.
    const g = new TsDemuxer()
    let seen = 0
    for (let i = 0; i < 64; i++) seen += g.push(garbage(65536, i)).length
    expect(seen).toBe(0)
    expect(g.flush().map((e) => (e.kind === 'error' ? e.error.message : e.kind))).toEqual(['no MPEG-TS sync at the start: skipped 4194304 bytes to the end of input (at byte 0)'])
  })
})
