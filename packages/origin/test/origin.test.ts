import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TsDemuxer, VideoCodec, decodeCmsdDynamic, decodeCmsdStatic } from '@mqa/common'
import { encode } from '@mqa/encoder'
import { type PackagerHandle, startPackager } from '@mqa/packager'
import { resolveFfmpeg } from '../../../scripts/lib/ffmpeg-bin.js'
import { type OriginHandle, startOrigin } from '../src/index.js'

const { ffmpeg } = resolveFfmpeg()
const dir = mkdtempSync(join(tmpdir(), 'mqa-origin-'))
const SECONDS = 30
const LOSS_FROM_S = 8
const LOSS_TO_S = 14

let packagers: PackagerHandle[] = []
let origin: OriginHandle
let lossFirstSegment = 0
let lossLastSegment = 0

/** Drop `loss` of the TS packets whose video PTS falls in [fromS, toS) of the stream (seeded). */
function rainFade(src: Uint8Array, fromS: number, toS: number, loss: number): Uint8Array {
  const d = new TsDemuxer()
  const events = [...d.push(src), ...d.flush()]
  const video = events.filter((e) => e.kind === 'pes' && (e.codec === 'h264' || e.codec === 'h265')) as { offset: number; ptsTicks?: number }[]
  const t0 = video[0]!.ptsTicks!
  const inRange = video.filter((v) => v.ptsTicks !== undefined && v.ptsTicks - t0 >= fromS * 90000 && v.ptsTicks - t0 < toS * 90000)
  const fromByte = inRange[0]!.offset
  const toByte = inRange.at(-1)!.offset
  let seed = 7
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  const kept: Uint8Array[] = []
  for (let p = 0; p < src.length; p += 188) {
    if (p >= fromByte && p < toByte && rand() < loss) continue
    kept.push(src.subarray(p, p + 188))
  }
  return Uint8Array.from(Buffer.concat(kept))
}

beforeAll(async () => {
  const source = join(dir, 'source.ts')
  await encode({ input: 'lavfi:testsrc2=size=192x108:rate=25', output: source, measure: false, codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 2000, gopSeconds: 1, segmentSeconds: 1, timecode: 'wallclock', workers: 1, realtime: false, bframes: 0, maxFrames: 25 * SECONDS })
  const clean = new Uint8Array(readFileSync(source))
  writeFileSync(join(dir, 'a-in.ts'), rainFade(clean, LOSS_FROM_S, LOSS_TO_S, 0.02))
  const outs = await Promise.all(
    [join(dir, 'a-in.ts'), source].map(async (input, i) => {
      const out = join(dir, `chain-${i}.ts`)
      await encode({ input, output: out, codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 400, gopSeconds: 2, segmentSeconds: 2, timecode: 'input', workers: 1, realtime: false })
      return out
    }),
  )
  packagers = await Promise.all(outs.map((input, i) => startPackager({ input, host: '127.0.0.1', port: 0, name: `pkg-${'ab'[i]}`, segmentSeconds: 2, window: 30, inputRate: 'max' })))
  await Promise.all(packagers.map((p) => p.inputDone))
  const first = packagers[1]!.status().window[0]!.number
  lossFirstSegment = first + Math.floor(LOSS_FROM_S / 2)
  lossLastSegment = first + Math.ceil(LOSS_TO_S / 2) - 1
  origin = await startOrigin({ upstreams: { a: packagers[0]!.url, b: packagers[1]!.url }, host: '127.0.0.1', port: 0, name: 'origin-1', pollMs: 60_000, timeoutMs: 10_000 }) // generous: this test is about quality, not timeouts
}, 120_000)

afterAll(async () => {
  await origin?.close()
  await Promise.all(packagers.map((p) => p.close()))
})

