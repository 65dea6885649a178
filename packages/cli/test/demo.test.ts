import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeCmsdDynamic, decodeCmsdStatic } from '@mqa/common'
import { resolveFfmpeg } from '../../../scripts/lib/ffmpeg-bin.js'
import { timecodeIndices, workDir } from '../../encoder/test/helpers.js'

/**
 * The main job, end to end, as a user runs it: `mqa demo` (the built CLI, one process) with the
 * rain fade on path A, the demo's own status page and hls.js player open in Debian's Chromium,
 * and this test reading the origin like a second player. It checks the timeline the demo exists
 * to show (A before the fade, B during it, A again only after five good segments), that every
 * segment number is served once with the frames of exactly that number, that the player never
 * sees a failed request, that the status page turns A's tile red and shows the switch, and that
 * Ctrl-C leaves nothing running.
 */

const root = fileURLToPath(new URL('../../../', import.meta.url))
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url))
const artifacts = join(root, 'test-artifacts')
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required', '--mute-audio']
const { ffmpeg } = resolveFfmpeg()

const FPS = 25
const SEGMENT_FRAMES = 2 * FPS
const LOSS_AFTER_S = 14
const LOSS_FOR_S = 10
const SWITCH_BACK_AFTER = 5

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Decision {
  segment: number
  chain: 'a' | 'b'
  reason: string
  scores: { a?: number; b?: number }
}

/** A base port whose TCP ports base..base+3 and UDP ports base+10..base+14 were free just now. */
async function freeBase(): Promise<number> {
  const tcpFree = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer().once('error', () => resolve(false))
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
    })
  const udpFree = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createSocket('udp4').once('error', () => resolve(false))
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)))
    })
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000)
    const checks = await Promise.all([...[0, 1, 2, 3].map((k) => tcpFree(base + k)), ...[10, 11, 12, 13, 14].map((k) => udpFree(base + k))])
    if (checks.every(Boolean)) return base
  }
  throw new Error('no free port range on 127.0.0.1')
}

let demo: ChildProcess
let base = 0
let stdout = ''
let stderr = ''
let browser: Browser | undefined
const demoExit = { code: undefined as number | null | undefined }

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true })
  base = await freeBase()
  demo = spawn('node', [main, 'demo', '--listen-base', String(base), '--loss-after', String(LOSS_AFTER_S), '--loss-for', String(LOSS_FOR_S), '--size', '320x180'], { stdio: ['ignore', 'pipe', 'pipe'] })
  demo.stdout!.on('data', (b: Buffer) => (stdout += b.toString()))
  demo.stderr!.on('data', (b: Buffer) => (stderr += b.toString()))
  demo.on('exit', (code) => (demoExit.code = code))
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
}, 60_000)

afterAll(async () => {
  // Every component's log lines, whole (a failure message keeps only the last 3000 characters).
  writeFileSync(join(artifacts, 'demo-stderr.log'), stderr)
  await browser?.close()
  if (demoExit.code === undefined) demo.kill('SIGKILL')
})

