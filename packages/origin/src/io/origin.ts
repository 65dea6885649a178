import { type Server } from 'node:http'
import { type Logger, CmsdHeader, ErrorWindow, appendCmsdDynamic, decodeCmsdStatic, silentLogger } from '@mqa/common'
import { type HttpCounters, type Reply, startHttp } from '@mqa/http'
import { PlaylistContinuity, limitPlaylist } from '../playlist-window.js'
import { type CachedSegment, SegmentCache } from '../segment-cache.js'
import { Chain, type ChainView, type Decision, Selector, type SelectorOptions } from '../selector.js'

export interface OriginOptions extends Partial<SelectorOptions> {
  readonly upstreams: Readonly<Record<Chain, string>>
  readonly host: string
  readonly port: number
  readonly name: string
  /** Per upstream request. */
  readonly timeoutMs?: number
  /** How often both playlists are polled to decide ahead of the players. */
  readonly pollMs?: number
  /** Bytes of segments kept in memory (default 256 MiB): decided segments are served from there. */
  readonly cacheBytes?: number
  /** Fetch each decided MPEG-TS segment ahead of the players (default true). */
  readonly prefetch?: boolean
  readonly logger?: Logger
}

export interface OriginStatus {
  readonly node: string
  readonly serving: Chain
  readonly preferred: Chain
  readonly switches: number
  readonly decisions: readonly Decision[]
  readonly upstreamErrors: Readonly<Record<Chain, number>>
  readonly cache: { readonly segments: number; readonly bytes: number }
  readonly http: HttpCounters
}

export interface OriginHandle {
  readonly url: string
  readonly server: Server
  status(): OriginStatus
  close(): Promise<void>
}

const SEGMENT = /^\/(hls\/(\d{1,15})\.ts|cmaf\/(\d{1,15})\.m4s)$/
const MEDIA_PLAYLISTS = new Set(['/hls/index.m3u8', '/hls/cmaf.m3u8'])
const PASSTHROUGH = new Set([...MEDIA_PLAYLISTS, '/dash/manifest.mpd', '/cmaf/init.mp4', '/api/time'])

/**
 * `mqa origin`: per segment number, serve the chain the selector picks, with the upstream's
 * CMSD-Static and its own CMSD-Dynamic item naming the chain. Both playlists are polled so the
 * decision is ready before a player asks (HEAD on both: their CMSD carries the scores); a slow or
 * failed upstream costs at most one timeout, then the other chain serves.
 */