describe('mqa origin', () => {
  it('serves A, switches to B during the rain fade, returns to A after five good segments', async () => {
    const numbers = packagers[1]!.status().window.map((s) => s.number)
    const served: { n: number; chain: string; a?: number; b?: number }[] = []
    for (const n of numbers) {
      const res = await fetch(`${origin.url}/hls/${n}.ts`)
      expect(res.status, `segment ${n}`).toBe(200)
      const hops = decodeCmsdDynamic(res.headers.get('cmsd-dynamic')!)
      expect(hops.at(-1)).toMatchObject({ node: 'origin-1' })
      const chain = hops.at(-1)!.mqaSource!
      expect(hops[0]!.node).toBe(`pkg-${chain}`)
      expect(decodeCmsdStatic(res.headers.get('cmsd-static')!).quality?.segmentNumber).toBe(n)
      const d = origin.status().decisions.find((x) => x.segment === n)!
      served.push({ n, chain, a: d.scores.a, b: d.scores.b })
      // Every segment decodes.
      const file = join(dir, `o-${n}.ts`)
      writeFileSync(file, new Uint8Array(await res.arrayBuffer()))
      expect(spawnSync(ffmpeg, ['-v', 'error', '-i', file, '-f', 'null', '-']).status).toBe(0)
    }
    const at = (n: number) => served.find((s) => s.n === n)!
    // Before the loss: A.
    const log = JSON.stringify({ lossFirstSegment, lossLastSegment, served, decisions: origin.status().decisions.map((d) => [d.segment, d.chain, d.reason, d.available]) })
    for (const s of served.filter((x) => x.n < lossFirstSegment)) expect(s.chain, `segment ${s.n}: ${log}`).toBe('a')
    // During the loss A is clearly worse than B, and B serves no later than the second segment.
    const during = served.filter((x) => x.n >= lossFirstSegment + 1 && x.n <= lossLastSegment)
    expect(during.length).toBeGreaterThan(1)
    for (const s of during) expect(s.a! + 5, `segment ${s.n}`).toBeLessThanOrEqual(s.b!)
    expect(at(lossFirstSegment + 1).chain).toBe('b')
    // Back to A only after five good segments once the loss ends, then A stays.
    const back = served.findIndex((s) => s.n > lossLastSegment && s.chain === 'a')
    expect(back).toBeGreaterThan(0)
    const firstGood = served.findIndex((s) => s.n > lossLastSegment && s.a !== undefined && s.b !== undefined && s.a >= s.b - 5)
    expect(back - firstGood).toBeGreaterThanOrEqual(5) // five good segments served from B first
    for (const s of served.slice(back)) expect(s.chain).toBe('a')
    // Each number served exactly once, in order.
    expect(served.map((s) => s.n)).toEqual(numbers)
    expect(origin.status().switches).toBe(2)
  }, 120_000)

  it('serves from B with no failed request when packager A is gone, and says so in /api/status', async () => {
    const numbers = packagers[1]!.status().window.map((s) => s.number)
    await packagers[0]!.close()
    const fresh = await startOrigin({ upstreams: { a: packagers[0]!.url, b: packagers[1]!.url }, host: '127.0.0.1', port: 0, name: 'origin-2', pollMs: 60_000, timeoutMs: 500 })
    try {
      for (const n of numbers.slice(0, 4)) {
        const res = await fetch(`${fresh.url}/hls/${n}.ts`)
        expect(res.status).toBe(200)
        expect(decodeCmsdDynamic(res.headers.get('cmsd-dynamic')!).at(-1)!.mqaSource).toBe('b')
      }
      const status = (await (await fetch(`${fresh.url}/api/status`)).json()) as { serving: string; decisions: { reason: string }[] }
      expect(status.serving).toBe('b')
      expect(status.decisions[0]!.reason).toBe('failover')
      expect(await (await fetch(`${fresh.url}/metrics`)).text()).toMatch(/mqa_origin_upstream_errors_total\{node="origin-2",chain="a"\} [1-9]/)
    } finally {
      await fresh.close()
    }
  }, 60_000)
})