describe('mqa demo (the main job)', () => {
  it('serves A, then B during the rain fade, then A after five good segments; the player never fails; Ctrl-C stops it all', async () => {
    const origin = `http://127.0.0.1:${base}`
    const page = await browser!.newPage({ viewport: { width: 1100, height: 760 } })
    const playerResponses: { url: string; status: number }[] = []
    const failedRequests: string[] = []
    page.on('response', (r) => {
      if (r.url().startsWith(origin)) playerResponses.push({ url: r.url(), status: r.status() })
    })
    page.on('requestfailed', (r) => {
      if (r.url().startsWith(origin)) failedRequests.push(`${r.url()}: ${r.failure()?.errorText}`)
    })
    // The status page comes up with the demo's other services.
    for (let i = 0; ; i++) {
      if (/status page/.test(stdout)) break
      expect(i, `demo did not start: ${stderr}`).toBeLessThan(300)
      await sleep(100)
    }
    await page.goto(`http://127.0.0.1:${base + 3}/`)

    // Follow the origin, like a player that fetches every segment as soon as it is decided.
    const served = new Map<number, { chain: string; bytes: Uint8Array; cmsdSn: number | undefined }>()
    const decisions: Decision[] = []
    let sawRedA = false
    const lossWindowMs: { on?: number; off?: number } = {}
    /** Input errors + missing frames of each of packager A's segments (its /api/status). */
    const errorsOnA = new Map<number, number>()
    const deadline = Date.now() + 150_000
    for (;;) {
      expect(Date.now(), `timed out; decisions ${JSON.stringify(decisions)}\n${stdout}\n${stderr.slice(-3000)}`).toBeLessThan(deadline)
      expect(demoExit.code, `demo exited early: ${stderr.slice(-3000)}`).toBeUndefined()
      const status = (await (await fetch(`${origin}/api/status`)).json()) as { decisions: Decision[] }
      for (const d of status.decisions) if (!decisions.some((x) => x.segment === d.segment)) decisions.push(d)
      decisions.sort((x, y) => x.segment - y.segment)
      for (const d of decisions) {
        if (served.has(d.segment)) continue
        const res = await fetch(`${origin}/hls/${d.segment}.ts`)
        expect(res.status, `segment ${d.segment}`).toBe(200)
        const chain = decodeCmsdDynamic(res.headers.get('cmsd-dynamic')!).at(-1)!.mqaSource!
        const cmsdSn = decodeCmsdStatic(res.headers.get('cmsd-static')!).quality?.segmentNumber
        served.set(d.segment, { chain, bytes: new Uint8Array(await res.arrayBuffer()), cmsdSn })
      }
      const packagerA = (await (await fetch(`http://127.0.0.1:${base + 1}/api/status`)).json()) as { window: { number: number; errors?: number }[] }
      for (const w of packagerA.window) errorsOnA.set(w.number, w.errors ?? 0)
      for (const line of stderr.split('\n')) {
        if (line.includes('"impairment on"')) lossWindowMs.on ??= Date.parse(JSON.parse(line).time)
        if (line.includes('"impairment off"')) lossWindowMs.off ??= Date.parse(JSON.parse(line).time)
      }
      if (lossWindowMs.on !== undefined && lossWindowMs.off === undefined && !sawRedA) {
        // A red while B is not: the page tells the chains apart, it is not just everything red.
        sawRedA = (await page.locator('#tile-pkg-a.bad').count()) > 0 && (await page.locator('#tile-pkg-b.bad').count()) === 0
        if (sawRedA) await page.screenshot({ path: join(artifacts, 'demo-status-rain-fade.png') })
      }
      const back = decisions.findIndex((d) => d.reason === 'switch-back')
      if (back >= 0 && decisions.length - back >= 3) break
      await sleep(500)
    }
    await page.screenshot({ path: join(artifacts, 'demo-status-switched-back.png') })
    const redAtEnd = await page.locator('.tile.bad').count()
    const servingShown = await page.locator('#tile-origin-1 .big').innerText()
    const pageText = await page.locator('#log').innerText()
    const playedS = await page.evaluate(() => (document.getElementById('player') as HTMLVideoElement).currentTime)

    // What the page asked of the origin while the demo ran (after Ctrl-C its polls fail, rightly).
    const failedWhileRunning = [...failedRequests]
    const responsesWhileRunning = [...playerResponses]
    // Ctrl-C: everything stops and every port is free again.
    demo.kill('SIGINT')
    for (let i = 0; demoExit.code === undefined; i++) {
      expect(i, 'demo did not stop within 15 s of SIGINT').toBeLessThan(150)
      await sleep(100)
    }
    const stoppedClean = demoExit.code
    const stillListening = await Promise.all([0, 1, 2, 3].map((k) => fetch(`http://127.0.0.1:${base + k}/api/status`).then(() => true, () => false)))
    await page.close()

    const log = JSON.stringify({ lossWindowMs, errorsOnA: [...errorsOnA], decisions: decisions.map((d) => [d.segment, d.chain, d.reason, d.scores.a, d.scores.b]) })
    writeFileSync(join(artifacts, 'demo-decisions.json'), log)
    // The fade in segment numbers: the segments of chain A that carry input errors. They must be
    // where the relay's log puts the fade (the source's timecode is the wall clock's time of day,
    // give or take the source's latency), and nowhere else.
    const hit = [...errorsOnA].filter(([, e]) => e > 0).map(([n]) => n).sort((x, y) => x - y)
    const lossFirst = hit[0]!
    const lossLast = hit.at(-1)!
    const segmentAt = (ms: number) => Math.floor((ms % 86_400_000) / 2000)
    expect(Math.abs(lossFirst - segmentAt(lossWindowMs.on!)), log).toBeLessThanOrEqual(1)
    expect(Math.abs(lossLast - segmentAt(lossWindowMs.off!)), log).toBeLessThanOrEqual(1)
    expect(hit, `errors on A outside the fade: ${log}`).toEqual(hit.map((_, k) => lossFirst + k))
    const first = decisions[0]!.segment

    // Decisions: one per number, every number from the first on, in order.
    expect(decisions.map((d) => d.segment), log).toEqual(decisions.map((_, k) => first + k))
    expect(lossFirst - first, `the fade must start a few segments in: ${log}`).toBeGreaterThanOrEqual(3)
    // Before the fade: A.
    for (const d of decisions.filter((x) => x.segment < lossFirst)) expect(d.chain, log).toBe('a')
    // B serves no later than the second segment after the fade starts.
    const firstB = decisions.find((d) => d.chain === 'b')!
    expect(firstB.reason, log).toBe('better')
    expect(firstB.segment, log).toBeLessThanOrEqual(lossFirst + 2)
    // During the fade A is clearly worse than B (segments wholly inside it).
    const inside = decisions.filter((d) => d.segment > lossFirst && d.segment < lossLast)
    expect(inside.length, log).toBeGreaterThanOrEqual(3)
    for (const d of inside) expect(d.scores.a! + 5, log).toBeLessThanOrEqual(d.scores.b!)
    // Back to A only after five good segments once the fade is over, then A stays.
    // (The segment the fade ends in may itself be good: within the margin of B.)
    const back = decisions.findIndex((d) => d.reason === 'switch-back')
    expect(decisions[back]!.segment, log).toBeGreaterThanOrEqual(lossLast + SWITCH_BACK_AFTER)
    const good = (d: Decision) => d.scores.a !== undefined && d.scores.b !== undefined && d.scores.a >= d.scores.b - 5
    for (const d of decisions.slice(back - SWITCH_BACK_AFTER, back)) {
      expect(d.chain, log).toBe('b')
      expect(good(d), log).toBe(true)
    }
    for (const d of decisions.slice(back)) expect(d.chain, log).toBe('a')
    expect(decisions.filter((d, k) => k > 0 && d.chain !== decisions[k - 1]!.chain), log).toHaveLength(2)

    // Every number served once, from the chain decided, each with its own CMSD, and decoding clean.
    // A switch lands on a segment boundary: a full segment n holds frames n·D .. n·D + D - 1.
    const seen = new Set<number>()
    for (const d of decisions) {
      const s = served.get(d.segment)!
      expect(s.chain, `segment ${d.segment}`).toBe(d.chain)
      expect(s.cmsdSn, `segment ${d.segment}`).toBe(d.segment)
      const file = join(workDir('demo'), `${d.segment}.ts`)
      writeFileSync(file, s.bytes)
      const decoded = spawnSync(ffmpeg, ['-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' })
      expect(decoded.status, `segment ${d.segment}: ${decoded.stderr}`).toBe(0)
      expect(decoded.stderr, `segment ${d.segment}`).toBe('')
      const frames = timecodeIndices(s.bytes, { num: FPS, den: 1 }).sort((x, y) => x - y) // decode order → presentation order (B-frames)
      for (const f of frames) {
        expect(seen.has(f), `frame ${f} served twice`).toBe(false)
        seen.add(f)
        expect(Math.floor(f / SEGMENT_FRAMES), `frame ${f} in segment ${d.segment}`).toBe(d.segment)
      }
      const clean = d.segment !== first && (d.segment < lossFirst || d.segment > lossLast + 1 || d.chain === 'b')
      if (clean) expect(frames, `segment ${d.segment} (${d.chain})`).toEqual(Array.from({ length: SEGMENT_FRAMES }, (_, k) => d.segment * SEGMENT_FRAMES + k))
    }

    // The player (hls.js on the status page, playing the origin) never saw a failed request.
    expect(failedWhileRunning).toEqual([])
    expect(responsesWhileRunning.filter((r) => r.status !== 200), JSON.stringify(responsesWhileRunning)).toEqual([])
    const fragments = responsesWhileRunning.filter((r) => /\/hls\/\d+\.ts$/.test(r.url)).map((r) => Number(/(\d+)\.ts$/.exec(r.url)![1]))
    expect(fragments.length).toBeGreaterThanOrEqual(10)
    expect(new Set(fragments).size, `fragments fetched twice: ${fragments}`).toBe(fragments.length)
    expect(fragments, 'the player walks the segments in order, none skipped').toEqual(fragments.map((_, k) => fragments[0]! + k))
    expect(playedS).toBeGreaterThan(20)

    // The status page turned A's tile red during the fade and logs the switches.
    expect(sawRedA, 'A\'s tile never turned red (with B\'s not) during the fade').toBe(true)
    expect(redAtEnd, 'a tile still red after the fade').toBe(0)
    expect(servingShown).toBe('serving A')
    expect(pageText).toMatch(/→ a \(switch-back\)/)

    // The demo's own report, and nothing left running.
    expect(stdout).toMatch(/origin serves B \(better/)
    expect(stdout).toMatch(/origin serves A \(switch-back/)
    expect(stoppedClean).toBe(0)
    expect(stillListening).toEqual([false, false, false, false])
  }, 240_000)
})
