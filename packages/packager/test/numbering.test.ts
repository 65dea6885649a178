import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import HLS from 'hls-parser'
import { afterAll, describe, expect, it } from 'vitest'
import { ScoreScope, TsDemuxer, VideoCodec, readMqaRecords, recordingLogger, splitAnnexB } from '@mqa/common'
import { encode } from '@mqa/encoder'
import { type PackagerHandle, inspectPlaylistUrl, startPackager } from '../src/index.js'
import { timecodeIndices } from '../../encoder/test/helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'mqa-numbering-'))
const S = 43_200 // segment numbers per day: 2 s segments at 25 fps
const started: PackagerHandle[] = []
afterAll(async () => {
  await Promise.all(started.map((p) => p.close()))
})

/** 2 s segments at 25 fps, `frames` frames whose PTS (and so their `pts` timecode) start at `startS` seconds. */
async function clip(name: string, startS: number, frames: number): Promise<string> {
  const file = join(dir, name)
  await encode({ input: `lavfi:testsrc2=size=160x90:rate=25,setpts=PTS+${startS}/TB`, output: file, codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 200, gopSeconds: 1, segmentSeconds: 2, timecode: 'pts', workers: 1, realtime: false, bframes: 0, maxFrames: frames })
  return file
}

/** Each packager's log, by packager name. */
const logs = new Map<string, ReturnType<typeof recordingLogger>>()

/** The restart warnings a packager logged. */
const restartWarnings = (name: string) => logs.get(name)!.lines.filter((l) => l.level === 'warn' && l.msg.startsWith('input timecode went back'))

async function pkg(input: string, name: string): Promise<PackagerHandle> {
  const logger = recordingLogger()
  logs.set(name, logger)
  const p = await startPackager({ input, host: '127.0.0.1', port: 0, name, segmentSeconds: 2, window: 20, inputRate: 'max', logger })
  started.push(p)
  await p.inputDone
  return p
}

async function mediaPlaylist(p: PackagerHandle, path: string): Promise<HLS.types.MediaPlaylist> {
  const res = await fetch(`${p.url}${path}`)
  expect(res.status, path).toBe(200)
  return HLS.parse(await res.text()) as HLS.types.MediaPlaylist
}

/** The `tc` of the first video frame of a TS segment served at `path`. */
async function firstTimecode(p: PackagerHandle, path: string): Promise<string | undefined> {
  const res = await fetch(`${p.url}${path}`)
  expect(res.status, path).toBe(200)
  const d = new TsDemuxer()
  const ev = [...d.push(new Uint8Array(await res.arrayBuffer())), ...d.flush()].find((e) => e.kind === 'pes' && e.codec === 'h264')
  if (!ev || ev.kind !== 'pes') return undefined
  return readMqaRecords(VideoCodec.H264, splitAnnexB(ev.data, VideoCodec.H264)).records.find((r) => r.scope === ScoreScope.FRAME)?.timecode
}

function periods(mpd: string): { start: string; startNumber: number }[] {
  return [...mpd.matchAll(/<Period id="\d+" start="([^"]+)"[^>]*>[\s\S]*?startNumber="(\d+)"/g)].map((m) => ({ start: m[1]!, startNumber: Number(m[2]) }))
}

