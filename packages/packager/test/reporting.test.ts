import { createSocket } from 'node:dgram'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { VideoCodec, recordingLogger } from '@mqa/common'
import { encode } from '@mqa/encoder'
import { startPackager } from '../src/index.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const freePort = () => 40_000 + Math.floor(Math.random() * 5000)

async function sendPackets(port: number, bytes: Uint8Array, packetsPerDatagram = 7): Promise<void> {
  const socket = createSocket('udp4')
  const size = 188 * packetsPerDatagram
  for (let i = 0; i < bytes.length; i += size) {
    await new Promise<void>((resolve, reject) => socket.send(bytes.subarray(i, i + size), port, '127.0.0.1', (err) => (err ? reject(err) : resolve())))
    if ((i / size) % 20 === 19) await sleep(1) // a paced sender: the packager keeps up
  }
  socket.close()
}

describe('packager error reporting on a live input', () => {
  it('logs ingest errors while a UDP input runs, and /metrics counts the segmenter, with gauges of at most 3 decimals', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqa-report-'))
    const file = join(dir, 'in.ts')
    await encode({ input: 'lavfi:testsrc2=size=160x90:rate=25', output: file, codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 300, gopSeconds: 1, segmentSeconds: 1, timecode: 'wallclock', workers: 1, realtime: false, bframes: 0, maxFrames: 125 })
    // Lose every 40th packet: continuity errors all along the stream.
    const src = new Uint8Array(readFileSync(file))
    const kept: Uint8Array[] = []
    for (let p = 0; p * 188 < src.length; p++) if (p % 40 !== 39) kept.push(src.subarray(p * 188, p * 188 + 188))
    const port = freePort()
    const log = recordingLogger()
    const pkg = await startPackager({ input: `udp://127.0.0.1:${port}`, host: '127.0.0.1', port: 0, name: 'pkg-report', segmentSeconds: 1, window: 10, inputRate: 'max', logger: log })
    try {
      await sleep(100) // bound
      await sendPackets(port, Buffer.concat(kept))
      for (let i = 0; i < 50 && !log.lines.some((l) => l.msg === 'ingest error'); i++) await sleep(100)
      // Logged while the input is still running (UDP never ends), once per window per code.
      expect(pkg.status().inputEnded).toBe(false)
      const logged = log.lines.filter((l) => l.msg === 'ingest error')
      expect(logged.map((l) => l.fields.code)).toContain('ERR_TS_CONTINUITY')
      expect(logged.filter((l) => l.fields.code === 'ERR_TS_CONTINUITY')).toHaveLength(1)
      const status = (await (await fetch(`${pkg.url}/api/status`)).json()) as { ingest: { errors: Record<string, number> }; ingestDropped: { datagrams: number } }
      expect(status.ingest.errors.ERR_TS_CONTINUITY).toBeGreaterThan(1)
      expect(status.ingestDropped.datagrams).toBe(0)
      const metrics = await (await fetch(`${pkg.url}/metrics`)).text()
      const value = (name: string) => Number(new RegExp(`^${name}\\{node="pkg-report"\\} (\\S+)$`, 'm').exec(metrics)?.[1])
      const seg = pkg.status().segmenter!
      expect(value('mqa_segmenter_frames_without_record_total')).toBe(seg.framesWithoutRecord)
      expect(value('mqa_segmenter_sei_errors_total')).toBe(seg.seiErrors)
      expect(value('mqa_segmenter_discontinuities_total')).toBe(seg.discontinuities)
      expect(value('mqa_segments_published_total')).toBeGreaterThanOrEqual(3)
      expect(value('mqa_segments_published_total')).toBe(pkg.status().window.length)
      expect(value('mqa_ingest_dropped_datagrams_total')).toBe(0)
      expect(metrics).toMatch(/^# TYPE mqa_segmenter_sei_errors_total counter$/m)
      // Every sample value has at most 3 decimals.
      const samples = metrics.split('\n').filter((l) => l && !l.startsWith('#'))
      expect(samples.length).toBeGreaterThan(10)
      for (const l of samples) expect(l, l).toMatch(/ -?\d+(\.\d{1,3})?$/)
      expect(value('mqa_segment_psnr_db')).toBeGreaterThan(0)
    } finally {
      await pkg.close()
    }
  }, 60_000)

  it('counts UDP datagrams dropped over the queue bound in /api/status and /metrics, and logs them', async () => {
    const port = freePort()
    const log = recordingLogger()
    // A queue bound smaller than one datagram: every datagram overflows it.
    const pkg = await startPackager({ input: `udp://127.0.0.1:${port}`, host: '127.0.0.1', port: 0, name: 'pkg-drop', segmentSeconds: 1, window: 10, inputRate: 'max', logger: log, maxQueuedBytes: 1000 })
    try {
      await sleep(100)
      const packet = new Uint8Array(188 * 7).fill(0xff)
      for (let k = 0; k < 7; k++) packet[k * 188] = 0x47
      await sendPackets(port, Buffer.concat(Array.from({ length: 12 }, () => packet)))
      for (let i = 0; i < 30 && pkg.status().ingestDropped.datagrams < 12; i++) await sleep(100)
      const status = (await (await fetch(`${pkg.url}/api/status`)).json()) as { ingestDropped: { datagrams: number; bytes: number } }
      expect(status.ingestDropped).toEqual({ datagrams: 12, bytes: 12 * 188 * 7 })
      const metrics = await (await fetch(`${pkg.url}/metrics`)).text()
      expect(metrics).toContain('mqa_ingest_dropped_datagrams_total{node="pkg-drop"} 12\n')
      expect(metrics).toContain(`mqa_ingest_dropped_bytes_total{node="pkg-drop"} ${12 * 188 * 7}\n`)
      for (let i = 0; i < 20 && !log.lines.some((l) => l.fields.code === 'ERR_INGEST_OVERFLOW'); i++) await sleep(100)
      expect(log.lines.filter((l) => l.fields.code === 'ERR_INGEST_OVERFLOW')).toHaveLength(1)
    } finally {
      await pkg.close()
    }
  }, 30_000)
})
