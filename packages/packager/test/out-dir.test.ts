import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { VideoCodec, decodeCmsdStatic } from '@mqa/common'
import { encode } from '@mqa/encoder'
import { startPackager } from '../src/index.js'

describe('--out-dir', () => {
  it('keeps the window on disk, and a restarted packager serves what it had published', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqa-outdir-'))
    const input = join(dir, 'in.ts')
    await encode({ input: 'lavfi:testsrc2=size=160x90:rate=25', output: input, codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 300, gopSeconds: 1, segmentSeconds: 1, timecode: 'wallclock', workers: 1, realtime: false, maxFrames: 200 })
    const outDir = join(dir, 'segments')
    const first = await startPackager({ input, host: '127.0.0.1', port: 0, name: 'pkg-disk', segmentSeconds: 1, window: 4, inputRate: 'max', outDir })
    await first.inputDone
    const before = first.status().window.map((s) => s.number)
    expect(before).toHaveLength(4)
    const bodies = await Promise.all(before.map(async (n) => Buffer.from(await (await fetch(`${first.url}/hls/${n}.ts`)).arrayBuffer())))
    const headers = await Promise.all(before.map(async (n) => (await fetch(`${first.url}/hls/${n}.ts`, { method: 'HEAD' })).headers.get('cmsd-static')!))
    const firstMpd = await (await fetch(`${first.url}/dash/manifest.mpd`)).text()
    const firstMpdStart = Number(/startNumber="(\d+)"/.exec(firstMpd)![1])
    const firstAst = Date.parse(/availabilityStartTime="([^"]+)"/.exec(firstMpd)![1]!)
    await first.close()
    // Only the window is on disk: older segments were deleted as they left it.
    expect(readdirSync(outDir).filter((f) => f.endsWith('.ts')).sort()).toEqual(before.map((n) => `${n}.ts`).sort())
    // A packager with no input left to read restarts from disk.
    const again = await startPackager({ input: join(dir, 'empty.ts'), host: '127.0.0.1', port: 0, name: 'pkg-disk', segmentSeconds: 1, window: 4, inputRate: 'max', outDir })
    expect(again.status().window.map((s) => s.number)).toEqual(before)
    for (const [i, n] of before.entries()) {
      const res = await fetch(`${again.url}/hls/${n}.ts`)
      expect(res.status).toBe(200)
      expect(Buffer.from(await res.arrayBuffer()).equals(bodies[i]!)).toBe(true)
      expect(decodeCmsdStatic(res.headers.get('cmsd-static')!).quality).toEqual(decodeCmsdStatic(headers[i]!).quality)
    }
    expect((await fetch(`${again.url}/hls/index.m3u8`)).status).toBe(200)
    expect((await fetch(`${again.url}/cmaf/init.mp4`)).status).toBe(200)
    // The MPD comes back too (its anchor is on disk), and its template reaches every restored segment.
    const mpdRes = await fetch(`${again.url}/dash/manifest.mpd`)
    expect(mpdRes.status).toBe(200)
    const mpd = await mpdRes.text()
    expect(mpd).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"[^>]* type="dynamic"/)
    expect(mpd).toContain('</MPD>')
    const starts = [...mpd.matchAll(/startNumber="(\d+)"/g)].map((m) => Number(m[1]))
    expect(starts).toEqual([firstMpdStart])
    expect(Date.parse(/availabilityStartTime="([^"]+)"/.exec(mpd)![1]!)).toBe(firstAst)
    for (const n of before) {
      expect(n).toBeGreaterThanOrEqual(starts[0]!)
      expect((await fetch(`${again.url}/cmaf/${n}.m4s`)).status).toBe(200)
    }
    await again.close()

    // Restarted again on an input whose numbers are behind the window (timecode from PTS 0):
    // numbering goes on after what was published, with a discontinuity and a new DASH Period.
    const behind = join(dir, 'behind.ts')
    await encode({ input: 'lavfi:testsrc2=size=160x90:rate=25', output: behind, codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 300, gopSeconds: 1, segmentSeconds: 1, timecode: 'pts', workers: 1, realtime: false, maxFrames: 75 })
    const third = await startPackager({ input: behind, host: '127.0.0.1', port: 0, name: 'pkg-disk', segmentSeconds: 1, window: 4, inputRate: 'max', outDir })
    await third.inputDone
    const numbers = third.status().window.map((s) => s.number)
    expect(numbers.slice(0, 1)).toEqual(before.slice(-1))
    const fresh = third.status().window.filter((s) => s.number > before.at(-1)!)
    expect(fresh).toHaveLength(3)
    expect(fresh.map((s) => s.number % 86_400)).toEqual([0, 1, 2]) // on their own day's grid (S = 86400 at 1 s, 25 fps)
    expect(fresh.map((s) => s.discontinuity)).toEqual([true, false, false])
    const hls = await (await fetch(`${third.url}/hls/index.m3u8`)).text()
    expect(hls).toContain(`#EXT-X-MEDIA-SEQUENCE:${fresh[0]!.number}\n`)
    const mpd3 = await (await fetch(`${third.url}/dash/manifest.mpd`)).text()
    expect([...mpd3.matchAll(/startNumber="(\d+)"/g)].map((m) => Number(m[1]))).toEqual([firstMpdStart, fresh[0]!.number])
    await third.close()
  }, 60_000)
})
