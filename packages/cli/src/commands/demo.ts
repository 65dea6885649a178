import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import { type Logger, VideoCodec } from '@mqa/common'
import { encode, startImpair, TimecodeMode } from '@mqa/encoder'
import { Chain, startOrigin } from '@mqa/origin'
import { startPackager } from '@mqa/packager'
import { helpText, parseFlags, parseSize, type FlagTable } from '../flags.js'
import { jsonLogger } from '../log.js'
import { statusPageHtml } from '../status-page.js'
import { patternGraph } from './source.js'

export const demoFlags = {
  loss: { names: ['--loss'], type: 'number', default: 0.02, min: 0, max: 1, description: 'datagrams dropped on path A while impaired' },
  lossAfter: { names: ['--loss-after'], type: 'number', default: 20, min: 0, description: 'seconds before the rain fade starts' },
  lossFor: { names: ['--loss-for'], type: 'number', default: 12, min: 0, description: 'seconds the rain fade lasts' },
  listenBase: { names: ['--listen-base'], type: 'number', default: 8080, min: 1024, max: 65000, description: 'origin port; packagers, status page and UDP links use the ports after it' },
  duration: { names: ['--duration'], type: 'number', min: 1, description: 'stop everything after S seconds (default: until Ctrl-C)' },
  size: { names: ['--size'], type: 'string', default: '480x270', description: 'picture size' },
  redBelow: { names: ['--red-below'], type: 'number', default: 75, min: 0, max: 100, description: 'the status page shows a node red while its MQA-VIDEO is below this' },
} as const satisfies FlagTable

/**
 * The main job: on 127.0.0.1, `mqa source` → `mqa impair` (path A only) → encoders A and B →
 * packagers A and B → the origin, plus a status page with an hls.js player of the origin.
 */
