import { createSocket } from 'node:dgram'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { type AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core'
import { parseDictionary } from 'structured-headers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { VideoCodec, decodeCmsdStatic } from '@mqa/common'
import { encode } from '@mqa/encoder'
import { startPackager, type PackagerHandle } from '../src/index.js'

/**
 * Real players against the live packager, end to end: an encoder measuring testsrc2 in real time
 * (wall-clock timecode) sends MPEG-TS over UDP to an in-process packager, and Debian's Chromium
 * plays its HLS (MPEG-TS and fMP4) with hls.js and its DASH with dash.js (CMSD enabled). The
 * players' page comes from a second local origin, so every packager response is cross-origin and
 * CMSD-Static is readable only through the packager's Access-Control-Expose-Headers. One chain
 * and one browser serve all three tests.
 */

const root = fileURLToPath(new URL('../../../', import.meta.url))
const artifacts = `${root}test-artifacts`
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required', '--mute-audio']
/** How far each player must play, in media seconds, from where it started. */
const PLAY_SECONDS = 4

const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: fileURLToPath(new URL('./players/index.html', import.meta.url)), type: 'text/html; charset=utf-8' },
  '/hls.js': { file: `${root}node_modules/hls.js/dist/hls.min.js`, type: 'text/javascript' },
  '/favicon.ico': { file: '', type: 'image/x-icon' },
  '/dash.js': { file: `${root}node_modules/dashjs/dist/modern/umd/dash.all.min.js`, type: 'text/javascript' },
}

/** A UDP port that was free a moment ago on 127.0.0.1. */
async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4')
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(0, '127.0.0.1', () => resolve())
  })
  const { port } = socket.address()
  await new Promise<void>((resolve) => socket.close(() => resolve()))
  return port
}

/** The page and the two players' builds, from their own origin on 127.0.0.1. */
async function startStatic(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const entry = STATIC[new URL(req.url ?? '/', 'http://x').pathname]
    if (!entry || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n')
      return
    }
    const body = entry.file ? readFileSync(entry.file) : Buffer.alloc(0)
    res.writeHead(200, { 'Content-Type': entry.type, 'Content-Length': body.length, 'Cache-Control': 'no-store' })
    res.end(req.method === 'HEAD' ? undefined : body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** `org.svta.mqa-video` of a CMSD-Static header, read as a plain structured-field dictionary. */
function mqaVideo(header: string): { score: number; sn: number } {
  const member = parseDictionary(header).get('org.svta.mqa-video')
  expect(member, header).toBeDefined()
  const [value, params] = member as [unknown, Map<string, unknown>]
  expect(typeof value, header).toBe('number')
  expect(typeof params.get('sn'), header).toBe('number')
  return { score: value as number, sn: params.get('sn') as number }
}

interface PageState {
  player: string
  version: string | undefined
  ready: boolean
  errors: Record<string, unknown>[]
  fatal: Record<string, unknown> | undefined
  firstPlayingTime: number | undefined
  fragments: { sn: number | string; url: string; cmsdStatic: string | null }[]
  dashCmsdEvents: number
  log: string[]
}

let pkg: PackagerHandle
let encoding: Promise<unknown>
const abort = new AbortController()
let pageServer: { server: Server; url: string }
let browser: Browser
let context: BrowserContext
const consoleLines: string[] = []

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true })
  const port = await freeUdpPort()
  pkg = await startPackager({ input: `udp://127.0.0.1:${port}`, host: '127.0.0.1', port: 0, name: 'pkg-a', segmentSeconds: 2, window: 10, inputRate: 'max' })
  // Long enough for all three tests; aborted in afterAll.
  encoding = encode({
    input: 'lavfi:testsrc2=size=320x180:rate=25',
    output: `udp://127.0.0.1:${port}`,
    codec: VideoCodec.H264,
    preset: 'ultrafast',
    bitrateKbps: 500,
    gopSeconds: 2,
    segmentSeconds: 2,
    timecode: 'wallclock',
    workers: 1,
    realtime: true,
    bframes: 0,
    maxFrames: 25 * 120,
    signal: abort.signal,
  }).catch((err: unknown) => err)
  ;[pageServer, browser] = await Promise.all([startStatic(), chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })])
  context = await browser.newContext({ viewport: { width: 700, height: 480 } })
  // Three segments in the window before any player starts (hls.js starts 3 target durations
  // behind the live edge; the DASH anchor needs a whole segment).
  const deadline = performance.now() + 30_000
  for (;;) {
    const res = await fetch(`${pkg.url}/api/status`)
    const status = (await res.json()) as { window: unknown[] }
    if (status.window.length >= 3) break
    if (performance.now() > deadline) throw new Error(`the packager published ${status.window.length} segments in 30 s: ${JSON.stringify(status)}`)
    await sleep(250)
  }
}, 60_000)