export async function startOrigin(o: OriginOptions): Promise<OriginHandle> {
  const log = o.logger ?? silentLogger
  const timeoutMs = o.timeoutMs ?? 1500
  const selector = new Selector(o)
  const preferred = o.preferred ?? Chain.A
  const counters: HttpCounters = { requests: 0, byStatus: {}, rejected: 0 }
  const upstreamErrors: Record<Chain, number> = { a: 0, b: 0 }
  const errors = new ErrorWindow(10_000)
  const log_: Decision[] = []
  let switches = 0
  let lastServed: Chain = preferred
  const views = new Map<number, Partial<Record<Chain, ChainView>>>()
  const cache = new SegmentCache(o.cacheBytes ?? 256 << 20)
  /** Per media playlist: one numbering of discontinuities, whichever chain's playlist is served. */
  const continuity = new Map([...MEDIA_PLAYLISTS].map((p) => [p, new PlaylistContinuity()]))
  const prefetch = o.prefetch ?? true

  async function upstream(chain: Chain, path: string, method: 'GET' | 'HEAD'): Promise<Response | undefined> {
    try {
      const res = await fetch(`${o.upstreams[chain]}${path}`, { method, signal: AbortSignal.timeout(timeoutMs) })
      if (res.status >= 500) upstreamErrors[chain]++
      return res
    } catch (err) {
      upstreamErrors[chain]++
      const r = errors.record(`upstream-${chain}`)
      if (r) log.warn('upstream failed', { chain, path, error: (err as Error).message, total: r.total })
      return undefined
    }
  }

  /** A chain's view of segment n from a response: available, and its score if its CMSD is about n. */
  function viewOf(res: Response | undefined, n: number): ChainView {
    if (!res || res.status !== 200) return { available: false }
    const header = res.headers.get(CmsdHeader.STATIC)
    if (!header) return { available: true }
    try {
      const q = decodeCmsdStatic(header).quality
      return q?.segmentNumber === n ? { available: true, score: q.video?.score, frames: q.video?.frames } : { available: true }
    } catch {
      return { available: true }
    }
  }

  async function learn(n: number, path: string): Promise<Record<Chain, ChainView>> {
    const known = views.get(n) ?? {}
    const missing = ([Chain.A, Chain.B] as const).filter((c) => !known[c]?.available)
    await Promise.all(
      missing.map(async (c) => {
        const res = await upstream(c, path, 'HEAD')
        known[c] = viewOf(res, n)
      }),
    )
    views.set(n, known)
    if (views.size > 500) views.delete(views.keys().next().value as number)
    return { a: known.a ?? { available: false }, b: known.b ?? { available: false } }
  }

  /** The newest segment number decided: decisions go forward in number order only. */
  let newestDecided = -1

  function decide(n: number, v: Record<Chain, ChainView>): Decision {
    const before = selector.decided(n)
    if (before) return before
    if (n < newestDecided) {
      // An old number nobody asked for in time: serve it from the current chain, state unchanged.
      return { segment: n, chain: selector.serving, reason: 'stay', scores: { a: v.a.score, b: v.b.score }, available: { a: v.a.available, b: v.b.available } }
    }
    newestDecided = n
    const d = selector.decide(n, v)
    if (d.chain !== lastServed) {
      switches++
      log.info('switch', { segment: n, from: lastServed, to: d.chain, reason: d.reason, a: d.scores.a, b: d.scores.b })
      lastServed = d.chain
    }
    log_.push(d)
    if (log_.length > 200) log_.shift()
    return d
  }

  /**
   * The decided chain's bytes for a segment path, from the cache or fetched into it; when that
   * chain fails, the other chain's (the next decision then fails over). Concurrent callers for one
   * path share one upstream request.
   */
  const inFlight = new Map<string, Promise<CachedSegment | Reply>>()
  function fetchSegment(path: string, decided: Chain): Promise<CachedSegment | Reply> {
    const hit = cache.get(path)
    if (hit) return Promise.resolve(hit)
    let p = inFlight.get(path)
    if (!p) {
      p = (async (): Promise<CachedSegment | Reply> => {
        // The decided chain, then the other one: a chain fails by no answer, a non-200, or a body
        // that breaks off or outlasts the timeout (the next decision then fails over).
        let last: Response | undefined
        for (const chain of [decided, decided === Chain.A ? Chain.B : Chain.A]) {
          const res = await upstream(chain, path, 'GET')
          if (!res) continue
          last = res
          if (res.status !== 200) {
            void res.body?.cancel().catch(() => undefined) // free the connection
            continue
          }
          let body: Uint8Array
          try {
            body = new Uint8Array(await res.arrayBuffer())
          } catch (err) {
            upstreamErrors[chain]++
            const r = errors.record(`upstream-${chain}`)
            if (r) log.warn('upstream body failed', { chain, path, error: (err as Error).message, total: r.total })
            continue
          }
          const headers: Record<string, string> = {
            'Content-Type': res.headers.get('content-type') ?? 'application/octet-stream',
            'Cache-Control': res.headers.get('cache-control') ?? 'no-cache',
          }
          for (const h of [CmsdHeader.STATIC, CmsdHeader.DYNAMIC]) {
            const v = res.headers.get(h)
            if (v) headers[h] = v
          }
          const entry: CachedSegment = { body, headers, chain }
          cache.set(path, entry)
          return entry
        }
        if (!last) return { status: 504, headers: { 'Content-Type': 'text/plain' }, body: 'no upstream answered\n' }
        return { status: last.status === 200 ? 502 : last.status, headers: { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache' }, body: `upstream answered ${last.status}\n` }
      })().finally(() => inFlight.delete(path))
      inFlight.set(path, p)
    }
    return p
  }

  async function segment(n: number, path: string, startMs: number): Promise<Reply> {
    const d = selector.decided(n) ?? decide(n, await learn(n, path))
    const got = await fetchSegment(path, d.chain)
    if (!('chain' in got)) return got
    const { [CmsdHeader.DYNAMIC]: upstreamDynamic, ...headers } = got.headers
    const hop = { node: o.name, rd: Math.round(performance.now() - startMs), mqaSource: got.chain }
    let dynamic: string
    try {
      dynamic = appendCmsdDynamic(upstreamDynamic, hop)
    } catch {
      dynamic = appendCmsdDynamic(undefined, hop)
    }
    return { status: 200, headers: { ...headers, [CmsdHeader.DYNAMIC]: dynamic }, body: got.body }
  }

  async function passthrough(path: string): Promise<Reply> {
    const chain = selector.serving
    let res = await upstream(chain, path, 'GET')
    if (!res || res.status !== 200) res = (await upstream(chain === Chain.A ? Chain.B : Chain.A, path, 'GET')) ?? res
    if (!res) return { status: 504, headers: { 'Content-Type': 'text/plain' }, body: 'no upstream answered\n' }
    const headers = { 'Content-Type': res.headers.get('content-type') ?? 'text/plain', 'Cache-Control': 'no-cache' }
    // Media playlists list only what is decided, with the discontinuities as first listed
    // (playlist-window.ts); the MPD and init pass as they are.
    const media = continuity.get(path)
    if (res.status === 200 && media) return { status: 200, headers, body: media.rewrite(limitPlaylist(await res.text(), newestDecided)) }
    return { status: res.status, headers, body: new Uint8Array(await res.arrayBuffer()) }
  }

  function status(): OriginStatus {
    return { node: o.name, serving: selector.serving, preferred, switches, decisions: [...log_], upstreamErrors: { ...upstreamErrors }, cache: { segments: cache.size, bytes: cache.bytes }, http: counters }
  }

  function metrics(): string {
    const node = JSON.stringify(o.name)
    const last = log_.at(-1)
    const lines = [
      '# HELP mqa_origin_switches_total chain switches',
      '# TYPE mqa_origin_switches_total counter',
      `mqa_origin_switches_total{node=${node}} ${switches}`,
      '# HELP mqa_origin_serving 1 for the chain being served',
      '# TYPE mqa_origin_serving gauge',
      `mqa_origin_serving{node=${node},chain="a"} ${selector.serving === Chain.A ? 1 : 0}`,
      `mqa_origin_serving{node=${node},chain="b"} ${selector.serving === Chain.B ? 1 : 0}`,
      '# HELP mqa_origin_chain_video_score MQA-VIDEO of the last decided segment, per chain',
      '# TYPE mqa_origin_chain_video_score gauge',
    ]
    for (const c of [Chain.A, Chain.B]) if (last?.scores[c] !== undefined) lines.push(`mqa_origin_chain_video_score{node=${node},chain="${c}"} ${last.scores[c]}`)
    lines.push('# HELP mqa_origin_upstream_errors_total failed upstream requests', '# TYPE mqa_origin_upstream_errors_total counter')
    for (const c of [Chain.A, Chain.B]) lines.push(`mqa_origin_upstream_errors_total{node=${node},chain="${c}"} ${upstreamErrors[c]}`)
    return `${lines.join('\n')}\n`
  }

  const handler = async (path: string): Promise<Reply> => {
    const startMs = performance.now()
    const m = SEGMENT.exec(path)
    if (m) return segment(Number(m[2] ?? m[3]), path, startMs)
    if (PASSTHROUGH.has(path)) return passthrough(path)
    if (path === '/api/status') return { status: 200, headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }, body: JSON.stringify(status(), null, 1) }
    if (path === '/metrics') return { status: 200, headers: { 'Content-Type': 'text/plain; version=0.0.4', 'Cache-Control': 'no-store' }, body: metrics() }
    return { status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'not found\n' }
  }

  const server = await startHttp({ host: o.host, port: o.port, handler, logger: log, counters })

  // Decide ahead: poll both playlists; every new segment number gets both views and a decision.
  let polling = true
  let wakePoller: (() => void) | undefined
  const poller = (async () => {
    while (polling) {
      try {
        const listed: Record<Chain, Set<number>> = { a: new Set(), b: new Set() }
        const down: Record<Chain, boolean> = { a: false, b: false }
        await Promise.all(
          [Chain.A, Chain.B].map(async (c) => {
            const res = await upstream(c, '/hls/index.m3u8', 'GET')
            // Down is no answer or a server error; 503 is a packager up with nothing published yet.
            down[c] = !res || (res.status >= 500 && res.status !== 503)
            if (res?.status !== 200) return
            for (const m of (await res.text()).matchAll(/^(\d{1,15})\.ts$/gm)) listed[c].add(Number(m[1]))
          }),
        )
        const newest = Math.max(-1, ...listed.a, ...listed.b)
        // Chains publish in number order: a number below one that both list will never come to
        // the chain that lacks it (a packager that started after it), so it is decided as it is.
        const newestOnBoth = Math.max(-1, ...[...listed.a].filter((n) => listed.b.has(n)))
        // A number is ready when both chains list it, when the other chain is down (its playlist
        // request failed: no answer, or a server error), or when one chain is clearly past it (two segments behind the newest):
        // deciding earlier would read "not there yet" as a failure.
        const ready = (n: number) => ((listed.a.has(n) || down.a) && (listed.b.has(n) || down.b)) || n <= newestOnBoth || n <= newest - 2
        // In number order, from the newest decided on: the hysteresis counts segments as they come.
        const todo = [...new Set([...listed.a, ...listed.b])].sort((x, y) => x - y).filter((n) => n > newestDecided && ready(n))
        for (const n of todo) {
          const d = decide(n, await learn(n, `/hls/${n}.ts`))
          // Fetch ahead: the decided chain's segment is in memory before a player asks for it.
          if (prefetch) await fetchSegment(`/hls/${n}.ts`, d.chain)
        }
      } catch (err) {
        log.warn('poll failed', { error: (err as Error).message })
      }
      if (!polling) break
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, o.pollMs ?? 500)
        wakePoller = () => {
          clearTimeout(t)
          resolve()
        }
      })
    }
  })()

  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : o.port
  return {
    url: `http://${o.host}:${port}`,
    server,
    status,
    async close() {
      polling = false
      wakePoller?.()
      await poller
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
