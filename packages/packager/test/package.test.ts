import { decodeCmsdDynamic as cmlDynamic, decodeCmsdStatic as cmlStatic } from '@svta/cml-cmsd'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import HLS from 'hls-parser'
import { parseDictionary } from 'structured-headers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CmsdMqaKey,
  ScoreScope,
  TsDemuxer,
  VideoCodec,
  aggregateScores,
  decodeCmsdStatic,
  formatDecimal,
  frameRate,
  readMqaRecords,
  splitAnnexB,
  timecodeToFrameIndex,
  type MqaRecord,
} from '@mqa/common'
import { encode } from '@mqa/encoder'
import { startPackager, type PackagerHandle } from '../src/index.js'
import { resolveFfmpeg } from '../../../scripts/lib/ffmpeg-bin.js'

const { ffmpeg } = resolveFfmpeg()
const dir = mkdtempSync(join(tmpdir(), 'mqa-package-'))
const rate = frameRate(25)
const D = 50 // 2 s segments at 25 fps

/** Every frame record of a TS file, independently of the packager: TsDemuxer + SEI, by frame index. */
function recordsOf(file: string): Map<number, MqaRecord> {
  const d = new TsDemuxer()
  const out = new Map<number, MqaRecord>()
  const buf = new Uint8Array(readFileSync(file))
  for (const ev of [...d.push(buf), ...d.flush()]) {
    if (ev.kind !== 'pes' || ev.codec !== 'h264') continue
    for (const r of readMqaRecords(VideoCodec.H264, splitAnnexB(ev.data, VideoCodec.H264)).records) {
      if (r.scope === ScoreScope.FRAME && r.timecode) out.set(timecodeToFrameIndex(r.timecode, rate), r)
    }
  }
  return out
}

let pkg: PackagerHandle
let encoded: string
beforeAll(async () => {
  encoded = join(dir, 'enc.ts')
  // A measured encode with audio: the fixture's AAC is copied through.
  await encode({ input: new URL('../../../fixtures/h264-bframes-320x180.ts', import.meta.url).pathname, output: encoded, codec: VideoCodec.H264, preset: 'veryfast', bitrateKbps: 250, gopSeconds: 1, segmentSeconds: 2, timecode: 'pts', workers: 2, realtime: false, bframes: 2 })
  pkg = await startPackager({ input: encoded, host: '127.0.0.1', port: 0, name: 'pkg-test', segmentSeconds: 2, window: 10, inputRate: 'max' })
  await pkg.inputDone
}, 60_000)
afterAll(async () => {
  await pkg?.close()
})

const get = (path: string, method = 'GET') => fetch(`${pkg.url}${path}`, { method })

