import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { TS_PACKET_SIZE, TsDemuxer } from '@mqa/common'
import { TransportMonitor } from '../src/io/transport-monitor.js'
import { fixture } from './helpers.js'

/** fixtures/h264-320x180.ts (made by fixtures/make-fixtures): H.264 + AAC in MPEG-TS. */
const clean = new Uint8Array(readFileSync(fixture('h264-320x180.ts')))

function videoPes(ts: Uint8Array): { offset: number; ptsTicks: number }[] {
  const d = new TsDemuxer()
  return [...d.push(ts), ...d.flush()].flatMap((e) => (e.kind === 'pes' && e.codec === 'h264' && e.ptsTicks !== undefined ? [{ offset: e.offset, ptsTicks: e.ptsTicks }] : []))
}

/** The stream without the packets at these indices. */
function without(ts: Uint8Array, drop: Set<number>): Uint8Array {
  const kept: Uint8Array[] = []
  for (let i = 0; i * TS_PACKET_SIZE < ts.length; i++) if (!drop.has(i)) kept.push(ts.subarray(i * TS_PACKET_SIZE, (i + 1) * TS_PACKET_SIZE))
  return Uint8Array.from(Buffer.concat(kept))
}

describe('TransportMonitor', () => {
  const pes = videoPes(clean)
  const pidAt = (i: number) => ((clean[i * TS_PACKET_SIZE + 1]! & 0x1f) << 8) | clean[i * TS_PACKET_SIZE + 2]!
  const videoPid = pidAt(pes[0]!.offset / TS_PACKET_SIZE)
  // Seven packets (one UDP datagram) from inside a video access unit after the first, all video.
  const sevenVideo = (from: number) => Array.from({ length: 7 }, (_, k) => pidAt(from + k)).every((pid) => pid === videoPid)
  const index = pes.findIndex((v, k) => k > 0 && k < pes.length - 1 && pes[k + 1]!.offset / TS_PACKET_SIZE > v.offset / TS_PACKET_SIZE + 10 && sevenVideo(v.offset / TS_PACKET_SIZE + 2))
  const first = pes[index]!.offset / TS_PACKET_SIZE + 2
  const lost = new Set(Array.from({ length: 7 }, (_, k) => first + k))

  it('charges the packets lost to the access unit they were lost from, and to no other', () => {
    const damaged = without(clean, lost)
    expect(index).toBeGreaterThan(0)
    const m = new TransportMonitor()
    // In UDP-sized chunks, and taken only after everything was pushed: a decoder that runs
    // seconds behind the socket still gets the errors on the right frame.
    for (let p = 0; p < damaged.length; p += 1316) m.push(damaged.subarray(p, p + 1316))
    const charged = pes.map((v) => m.takeErrors(v.ptsTicks))
    expect(charged[index]).toBe(7)
    expect(charged.filter((n, k) => k !== index && n !== 0)).toEqual([])
    expect(m.stats.lostPackets).toBe(7)
  })

  it('charges nothing on a clean stream', () => {
    const m = new TransportMonitor()
    m.push(clean)
    expect(pes.map((v) => m.takeErrors(v.ptsTicks)).every((n) => n === 0)).toBe(true)
  })
})