describe('segment numbering across midnight and restarts', () => {
  it('goes on counting across midnight (n + S), on both chains of an A/B pair, in HLS and DASH', async () => {
    // A: 23:59:54 to 00:00:06; B joins 2 s later, as a second chain of the same source would.
    const [a, b] = await Promise.all([clip('a.ts', 86_394, 300), clip('b.ts', 86_396, 250)])
    const [pa, pb] = await Promise.all([pkg(a, 'pkg-a'), pkg(b, 'pkg-b')])
    for (const path of ['/hls/index.m3u8', '/hls/cmaf.m3u8', '/dash/manifest.mpd']) expect((await fetch(`${pa.url}${path}`)).status, path).toBe(200)
    const hls = await mediaPlaylist(pa, '/hls/index.m3u8')
    expect(hls.mediaSequenceBase).toBe(S - 3)
    expect(hls.segments.map((s) => s.uri)).toEqual([43_197, 43_198, 43_199, 43_200, 43_201, 43_202].map((n) => `${n}.ts`))
    expect(hls.segments.some((s) => s.discontinuity)).toBe(false)
    // Dates go on across midnight: each 2 s after the one before.
    const dates = hls.segments.map((s) => s.programDateTime!.getTime())
    expect(dates.slice(1).map((t, i) => t - dates[i]!)).toEqual([2000, 2000, 2000, 2000, 2000])
    expect(hls.segments[3]!.programDateTime!.toISOString()).toMatch(/T00:00:00\.000Z$/)
    const cmaf = await mediaPlaylist(pa, '/hls/cmaf.m3u8')
    expect(cmaf.segments.map((s) => s.uri)).toEqual(hls.segments.map((s) => `../cmaf/${s.uri.replace('.ts', '.m4s')}`))
    // One Period: timestamps run on across midnight.
    expect(periods(await (await fetch(`${pa.url}/dash/manifest.mpd`)).text())).toEqual([{ start: 'PT0S', startNumber: 43_197 }])
    expect((await fetch(`${pa.url}/cmaf/43200.m4s`)).status).toBe(200)
    // mqa inspect <MPD URL>: one clear error, not hls-parser's.
    await expect(inspectPlaylistUrl(`${pa.url}/dash/manifest.mpd`)).rejects.toThrow(/is a DASH MPD: mqa inspect reads HLS media playlists only/)
    expect((await inspectPlaylistUrl(`${pa.url}/hls/cmaf.m3u8`)).segments.map((s) => s.cmsdStatic?.quality?.segmentNumber)).toEqual([43_197, 43_198, 43_199, 43_200, 43_201, 43_202])
    // The first segment of the new day starts at midnight, and B names the same frames the same way.
    const hlsB = await mediaPlaylist(pb, '/hls/index.m3u8')
    expect(hlsB.segments.map((s) => s.uri)).toEqual([43_198, 43_199, 43_200, 43_201, 43_202].map((n) => `${n}.ts`))
    for (const n of [43_198, 43_199, 43_200, 43_202]) {
      const tc = await firstTimecode(pa, `/hls/${n}.ts`)
      expect(tc).toBe(await firstTimecode(pb, `/hls/${n}.ts`))
      if (n === 43_200) expect(tc).toBe('00:00:00:00')
    }
    expect(pa.status().segmenter).toMatchObject({ midnightWraps: 1, restarts: 0, epoch: 1 })
    // Midnight is not a restart: nothing to warn about.
    expect(restartWarnings('pkg-a')).toEqual([])
  }, 60_000)

  it('a gap in the input with B-frames decoded across it is reordering, not a restart: numbers go on, every frame is served', async () => {
    // 21 source frames missing (10..30): the encoder codes the frame after the gap before the
    // B-frames that come before it, so in decode order the timecode steps back 20 frames or more.
    const file = join(dir, 'gap.ts')
    const frames = 150
    await encode({ input: 'lavfi:testsrc2=size=160x90:rate=25,select=not(between(n\\,10\\,30))', output: file, codec: VideoCodec.H264, preset: 'veryfast', bitrateKbps: 200, gopSeconds: 2, segmentSeconds: 2, timecode: 'pts', workers: 1, realtime: false, bframes: 3, maxFrames: frames })
    const order = timecodeIndices(readFileSync(file), { num: 25, den: 1 })
    expect(order).toHaveLength(frames)
    const stepBack = Math.max(...order.map((f, i) => Math.max(...order.slice(0, i + 1)) - f))
    expect(stepBack, 'the clip does not show what this test is about: no B-frame decoded across the gap').toBeGreaterThan(16)
    const p = await pkg(file, 'pkg-gap')
    expect(p.status().window.map((s) => s.number)).toEqual([0, 1, 2, 3])
    expect(p.status().segmenter).toMatchObject({ restarts: 0, epoch: 0, framesDropped: 0 })
    expect(restartWarnings('pkg-gap')).toEqual([])
    // Every frame is in the segment of its own number.
    const served: number[] = []
    for (const n of [0, 1, 2, 3]) {
      const res = await fetch(`${p.url}/hls/${n}.ts`)
      expect(res.status).toBe(200)
      const indices = timecodeIndices(new Uint8Array(await res.arrayBuffer()), { num: 25, den: 1 })
      expect(indices.every((f) => Math.floor(f / 50) === n), `segment ${n}: ${indices.join(' ')}`).toBe(true)
      served.push(...indices)
    }
    expect(served).toEqual(order)
  }, 60_000)

  it('an input that restarts at lower numbers starts a new epoch: a discontinuity, numbers and media sequence go on increasing, a new DASH Period', async () => {
    // `cat A.ts B.ts`: A runs 00:00:00 to 00:00:12, then B starts again at 00:00:00.
    const [a, b] = await Promise.all([clip('r-a.ts', 0, 300), clip('r-b.ts', 0, 150)])
    const both = join(dir, 'a-then-b.ts')
    writeFileSync(both, Buffer.concat([readFileSync(a), readFileSync(b)]))
    const p = await pkg(both, 'pkg-restart')
    const hls = await mediaPlaylist(p, '/hls/index.m3u8')
    // HLS numbers segments by position, so a playlist cannot hold both runs without S EXT-X-GAP
    // lines: it starts at the new run (the media sequence jumps forward, never back).
    expect(hls.mediaSequenceBase).toBe(S)
    expect(hls.segments.map((s) => s.uri)).toEqual([`${S}.ts`, `${S + 1}.ts`, `${S + 2}.ts`])
    expect(hls.segments.map((s) => s.discontinuity === true)).toEqual([true, false, false])
    expect(p.status().window.map((s) => s.number)).toEqual([0, 1, 2, 3, 4, 5, S, S + 1, S + 2])
    // Both runs stay served; the new one is on its own day's grid (n mod S).
    expect(await firstTimecode(p, '/hls/0.ts')).toBe('00:00:00:00')
    expect(await firstTimecode(p, '/hls/5.ts')).toBe('00:00:10:00')
    expect(await firstTimecode(p, `/hls/${S}.ts`)).toBe('00:00:00:00')
    expect(await firstTimecode(p, `/hls/${S + 2}.ts`)).toBe('00:00:04:00')
    const cmaf = await mediaPlaylist(p, '/hls/cmaf.m3u8')
    expect(cmaf.segments.filter((s) => s.discontinuity).map((s) => s.uri)).toEqual([`../cmaf/${S}.m4s`])
    const mpdRes = await fetch(`${p.url}/dash/manifest.mpd`)
    expect(mpdRes.status).toBe(200)
    const mpd = await mpdRes.text()
    const ps = periods(mpd)
    expect(ps.map((x) => x.startNumber)).toEqual([0, S])
    // Period 0 holds its six segments and ends where Period 1 starts.
    expect(mpd).toMatch(/<Period id="0" start="PT0S" duration="PT(\d+(\.\d+)?)S">/)
    const duration = Number(/<Period id="0" start="PT0S" duration="PT([\d.]+)S">/.exec(mpd)![1])
    expect(duration).toBeGreaterThanOrEqual(12)
    expect(ps[1]!.start).toBe(`PT${duration}S`)
    expect(p.status().segmenter).toMatchObject({ restarts: 1, midnightWraps: 0, epoch: 1 })
    // Said once, with where the timecode went back from and to.
    expect(restartWarnings('pkg-restart').map((w) => w.fields)).toEqual([{ from: '00:00:11:24', to: '00:00:00:00', source: 'tc', epoch: 1, total: 1, suppressed: 0 }])
  }, 60_000)
})