describe('mqa package', () => {
  it('publishes a playlist hls-parser reads, numbered on the grid', async () => {
    const res = await get('/hls/index.m3u8')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/vnd.apple.mpegurl')
    const playlist = HLS.parse(await res.text()) as HLS.types.MediaPlaylist
    expect(playlist.isMasterPlaylist).toBe(false)
    expect(playlist.segments.length).toBeGreaterThanOrEqual(2)
    const records = recordsOf(encoded)
    const first = Math.min(...records.keys())
    expect(playlist.mediaSequenceBase).toBe(Math.floor(first / D))
    expect(playlist.segments.map((s) => s.uri)).toEqual(playlist.segments.map((_, i) => `${playlist.mediaSequenceBase! + i}.ts`))
    expect(playlist.segments.every((s) => s.programDateTime instanceof Date)).toBe(true)
  })

  it("puts on every segment CMSD whose aggregates are exactly the mean of that segment's frames", async () => {
    const records = recordsOf(encoded)
    const playlist = HLS.parse(await (await get('/hls/index.m3u8')).text()) as HLS.types.MediaPlaylist
    for (const seg of playlist.segments) {
      const n = Number(seg.uri.replace('.ts', ''))
      const res = await get(`/hls/${seg.uri}`)
      expect(res.status).toBe(200)
      const header = res.headers.get('cmsd-static')!
      const cmsd = decodeCmsdStatic(header)
      const mine = [...records.entries()].filter(([f]) => Math.floor(f / D) === n).map(([, r]) => r)
      const agg = aggregateScores(mine)
      expect(cmsd.quality).toEqual({
        segmentNumber: n,
        video: { score: Math.round(agg.mqa!), frames: mine.length, min: agg.mqaMin },
        psnrDb: Number(formatDecimal(agg.psnrDb!)),
        ssimPercent: Number(formatDecimal(agg.ssim! * 100)),
        errors: agg.errors + agg.dropped,
        ...(agg.audio !== undefined ? { audio: { score: Math.round(agg.audio), frames: agg.audioFrames } } : {}),
      })
      expect(cmsd).toMatchObject({ objectType: 'av', streamingFormat: 'h', streamType: 'l', node: 'pkg-test' })
      // The same header through the SVTA library and structured-headers.
      const cml = cmlStatic(header) as Record<string, unknown>
      expect(cml.n).toBe('pkg-test')
      const video = cml[CmsdMqaKey.VIDEO] as { value: number; params: Record<string, number> } | number
      expect(typeof video === 'object' ? video.value : video).toBe(Math.round(agg.mqa!))
      const [, params] = parseDictionary(header).get(CmsdMqaKey.VIDEO) as [number, Map<string, number>]
      expect(params.get('sn')).toBe(n)
      expect(cmlDynamic(res.headers.get('cmsd-dynamic')!)[0]!.value).toBe('pkg-test')
      // HEAD answers with the same headers, no body.
      const head = await get(`/hls/${seg.uri}`, 'HEAD')
      expect(head.headers.get('cmsd-static')).toBe(header)
      expect(head.headers.get('content-length')).toBe(res.headers.get('content-length'))
      expect((await head.arrayBuffer()).byteLength).toBe(0)
      // The segment stands on its own: PAT and PMT first (the first segment of a file input too),
      // every continuity counter counting on (those of PAT and PMT included), and every frame of
      // its number in it.
      const bytes = new Uint8Array(await (await get(`/hls/${seg.uri}`)).arrayBuffer())
      const pids = [0, 1].map((k) => ((bytes[k * 188 + 1]! & 0x1f) << 8) | bytes[k * 188 + 2]!)
      const demuxer = new TsDemuxer()
      const events = [...demuxer.push(bytes), ...demuxer.flush()]
      const program = events.find((e) => e.kind === 'program')
      expect(program?.kind === 'program' ? [0, program.pmtPid] : undefined, `segment ${n}: the first two packets`).toEqual(pids)
      expect(events.filter((e) => e.kind === 'error').map((e) => e.kind === 'error' && e.error.message), `segment ${n}`).toEqual([])
      expect(events.filter((e) => e.kind === 'pes' && e.codec === 'h264').length, `segment ${n}: frames`).toBe(mine.length)
      // And decodes on its own.
      const file = join(dir, `${n}.ts`)
      writeFileSync(file, bytes)
      const r = spawnSync(ffmpeg, ['-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' })
      expect(r.status).toBe(0)
      expect(r.stderr).toBe('')
    }
  })

  it('carries MQA-AUDIO for the segments that have audio', async () => {
    const status = pkg.status()
    expect(status.window.length).toBeGreaterThan(0)
    const res = await get(`/hls/${status.window.at(-1)!.number}.ts`)
    expect(decodeCmsdStatic(res.headers.get('cmsd-static')!).quality?.audio?.score).toBeGreaterThan(0)
  })

  it('exposes CMSD to browsers and answers preflight', async () => {
    const res = await get('/hls/index.m3u8')
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(res.headers.get('access-control-expose-headers')).toBe('CMSD-Static, CMSD-Dynamic')
    expect((await get('/hls/index.m3u8', 'OPTIONS')).status).toBe(204)
  })

  it('serves a segment under its canonical number only: a leading zero is a 404', async () => {
    const n = pkg.status().window.at(-1)!.number
    expect((await get(`/hls/${n}.ts`)).status).toBe(200)
    expect((await get(`/cmaf/${n}.m4s`)).status).toBe(200)
    for (const p of [`/hls/0${n}.ts`, `/hls/00${n}.ts`, `/cmaf/0${n}.m4s`, '/hls/00.ts', '/cmaf/00.m4s']) {
      expect((await get(p)).status, p).toBe(404)
      expect((await get(p, 'HEAD')).status, p).toBe(404)
    }
  })

  it('refuses unknown and traversal paths, odd methods, oversized and slow requests, and keeps serving', async () => {
    for (const p of ['/nope', '/hls/../package.json', '/hls/%2e%2e/x', '/hls/12.ts.bak', '/hls/99999999.ts', '/cmaf/99999999.m4s', '/cmaf/init.mp4x']) {
      const r = await get(p)
      expect(r.status, p).toBe(404)
    }
    expect((await fetch(`${pkg.url}/hls/index.m3u8`, { method: 'POST', body: 'x' })).status).toBe(405)
    expect((await fetch(`${pkg.url}/hls/index.m3u8`, { headers: { 'x-big': 'a'.repeat(20_000) } })).status).toBe(431)
    // Dot segments sent as they are (fetch would normalise them away).
    for (const target of ['/hls/../../etc/passwd', '/hls/./index.m3u8', '/cmaf/..%2f..%2fetc%2fpasswd']) {
      expect(await rawStatus(pkg.url, target), target).toBe(404)
    }
    // A client that sends half a request line and stalls: the server answers others meanwhile.
    const url = new URL(pkg.url)
    const slow = connect(Number(url.port), url.hostname)
    slow.write('GET /hls/index.m3u8 HTTP/1.1\r\nHost: x\r\n')
    const started = performance.now()
    expect((await get('/hls/index.m3u8')).status).toBe(200)
    expect(performance.now() - started).toBeLessThan(1000)
    slow.destroy()
    const status = (await (await get('/api/status')).json()) as { http: { rejected: number } }
    expect(status.http.rejected).toBeGreaterThanOrEqual(3)
    expect(await (await get('/metrics')).text()).toMatch(/mqa_segment_video_score\{node="pkg-test"\} \d+/)
  })
})