afterAll(async () => {
  writeFileSync(`${artifacts}/players-console.log`, consoleLines.map((l) => `${l}\n`).join(''))
  abort.abort()
  await context?.close()
  await browser?.close()
  await new Promise((resolve) => pageServer?.server.close(resolve))
  await encoding
  await pkg?.close()
})

async function openPlayer(player: 'hls' | 'dash', src: string): Promise<Page> {
  const page = await context.newPage()
  page.on('console', (m) => consoleLines.push(`[${player} ${m.type()}] ${m.text()} (${m.location().url})`))
  page.on('pageerror', (e) => consoleLines.push(`[${player} pageerror] ${e.message}`))
  await page.goto(`${pageServer.url}/?player=${player}&src=${encodeURIComponent(src)}`)
  return page
}

const state = (page: Page) => page.evaluate(() => (window as unknown as { mqa: PageState }).mqa)

/** Waits until the video has played PLAY_SECONDS of media past where it started; fails on a fatal error. */
async function playFor(page: Page, label: string): Promise<{ from: number; to: number; state: PageState }> {
  const deadline = performance.now() + 30_000
  for (;;) {
    const [s, t] = await Promise.all([state(page), page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).currentTime)])
    if (s.fatal) throw new Error(`${label}: fatal ${JSON.stringify(s.fatal)}\nerrors ${JSON.stringify(s.errors)}\n${consoleLines.slice(-40).join('\n')}`)
    if (s.firstPlayingTime !== undefined && t - s.firstPlayingTime >= PLAY_SECONDS) return { from: s.firstPlayingTime, to: t, state: s }
    if (performance.now() > deadline) {
      throw new Error(`${label}: currentTime ${t} (first playing at ${s.firstPlayingTime}) after 30 s\nerrors ${JSON.stringify(s.errors)}\n${consoleLines.slice(-40).join('\n')}`)
    }
    await sleep(250)
  }
}

/** CMSD-Static of a segment read by the page's own cross-origin fetch. */
async function fetchCmsd(page: Page, url: string): Promise<{ status: number; cmsdStatic: string | null; cmsdDynamic: string | null }> {
  return page.evaluate((u) => (window as unknown as { fetchCmsd: (u: string) => Promise<{ status: number; cmsdStatic: string | null; cmsdDynamic: string | null }> }).fetchCmsd(u), url)
}

/** The hls.js fragments the player loaded: each with our CMSD-Static, whose sn is the fragment's own number. */
function checkHlsFragments(s: PageState, format: 'h' | 'd', extension: string): void {
  const loaded = s.fragments.filter((f) => typeof f.sn === 'number')
  expect(loaded.length).toBeGreaterThanOrEqual(2)
  for (const f of loaded) {
    expect(f.url).toMatch(new RegExp(`/${f.sn}\\.${extension}$`))
    expect(f.cmsdStatic, `CMSD-Static of ${f.url} as hls.js saw it`).toBeTruthy()
    const { score, sn } = mqaVideo(f.cmsdStatic!)
    expect(sn).toBe(f.sn)
    expect(score).toBeGreaterThan(0)
    const decoded = decodeCmsdStatic(f.cmsdStatic!)
    expect(decoded).toMatchObject({ streamingFormat: format, streamType: 'l', node: 'pkg-a', quality: { segmentNumber: f.sn } })
  }
}

