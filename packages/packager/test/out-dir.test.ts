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
    expect((await fetch(`${again.url}/dash/manifest.mpd`)).status).toBeLessThan(504)
    await again.close()
  }, 60_000)
})