describe('bad input', () => {
  it('keeps publishing through a corrupted TS and garbage SEI, and counts what it rejected', async () => {
    const src = new Uint8Array(readFileSync(encoded))
    const bad = src.slice()
    // Flip bytes in a run of packets, and overwrite the MQA payload text of some frames with junk.
    for (let p = 300; p < 320; p++) for (let i = 10; i < 188; i += 5) bad[p * 188 + i] ^= 0x5a
    const text = Buffer.from(bad)
    let hits = 0
    for (let at = text.indexOf('v=1,fn='); at >= 0 && hits < 10; at = text.indexOf('v=1,fn=', at + 1)) {
      text.write('v=x,fn=', at, 'latin1')
      hits++
    }
    const file = join(dir, 'bad.ts')
    writeFileSync(file, text)
    const p = await startPackager({ input: file, host: '127.0.0.1', port: 0, name: 'pkg-bad', segmentSeconds: 2, window: 10, inputRate: 'max' })
    await p.inputDone
    const status = p.status()
    expect(status.window.length).toBeGreaterThanOrEqual(2)
    expect(status.segmenter!.seiErrors + status.segmenter!.framesWithoutRecord).toBeGreaterThan(0)
    expect(Object.values(status.ingest.errors).reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
    const r = await fetch(`${p.url}/hls/index.m3u8`)
    expect(r.status).toBe(200)
    await p.close()
  })
})

describe('A/B alignment', () => {
  it('two chains of one timecoded source publish segment n starting on the same frame', async () => {
    // The contribution: a timecoded source (what `mqa source` sends), as a file.
    const source = join(dir, 'source.ts')
    await encode({ input: 'lavfi:testsrc2=size=160x90:rate=25', output: source, measure: false, codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 1500, gopSeconds: 1, segmentSeconds: 1, timecode: 'wallclock', workers: 1, realtime: false, bframes: 0, maxFrames: 300 })
    // Chain B joins 37 frames late (its input starts mid-stream, at a source keyframe after that).
    const late = join(dir, 'late.ts')
    execFileSync(ffmpeg, ['-v', 'error', '-ss', '1.5', '-i', source, '-c', 'copy', '-f', 'mpegts', late])
    const chains = await Promise.all(
      [source, late].map(async (input, i) => {
        const out = join(dir, `chain-${i}.ts`)
        await encode({ input, output: out, codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 300, gopSeconds: 1, segmentSeconds: 2, timecode: 'input', workers: 1, realtime: false })
        const p = await startPackager({ input: out, host: '127.0.0.1', port: 0, name: `pkg-${i}`, segmentSeconds: 2, window: 20, inputRate: 'max' })
        await p.inputDone
        return p
      }),
    )
    const [a, b] = chains.map((p) => new Map(p.status().window.map((s) => [s.number, s])))
    const common = [...a!.keys()].filter((n) => b!.has(n))
    expect(common.length).toBeGreaterThanOrEqual(2)
    for (const n of common.slice(1)) {
      const segA = await (await fetch(`${chains[0]!.url}/hls/${n}.ts`)).arrayBuffer()
      const segB = await (await fetch(`${chains[1]!.url}/hls/${n}.ts`)).arrayBuffer()
      const firstTc = (buf: ArrayBuffer) => {
        const d = new TsDemuxer()
        const ev = [...d.push(new Uint8Array(buf)), ...d.flush()].find((e) => e.kind === 'pes' && e.codec === 'h264')
        if (!ev || ev.kind !== 'pes') return undefined
        return readMqaRecords(VideoCodec.H264, splitAnnexB(ev.data, VideoCodec.H264)).records.find((r) => r.scope === ScoreScope.FRAME)?.timecode
      }
      const tcA = firstTc(segA)
      expect(tcA).toBeDefined()
      expect(timecodeToFrameIndex(tcA!, rate) % D).toBe(0)
      expect(firstTc(segB)).toBe(tcA)
    }
    await Promise.all(chains.map((p) => p.close()))
  }, 60_000)
})

/** The status code of a request sent byte for byte as given. */
function rawStatus(base: string, target: string): Promise<number> {
  const url = new URL(base)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`))
    let text = ''
    socket.on('data', (d) => (text += d.toString('latin1')))
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)))
    socket.on('error', reject)
  })
}
