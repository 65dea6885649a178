import HLS from 'hls-parser'
import { describe, expect, it } from 'vitest'
import { VideoCodec, decodeCmsdStatic } from '@mqa/common'
import { encode } from '@mqa/encoder'
import { startPackager } from '../src/index.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('low latency', () => {
  it('streams the segment being built, with the previous segment’s scores (sn = n − 1), and the bytes match the published segment', async () => {
    const port = 46_000 + Math.floor(Math.random() * 2000)
    const pkg = await startPackager({ input: `udp://127.0.0.1:${port}`, host: '127.0.0.1', port: 0, name: 'pkg-ll', segmentSeconds: 1, window: 10, inputRate: 'max', lowLatency: true })
    const source = encode({ input: 'lavfi:testsrc2=size=160x90:rate=25', output: `udp://127.0.0.1:${port}`, codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 400, gopSeconds: 1, segmentSeconds: 1, timecode: 'wallclock', workers: 1, realtime: true, bframes: 0, maxFrames: 150 })
    try {
      // Wait for a first published segment, then ask for the next one while it is being built.
      let latest: number | undefined
      for (let i = 0; i < 100 && latest === undefined; i++) {
        await sleep(100)
        latest = pkg.status().window.at(-1)?.number
      }
      expect(latest).toBeDefined()
      // The TS playlist hints the segment being built (RFC 8216bis EXT-X-PRELOAD-HINT TYPE=PART,
      // the whole segment as its one part): that is where a player finds it.
      const text = await (await fetch(`${pkg.url}/hls/index.m3u8`)).text()
      const playlist = HLS.parse(text) as HLS.types.MediaPlaylist // strict: CAN-BLOCK-RELOAD=YES is mandatory
      expect(playlist.endlist).toBe(false)
      const hint = playlist.segments.at(-1)!.parts.find((p) => p.hint)
      expect(text).toMatch(/^#EXT-X-PRELOAD-HINT:TYPE=PART,URI="\d+\.ts"$/m)
      expect(playlist.partTargetDuration).toBe(1)
      const listed = playlist.segments.filter((s) => s.uri).map((s) => Number(s.uri.replace('.ts', '')))
      const n = Number(hint!.uri.replace('.ts', ''))
      expect(n).toBe(listed.at(-1)! + 1)
      latest = listed.at(-1)!
      const started = performance.now()
      const res = await fetch(`${pkg.url}/hls/${hint!.uri}`)
      const firstByteMs = performance.now() - started
      expect(res.status).toBe(200)
      const cmsd = decodeCmsdStatic(res.headers.get('cmsd-static')!)
      expect(cmsd.quality?.segmentNumber).toBe(latest)
      expect(res.headers.get('content-length')).toBeNull() // chunked
      const streamed = new Uint8Array(await res.arrayBuffer())
      const whole = await fetch(`${pkg.url}/hls/${n}.ts`)
      expect(decodeCmsdStatic(whole.headers.get('cmsd-static')!).quality?.segmentNumber).toBe(n)
      const published = new Uint8Array(await whole.arrayBuffer())
      expect(streamed.length).toBe(published.length)
      // Both start with PAT and PMT (their continuity counters may differ: each takes the latest
      // copy); every packet after them is the same.
      const pid = (b: Uint8Array, i: number) => ((b[i * 188 + 1]! & 0x1f) << 8) | b[i * 188 + 2]!
      expect([pid(streamed, 0), pid(published, 0)]).toEqual([0, 0])
      expect(Buffer.compare(Buffer.from(streamed.subarray(376)), Buffer.from(published.subarray(376)))).toBe(0)
      // The response started before the segment was complete (1 s of media).
      expect(firstByteMs).toBeLessThan(900)

      // Blocking reload: _HLS_msn=N+1 answers once segment N+1 is published, and lists it; one
      // more than two past the newest is a 400; a malformed one too.
      const newest = pkg.status().window.at(-1)!.number
      const t0 = performance.now()
      const blocked = await fetch(`${pkg.url}/hls/index.m3u8?_HLS_msn=${newest + 1}&_HLS_part=0`)
      expect(blocked.status).toBe(200)
      const reloaded = HLS.parse(await blocked.text()) as HLS.types.MediaPlaylist
      expect(reloaded.segments.filter((s) => s.uri).map((s) => Number(s.uri.replace('.ts', '')))).toContain(newest + 1)
      expect(reloaded.lowLatencyCompatibility?.canBlockReload).toBe(true)
      expect(performance.now() - t0).toBeGreaterThan(50) // it waited for the segment
      expect((await fetch(`${pkg.url}/hls/index.m3u8?_HLS_msn=${pkg.status().window.at(-1)!.number + 3}`)).status).toBe(400)
      expect((await fetch(`${pkg.url}/hls/index.m3u8?_HLS_msn=abc`)).status).toBe(400)
    } finally {
      await source
      await pkg.close()
    }
  }, 30_000)
})
