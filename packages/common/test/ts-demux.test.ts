import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { resolveFfmpeg } from '../../../scripts/lib/ffmpeg-bin.js'
import { ErrorCode, MqaError, TsDemuxer, crc32Mpeg, type TsEvent } from '../src/index.js'

/** The committed fixture: 3 s of 320x180 H.264 + AAC from fixtures/make-fixtures. */
const fixture = new Uint8Array(readFileSync(new URL('../../../fixtures/h264-320x180.ts', import.meta.url)))
const { ffprobe } = resolveFfmpeg()

function demux(buf: Uint8Array, chunk = buf.length): { events: TsEvent[]; d: TsDemuxer } {
  const d = new TsDemuxer()
  const events: TsEvent[] = []
  for (let i = 0; i < buf.length; i += chunk) events.push(...d.push(buf.subarray(i, i + chunk)))
  events.push(...d.flush())
  return { events, d }
}
const video = (events: TsEvent[]) => events.filter((e): e is Extract<TsEvent, { kind: 'pes' }> => e.kind === 'pes' && e.codec === 'h264')
const sig = (events: TsEvent[]) => events.map((e) => (e.kind === 'pes' ? `${e.pid}:${e.ptsTicks}:${e.data.length}:${e.damaged}` : e.kind === 'error' ? `E:${e.error.code}` : `P:${e.videoPid}`))

describe('MPEG-TS demuxer', () => {
  it('finds the program and one video PES per frame, with the PTS ffprobe reports', () => {
    const { events, d } = demux(fixture, 4096)
    const program = events.find((e) => e.kind === 'program')
    expect(program).toMatchObject({ videoPid: 256, videoCodec: 'h264' })
    const v = video(events)
    const probed = (
      JSON.parse(execFileSync(ffprobe, ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=pts,dts', '-of', 'json', new URL('../../../fixtures/h264-320x180.ts', import.meta.url).pathname], { encoding: 'utf8' })) as {
        packets: { pts: number; dts: number }[]
      }
    ).packets.map((p) => [p.pts, p.dts])
    expect(v.map((e) => [e.ptsTicks, e.dtsTicks])).toEqual(probed)
    expect(v.every((e) => e.data[0] === 0 && e.data[1] === 0 && e.data[2] === 0 && e.data[3] === 1)).toBe(true)
    expect(v[0]!.randomAccess).toBe(true)
    expect(d.stats).toMatchObject({ packets: fixture.length / 188, continuityErrors: 0, syncLosses: 0, crcErrors: 0 })
    expect(events.filter((e) => e.kind === 'pes' && e.codec === 'aac').length).toBeGreaterThan(0)
  })

  it('gives the same events for every split of the first 20 packets into two chunks', () => {
    const head = fixture.subarray(0, 188 * 20)
    const whole = sig(demux(head).events)
    for (let cut = 1; cut < head.length; cut += 7) {
      const d = new TsDemuxer()
      const ev = [...d.push(head.subarray(0, cut)), ...d.push(head.subarray(cut)), ...d.flush()]
      expect(sig(ev), `cut ${cut}`).toEqual(whole)
    }
  })

  it('gives the same events for any chunking (property)', () => {
    const whole = sig(demux(fixture).events)
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 10 }), (sizes) => {
        const d = new TsDemuxer()
        const ev: TsEvent[] = []
        for (let pos = 0, i = 0; pos < fixture.length; i++) {
          const n = sizes[i % sizes.length]!
          ev.push(...d.push(fixture.subarray(pos, pos + n)))
          pos += n
        }
        ev.push(...d.flush())
        expect(sig(ev)).toEqual(whole)
      }),
      { numRuns: 40 },
    )
  })

  it('counts lost packets, flags the PES they hit, and carries on', () => {
    const packets = fixture.length / 188
    const all = video(demux(fixture).events)
    // Drop 3 video packets (PID 256) from the middle of the stream.
    const drop = new Set<number>()
    for (let i = Math.floor(packets / 2); drop.size < 3; i++) {
      const pid = ((fixture[i * 188 + 1]! & 0x1f) << 8) | fixture[i * 188 + 2]!
      const pusi = (fixture[i * 188 + 1]! & 0x40) !== 0
      if (pid === 256 && !pusi) drop.add(i)
    }
    const parts: Uint8Array[] = []
    for (let i = 0; i < packets; i++) if (!drop.has(i)) parts.push(fixture.subarray(i * 188, i * 188 + 188))
    const damaged = Uint8Array.from(Buffer.concat(parts))
    const { events, d } = demux(damaged, 1316)
    const v = video(events)
    expect(v).toHaveLength(all.length)
    expect(d.stats.continuityErrors).toBeGreaterThanOrEqual(1)
    expect(d.stats.continuityErrors).toBeLessThanOrEqual(3)
    expect(v.filter((e) => e.damaged).length).toBeGreaterThanOrEqual(1)
    expect(v.at(-1)!.damaged).toBe(false)
    expect(events.filter((e) => e.kind === 'error').every((e) => e.kind === 'error' && e.error.code === ErrorCode.TS_CONTINUITY)).toBe(true)
  })

  it('resyncs after garbage between packets and reports it once', () => {
    const at = 188 * 100
    const garbage = new Uint8Array(500).fill(0x47) // sync bytes in the wrong places make it harder
    for (let i = 0; i < garbage.length; i += 3) garbage[i] = 0x11
    const buf = Uint8Array.from(Buffer.concat([fixture.subarray(0, at), garbage, fixture.subarray(at)]))
    const { events, d } = demux(buf, 777)
    expect(d.stats.syncLosses).toBe(1)
    expect(d.stats.skippedBytes).toBe(500)
    const errs = events.filter((e) => e.kind === 'error')
    expect(errs).toHaveLength(1)
    expect(errs[0]!.kind === 'error' && errs[0]!.error.offset).toBe(at)
    expect(video(events).length).toBe(video(demux(fixture).events).length)
  })

  it('drops a packet with transport_error_indicator and counts it', () => {
    const buf = fixture.slice()
    buf[188 * 50 + 1]! |= 0x80
    const { d } = demux(buf)
    expect(d.stats.transportErrors).toBe(1)
  })

  it('checks the PSI CRC', () => {
    const buf = fixture.slice()
    // Corrupt a byte of the first PMT (PID 4096 in FFmpeg's muxer) so its CRC fails.
    for (let i = 0; i < 20; i++) {
      const pid = ((buf[i * 188 + 1]! & 0x1f) << 8) | buf[i * 188 + 2]!
      if (pid === 0x1000) {
        buf[i * 188 + 20] ^= 0xff
        break
      }
    }
    const { d, events } = demux(buf)
    expect(d.stats.crcErrors).toBeGreaterThanOrEqual(1)
    expect(events.some((e) => e.kind === 'program')).toBe(true) // the next PMT is good
    expect(crc32Mpeg(new Uint8Array([0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39]))).toBe(0x0376e6e7) // CRC-32/MPEG-2 check value
  })

  it('never throws or hangs on random bytes, and its carry-over stays bounded', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 1, max: 600 }), (buf, chunk) => {
        const d = new TsDemuxer()
        for (let i = 0; i < buf.length; i += chunk) {
          for (const e of d.push(buf.subarray(i, i + chunk))) if (e.kind === 'error') expect(e.error).toBeInstanceOf(MqaError)
        }
        d.flush()
      }),
      { numRuns: 300, interruptAfterTimeLimit: 15_000 },
    )
  })
})
