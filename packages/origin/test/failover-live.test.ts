import { createSocket } from 'node:dgram'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { VideoCodec, decodeCmsdDynamic } from '@mqa/common'
import { encode } from '@mqa/encoder'
import { type PackagerHandle, type PackageOptions, startPackager } from '@mqa/packager'
import { type OriginHandle, startOrigin } from '../src/index.js'

/**
 * Losing a whole chain, live: a real-time source feeds encoders A and B over UDP on 127.0.0.1,
 * each feeding its packager, and the origin serves them. Packager A is stopped mid-run and started
 * again on the same ports. A client that plays like a player (reload the origin's playlist, fetch
 * every new segment) must never see a failed request; the origin must serve B while A is gone and
 * come back to A once A has been good for --switch-back-after segments.
 */

const SEGMENT_S = 1
const SWITCH_BACK_AFTER = 3
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function freeUdpPorts(n: number): Promise<number[]> {
  const sockets = await Promise.all(
    Array.from({ length: n }, () => {
      const s = createSocket('udp4')
      return new Promise<typeof s>((resolve) => s.bind(0, '127.0.0.1', () => resolve(s)))
    }),
  )
  const ports = sockets.map((s) => s.address().port)
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
  return ports
}

const controller = new AbortController()
let running: Promise<unknown>[] = []
let packagers: PackagerHandle[] = []
let origin: OriginHandle
let optionsA: PackageOptions

beforeAll(async () => {
  const [srcA, srcB, outA, outB] = await freeUdpPorts(4)
  const udp = (port: number) => `udp://127.0.0.1:${port}`
  const packagerOptions = (name: string, port: number): PackageOptions => ({ input: udp(port), host: '127.0.0.1', port: 0, name, segmentSeconds: SEGMENT_S, window: 20, inputRate: 'max' })
  packagers = await Promise.all([startPackager(packagerOptions('pkg-a', outA!)), startPackager(packagerOptions('pkg-b', outB!))])
  optionsA = { ...packagerOptions('pkg-a', outA!), port: Number(new URL(packagers[0]!.url).port) }
  origin = await startOrigin({ upstreams: { a: packagers[0]!.url, b: packagers[1]!.url }, host: '127.0.0.1', port: 0, name: 'origin-1', pollMs: 250, timeoutMs: 1000, switchBackAfter: SWITCH_BACK_AFTER })
  const signal = controller.signal
  running = [
    ...[
      [srcA, outA],
      [srcB, outB],
    ].map(([from, to]) => encode({ input: udp(from!), output: udp(to!), codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 300, gopSeconds: SEGMENT_S, segmentSeconds: SEGMENT_S, timecode: 'input', workers: 1, realtime: false, signal })),
    encode({ input: 'lavfi:testsrc2=size=192x108:rate=25', output: [udp(srcA!), udp(srcB!)], measure: false, codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 1500, gopSeconds: SEGMENT_S, segmentSeconds: SEGMENT_S, timecode: 'wallclock', workers: 1, realtime: true, bframes: 0, signal }),
  ]
}, 60_000)

afterAll(async () => {
  controller.abort()
  await Promise.allSettled(running)
  await origin?.close()
  await Promise.all(packagers.map((p) => p.close()))
})

describe('mqa origin, live, with packager A stopped and started again', () => {
  it('serves B with no failed request while A is gone, and A again once it is back and good', async () => {
    const fetched = new Map<number, { status: number; chain?: string }>()
    const playlistStatuses: number[] = []
    /** One round of what a player does: reload the playlist, fetch each segment it has not had. */
    async function play(): Promise<void> {
      const res = await fetch(`${origin.url}/hls/index.m3u8`)
      playlistStatuses.push(res.status)
      if (res.status !== 200) return
      for (const m of (await res.text()).matchAll(/^(\d+)\.ts$/gm)) {
        const n = Number(m[1])
        if (fetched.has(n)) continue
        const seg = await fetch(`${origin.url}/hls/${n}.ts`)
        await seg.arrayBuffer()
        fetched.set(n, { status: seg.status, chain: seg.status === 200 ? decodeCmsdDynamic(seg.headers.get('cmsd-dynamic')!).at(-1)!.mqaSource : undefined })
      }
    }
    const until = async (what: string, done: () => boolean, ms: number) => {
      const deadline = Date.now() + ms
      while (!done()) {
        expect(Date.now(), `waiting for ${what}: ${JSON.stringify(origin.status().decisions.map((d) => [d.segment, d.chain, d.reason]))}`).toBeLessThan(deadline)
        await play()
        await sleep(300)
      }
    }
    const decisions = () => origin.status().decisions

    // The player starts once the origin has something to play (before, its playlist is a 503:
    // nothing published yet, as the demo's page knows).
    for (let i = 0; decisions().length === 0; i++) {
      expect(i, 'no segment decided within 40 s').toBeLessThan(400)
      await sleep(100)
    }
    // Both chains up: A serves (after the first, partial segment).
    await until('three segments from A', () => decisions().filter((d) => d.chain === 'a').length >= 3, 40_000)
    await packagers[0]!.close()
    const downAt = decisions().at(-1)!.segment
    await until('a failover to B', () => decisions().some((d) => d.reason === 'failover'), 15_000)
    await until('three segments from B', () => decisions().filter((d) => d.chain === 'b').length >= 3, 15_000)
    // A comes back on the same address.
    packagers[0] = await startPackager(optionsA)
    const backAt = decisions().at(-1)!.segment
    await until('the switch back to A', () => decisions().some((d) => d.reason === 'switch-back'), 30_000)
    await until('two more segments', () => decisions().at(-1)!.segment >= decisions().find((d) => d.reason === 'switch-back')!.segment + 2, 10_000)

    const log = JSON.stringify({ downAt, backAt, decisions: decisions().map((d) => [d.segment, d.chain, d.reason, d.available.a, d.available.b, d.scores.a, d.scores.b]), fetched: [...fetched] })
    // The player never saw a failed request, and got every number from the first on.
    expect(playlistStatuses.filter((s) => s !== 200), `playlist reloads that failed: ${log}`).toEqual([])
    for (const [n, f] of fetched) expect(f.status, `segment ${n}: ${log}`).toBe(200)
    const numbers = [...fetched.keys()].sort((x, y) => x - y)
    expect(numbers, log).toEqual(numbers.map((_, k) => numbers[0]! + k))
    // While A was gone every segment came from B; after the switch back, from A.
    const failover = decisions().find((d) => d.reason === 'failover')!
    const switchBack = decisions().find((d) => d.reason === 'switch-back')!
    expect(failover.segment, log).toBeLessThanOrEqual(downAt + 2)
    for (const [n, f] of fetched) {
      if (n >= failover.segment && n < switchBack.segment) expect(f.chain, `segment ${n}: ${log}`).toBe('b')
      if (n >= switchBack.segment) expect(f.chain, `segment ${n}: ${log}`).toBe('a')
    }
    // A was back and good for the switch-back count first, and that took no longer than it must.
    const before = decisions().filter((d) => d.segment < switchBack.segment).slice(-SWITCH_BACK_AFTER)
    for (const d of before) {
      expect(d.chain, log).toBe('b')
      expect(d.available.a && d.scores.a !== undefined, `segment ${d.segment} not good on A: ${log}`).toBe(true)
    }
    expect(switchBack.segment, log).toBeGreaterThan(backAt)
    expect(origin.status().upstreamErrors.a, log).toBeGreaterThan(0)
  }, 120_000)
})