export async function runDemo(argv: readonly string[]): Promise<number> {
  const f = parseFlags('demo', demoFlags, argv)
  if (f.help) {
    process.stdout.write(`${helpText('demo', 'the whole A/B chain on one machine, with a rain fade on path A', demoFlags)}\n`)
    return 0
  }
  const size = parseSize('demo', f.size ?? '480x270')!
  const base = f.listenBase ?? 8080
  const log = jsonLogger()
  const controller = new AbortController()
  const signal = controller.signal
  const stop = () => controller.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  const timer = f.duration ? setTimeout(stop, f.duration * 1000) : undefined
  const udp = (k: number) => `udp://127.0.0.1:${base + 10 + k}`
  const url = (port: number) => `http://127.0.0.1:${port}`
  const closers: [string, () => Promise<void>][] = []
  const running: [string, Promise<unknown>][] = []
  try {
    const packagers = await Promise.all(
      ([Chain.A, Chain.B] as const).map((c, i) =>
        startPackager({ input: udp(3 + i), host: '127.0.0.1', port: base + 1 + i, name: `pkg-${c}`, segmentSeconds: 2, window: 10, inputRate: 'max', logger: quiet(log.child({ component: 'packager', node: `pkg-${c}` })) }),
      ),
    )
    for (const p of packagers) closers.push([`packager ${p.url}`, () => p.close()])
    const origin = await startOrigin({ upstreams: { a: packagers[0]!.url, b: packagers[1]!.url }, host: '127.0.0.1', port: base, name: 'origin-1', logger: log.child({ component: 'origin' }) })
    closers.push(['origin', () => origin.close()])
    const relay = await startImpair({ from: udp(0), to: udp(1), loss: f.loss ?? 0.02, afterMs: (f.lossAfter ?? 20) * 1000, forMs: (f.lossFor ?? 12) * 1000, signal, logger: log.child({ component: 'impair' }) })
    closers.push(['impair relay', () => relay.close()])
    const page = await statusPage(base + 3, [
      { name: 'pkg-a', url: packagers[0]!.url, kind: 'packager' },
      { name: 'pkg-b', url: packagers[1]!.url, kind: 'packager' },
      { name: 'origin-1', url: origin.url, kind: 'origin' },
    ], `${origin.url}/hls/index.m3u8`, f.redBelow ?? 75)
    closers.push(['status page', page])
    process.stdout.write(
      `mqa demo running on 127.0.0.1 (Ctrl-C stops everything):\n` +
        `  status page + player  ${url(base + 3)}/\n` +
        `  origin (HLS)          ${origin.url}/hls/index.m3u8   status ${origin.url}/api/status\n` +
        `  packager A            ${packagers[0]!.url}/hls/index.m3u8\n` +
        `  packager B            ${packagers[1]!.url}/hls/index.m3u8\n` +
        `  rain fade on path A: ${((f.loss ?? 0.02) * 100).toFixed(1)}% loss from ${f.lossAfter ?? 20} s for ${f.lossFor ?? 12} s\n`,
    )
    const encoders = ([Chain.A, Chain.B] as const).map((c, i) =>
      encode({ input: udp(i === 0 ? 1 : 2), output: udp(3 + i), codec: VideoCodec.H264, preset: 'veryfast', bitrateKbps: 1200, gopSeconds: 2, segmentSeconds: 2, timecode: TimecodeMode.INPUT, workers: 1, realtime: false, signal, logger: quiet(log.child({ component: 'encoder', chain: c })) }),
    )
    const source = encode({
      // Grain, as a camera gives: a 6 Mb/s contribution feed that really spends 6 Mb/s, so a 2% datagram
      // loss hits about a third of the frames, as on a real link (testsrc2 alone needs ~2 Mb/s).
      input: `lavfi:${patternGraph('testsrc2', size, '25')},noise=alls=6:allf=t`,
      output: [udp(0), udp(2)],
      measure: false,
      codec: VideoCodec.H264,
      preset: 'ultrafast',
      bitrateKbps: 6000,
      gopSeconds: 1,
      segmentSeconds: 1,
      timecode: TimecodeMode.WALLCLOCK,
      workers: 1,
      realtime: true,
      bframes: 0,
      signal,
      logger: quiet(log.child({ component: 'source' })),
    })
    let lastServing = ''
    const ticker = setInterval(() => {
      const s = origin.status()
      const last = s.decisions.at(-1)
      if (last && s.serving !== lastServing) {
        lastServing = s.serving
        process.stdout.write(`segment ${last.segment}: origin serves ${s.serving.toUpperCase()} (${last.reason}; MQA-VIDEO A ${last.scores.a ?? '-'} / B ${last.scores.b ?? '-'})\n`)
      }
    }, 1000)
    closers.push(['ticker', async () => clearInterval(ticker)])
    running.push(['source', source], ['encoder a', encoders[0]!], ['encoder b', encoders[1]!])
    // A component that fails is named at once; the others go on (the origin fails over).
    for (const [name, p] of running) p.catch((err: unknown) => log.error('stopped with an error', { component: name, error: (err as Error).message }))
    // Runs until Ctrl-C or --duration (a live source never ends by itself).
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })))
    await settleWithin(running, CLOSE_ALL_MS, log)
    const s = origin.status()
    process.stdout.write(`stopped: ${s.switches} switches; last decisions:\n${s.decisions.slice(-6).map((d) => `  ${d.segment} → ${d.chain} (${d.reason}) A=${d.scores.a ?? '-'} B=${d.scores.b ?? '-'}`).join('\n')}\n`)
    return 0
  } finally {
    if (timer) clearTimeout(timer)
    controller.abort()
    // Leave nothing running, whatever hangs: native demuxer threads may still wait on closed
    // inputs, and a close that does not finish in time is named, then the process ends anyway.
    setTimeout(() => process.exit(process.exitCode ?? 0), 3 * CLOSE_ALL_MS).unref()
    await settleWithin(running, CLOSE_ALL_MS, log)
    for (const [name, close] of closers.reverse()) await settleWithin([[name, close()]], CLOSE_ALL_MS, log)
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}

/** How long each service may take to stop after Ctrl-C. */
const CLOSE_ALL_MS = 3000

/** Waits for every piece of `work` for at most `ms`, then names what had not finished and goes on. */
async function settleWithin(work: readonly [string, Promise<unknown>][], ms: number, log: Logger): Promise<void> {
  const pending = new Set(work.map(([name]) => name))
  let timeout: NodeJS.Timeout | undefined
  const late = new Promise<void>((resolve) => (timeout = setTimeout(resolve, ms)))
  await Promise.race([Promise.allSettled(work.map(([name, p]) => p.finally(() => pending.delete(name)))), late])
  clearTimeout(timeout)
  if (pending.size) log.warn('did not stop in time; going on without it', { components: [...pending], waitedMs: ms })
}

/** Info logs of the chain's components would drown the demo's own lines: warnings and up only. */
function quiet(l: Logger): Logger {
  return { ...l, info() {}, debug() {}, child: (b) => quiet(l.child(b)) }
}

async function statusPage(port: number, nodes: Parameters<typeof statusPageHtml>[0], playerUrl: string, redBelow: number): Promise<() => Promise<void>> {
  const html = statusPageHtml(nodes, playerUrl, redBelow)
  const require = createRequire(import.meta.url)
  let hlsJs = ''
  try {
    hlsJs = readFileSync(require.resolve('hls.js/dist/hls.min.js'), 'utf8')
  } catch {
    hlsJs = 'console.warn("hls.js is not installed: no player")'
  }
  const server = createServer((req, res) => {
    if (req.url === '/' || req.url === '/index.html') res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html)
    else if (req.url === '/hls.js') res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(hlsJs)
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