describe('players in Chromium', () => {
  it('hls.js plays the MPEG-TS playlist and sees CMSD-Static on every segment', async () => {
    const page = await openPlayer('hls', `${pkg.url}/hls/index.m3u8`)
    const played = await playFor(page, 'hls.js TS')
    await page.screenshot({ path: `${artifacts}/players-hls-ts.png` })
    expect(played.state.errors.filter((e) => e.fatal)).toEqual([])
    checkHlsFragments(played.state, 'h', 'ts')
    // And the page itself, by fetch(): the header is exposed cross-origin.
    const n = played.state.fragments.at(-1)!.sn as number
    const fetched = await fetchCmsd(page, `${pkg.url}/hls/${n}.ts`)
    expect(fetched.status).toBe(200)
    expect(mqaVideo(fetched.cmsdStatic!)).toMatchObject({ sn: n })
    expect(fetched.cmsdDynamic).toMatch(/^"pkg-a";rd=\d+$/)
    console.log(`hls.js ${played.state.version} TS: played ${played.from.toFixed(2)} → ${played.to.toFixed(2)} s, ${played.state.fragments.length} fragments, last CMSD-Static ${fetched.cmsdStatic}`)
    await page.close()
  })

  it('hls.js plays the fMP4 playlist and sees CMSD-Static on every segment', async () => {
    const page = await openPlayer('hls', `${pkg.url}/hls/cmaf.m3u8`)
    const played = await playFor(page, 'hls.js fMP4')
    await page.screenshot({ path: `${artifacts}/players-hls-fmp4.png` })
    expect(played.state.errors.filter((e) => e.fatal)).toEqual([])
    checkHlsFragments(played.state, 'd', 'm4s')
    console.log(`hls.js ${played.state.version} fMP4: played ${played.from.toFixed(2)} → ${played.to.toFixed(2)} s, ${played.state.fragments.length} fragments`)
    await page.close()
  })

  it('dash.js with CMSD enabled plays the MPD and parses our CMSD-Static', async () => {
    const mpd = `${pkg.url}/dash/manifest.mpd`
    const page = await openPlayer('dash', mpd)
    let played: Awaited<ReturnType<typeof playFor>>
    try {
      played = await playFor(page, 'dash.js')
    } catch (err) {
      await page.screenshot({ path: `${artifacts}/players-dash-failed.png` })
      const text = await (await fetch(mpd)).text()
      throw new Error(`${(err as Error).message}\nMPD:\n${text}`)
    }
    await page.screenshot({ path: `${artifacts}/players-dash.png` })
    const mpdText = await (await fetch(mpd)).text()
    writeFileSync(`${artifacts}/players-dash.mpd`, mpdText)
    expect(played.state.errors).toEqual([])
    // dash.js's own parse of our header (its CmsdModel, through @svta/cml-cmsd), kept with the raw
    // response headers of every media segment request in its HTTP metrics.
    const requests = await page.evaluate(() => {
      interface HttpRequestMetric {
        type: string
        url: string
        responsecode: number
        cmsd: { static: Record<string, unknown> | null } | null
        _responseHeaders: string | null
      }
      const player = (window as unknown as { player: { getDashMetrics(): { getHttpRequests(t: string): HttpRequestMetric[] } } }).player
      const plain = (v: unknown): unknown => {
        if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]))
        if (typeof v === 'symbol') return v.description
        if (Array.isArray(v)) return v.map(plain)
        if (v && typeof v === 'object') {
          const o = v as Record<string, unknown>
          if ('value' in o && 'params' in o) return { value: plain(o.value), params: plain(o.params) }
          if (v.constructor && v.constructor.name !== 'Object') return String(v)
          return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, plain(x)]))
        }
        return v
      }
      return player
        .getDashMetrics()
        .getHttpRequests('video')
        .filter((r) => r.type === 'MediaSegment')
        .map((r) => ({
          url: r.url,
          status: r.responsecode,
          parsed: (plain(r.cmsd) as { static?: Record<string, unknown> | null } | null)?.static ?? null,
          raw: /^cmsd-static:\s*(.*?)\s*$/im.exec(r._responseHeaders ?? '')?.[1] ?? null,
        }))
    })
    // dash.js asks for segment n once the MPD says it is there: AST + (n − startNumber + 1)·D (AST
    // never changes across updates). The packager publishes on that schedule; `at` in its
    // CMSD-Static says when each segment was. A segment asked for too soon (404, then fetched
    // again) must be one published late, its input late on a loaded machine (the encoder runs in
    // real time in this process), and the most punctual segment is on time (within about 20 ms
    // either way, loaded or not, where the median reached 40 ms under load): an AST 100 ms early or more fails
    // here (the anchor's arithmetic itself: test/playlist.test.ts).
    const segmentNumber = (url: string) => Number(/\/(\d+)\.m4s$/.exec(url)?.[1])
    const ast = Date.parse(/availabilityStartTime="([^"]+)"/.exec(mpdText)![1]!)
    const startNumber = Number(/<SegmentTemplate[^>]* startNumber="(\d+)"/.exec(mpdText)![1])
    const due = (n: number) => ast + (n - startNumber + 1) * 2000
    const served = requests.filter((r) => r.status === 200)
    const lateness = new Map(served.flatMap((r) => (r.raw ? [[segmentNumber(r.url), decodeCmsdStatic(r.raw).availableAtMs! - due(segmentNumber(r.url))] as const] : []))) // a missing header fails below
    expect(Math.min(...lateness.values()), `ms after due, the most punctual segment, ${JSON.stringify(requests)}`).toBeLessThanOrEqual(100)
    for (const miss of requests.filter((r) => r.status !== 200)) {
      const late = lateness.get(segmentNumber(miss.url))
      expect(late, `${miss.url} (${miss.status}): never fetched whole afterwards`).toBeDefined()
      expect(late, `${miss.url} (${miss.status}) was published on time: asked for before the MPD said`).toBeGreaterThan(1)
    }
    expect(served.length, JSON.stringify(requests)).toBeGreaterThanOrEqual(2)
    for (const r of served) {
      const n = segmentNumber(r.url)
      // The header as dash.js's own cross-origin request received it: this segment's number.
      expect(r.raw, `CMSD-Static of ${r.url} as dash.js received it`).toBeTruthy()
      const ours = mqaVideo(r.raw!)
      expect(ours.sn).toBe(n)
      expect(ours.score).toBeGreaterThan(0)
      // dash.js's parse of it. dash.js 5.2.1's decoder (@svta/cml-cmsd 1.0.6) keeps a custom key's
      // value but drops its parameters (sn, nf, min), so sn is checked on the raw header above.
      expect(r.parsed, `dash.js CMSD of ${r.url}`).toBeTruthy()
      expect(r.parsed).toMatchObject({ ot: 'v', sf: 'd', st: 'l', n: 'pkg-a', d: 2000, 'org.svta.mqa-video': ours.score, at: decodeCmsdStatic(r.raw!).availableAtMs })
      expect(r.parsed!.br).toBeGreaterThan(0)
    }
    expect((await state(page)).dashCmsdEvents).toBeGreaterThanOrEqual(served.length)
    // And the page's own fetch() reads it too.
    const last = served.at(-1)!
    const fetched = await fetchCmsd(page, last.url)
    expect(fetched.status).toBe(200)
    expect(fetched.cmsdStatic).toBe(last.raw)
    console.log(`dash.js ${played.state.version}: played ${played.from.toFixed(2)} → ${played.to.toFixed(2)} s, ${served.length} media segments parsed (${requests.length - served.length} asked for before they were published; each published this many ms after due: ${JSON.stringify(Object.fromEntries(lateness))}), e.g. ${JSON.stringify(last.parsed)}`)
    await page.close()
  })
})
