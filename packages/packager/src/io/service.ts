import { mkdirSync, readFileSync, readdirSync, writeFileSync, renameSync, unlinkSync, existsSync } from 'node:fs'
import { type IncomingMessage, type Server } from 'node:http'
import { join } from 'node:path'
import { type FrameRate, type Logger, CmsdStreamingFormat, ErrorWindow, formatTimecode, frameIndexToTimecode, silentLogger, supportsDropFrame } from '@mqa/common'
import { segmentCmsd } from '../cmsd-headers.js'
import { createCmafWriter } from '../cmaf/writer.js'
import { type CmafWriter, PackagerCore, type PublishedSegment } from '../packager.js'
import { type DashPeriodState, type PlaylistInputs, type PlaylistKind, nearestDayStartMs, nextDiscontinuitySequence, renderPlaylist, segmentFramesOf, segmentTicksOf } from '../playlists.js'
import { SegmentStore } from '../store.js'
import { type HttpCounters, type Reply, startHttp } from '@mqa/http'
import { openIngest } from './ingest.js'

export interface PackageOptions {
  readonly input: string
  readonly host: string
  readonly port: number
  readonly name: string
  readonly segmentSeconds: number
  readonly window: number
  readonly outDir?: string | undefined
  readonly lowLatency?: boolean
  /** `realtime` paces a file input by its media time; `max` reads as fast as it can. */
  readonly inputRate: 'realtime' | 'max'
  readonly rate?: FrameRate | undefined
  readonly cmaf?: CmafWriter | undefined
  readonly logger?: Logger
  readonly now?: () => number
  /** UDP: bytes queued for the packager before datagrams are dropped (default 64 MiB). */
  readonly maxQueuedBytes?: number | undefined
}

export interface PackagerHandle {
  readonly url: string
  readonly server: Server
  /** Resolves when the input has ended (never for UDP); the server keeps running. */
  readonly inputDone: Promise<void>
  status(): PackagerStatus
  close(): Promise<void>
}

export interface PackagerStatus {
  readonly node: string
  readonly input: string
  readonly inputEnded: boolean
  readonly ingest: PackagerCore['ingest']
  /** Thrown away before the packager saw it: UDP datagrams over the queue bound. */
  readonly ingestDropped: { readonly datagrams: number; readonly bytes: number }
  readonly segmenter: Record<string, number> | undefined
  readonly http: HttpCounters
  readonly window: { number: number; durationMs: number; frames: number; discontinuity: boolean; mqa?: number; min?: number; psnr?: number; ssim?: number; errors?: number; availableAtMs: number }[]
}

const TYPES = { m3u8: 'application/vnd.apple.mpegurl', ts: 'video/mp2t', m4s: 'video/iso.segment', mp4: 'video/mp4', mpd: 'application/dash+xml', json: 'application/json', text: 'text/plain; version=0.0.4' }
const SEGMENT_CACHE = 'public, max-age=86400, immutable'
const PLAYLIST_CACHE = 'no-cache, max-age=0'

/** `mqa package`: ingest → segments → HTTP with CMSD. */
export async function startPackager(o: PackageOptions): Promise<PackagerHandle> {
  const log = o.logger ?? silentLogger
  const now = o.now ?? Date.now
  // CMAF carries the video only: dash.js refuses multiplexed representations, and one set of
  // CMAF segments serves both DASH and HLS-fMP4 (audio stays in the HLS MPEG-TS rendition).
  const writer = createCmafWriter()
  const cmaf: CmafWriter = o.cmaf ?? {
    init: (segment, codec, rate) => {
      const init = writer.init(segment, codec, rate, undefined)
      const video = writer.tracks?.find((t) => t.kind === 'video')
      if (video && video.kind === 'video') core.videoTrack = { codecs: video.codecsString, width: video.width, height: video.height }
      return init
    },
    segment: (segment, sequence) => writer.segment(segment, sequence),
  }
  const store = new SegmentStore(o.window)
  const counters: HttpCounters = { requests: 0, byStatus: {}, rejected: 0 }
  const errors = new ErrorWindow(10_000)
  let inputEnded = false
  let ended = false
  let startedMs: number | undefined
  let firstPts: number | undefined

  let restoredInit: Uint8Array | undefined
  let restoredVideo: PlaylistInputs['video']
  let restoredRate: FrameRate | undefined
  // The DASH anchor and Periods (persisted with --out-dir: the MPD must come back with the window).
  let dashAnchor: PlaylistInputs['dashAnchor']
  let dashPeriods: DashPeriodState[] = []
  if (o.outDir) restore(o.outDir)
  // Numbering goes on after what was published before a restart (see Segmenter resumeAfter).
  const core = new PackagerCore({ segmentSeconds: o.segmentSeconds, rate: o.rate, cmaf, now, resumeAfter: store.latest()?.number })
  const initSegment = () => core.initSegment ?? restoredInit

  /** Low-latency responses streaming the open segment: woken after every ingest push. */
  const live = new Set<() => void>()
  const wakeLive = () => {
    for (const w of [...live]) w()
  }

  let discontinuitySequence = 0
  let published = 0
  let dayStartMs: number | undefined
  /** The last playlist text of each kind that could be built, served should a build fail. */
  const lastGood = new Map<PlaylistKind, string>()

  /**
   * DASH: the first whole segment on the grid anchors the MPD (AST, Period 0). A later segment
   * whose first PTS is not where the current Period puts its number (a restart, a PTS jump, a
   * short segment before it) starts a new Period, so number n always maps to its own media time.
   */
  function trackDash(s: PublishedSegment): void {
    const rate = core.rate ?? restoredRate
    if (!s.cmaf || !rate) return
    const D = segmentFramesOf(o.segmentSeconds, rate)
    const ticks = segmentTicksOf(o.segmentSeconds, rate)
    const segmentMs = (ticks * 1000) / 90000
    const current = dashPeriods.at(-1)
    const onGrid = s.firstFrameIndex % D === 0
    if (!dashAnchor || !current) {
      if (!onGrid) return
      dashAnchor = { number: s.number, startPtsTicks: s.startPtsTicks, availableAtMs: s.availableAtMs }
      dashPeriods = [{ id: '0', startNumber: s.number, startTicks: s.startPtsTicks, startMs: 0, lastNumber: s.number }]
      return
    }
    const expectedTicks = current.startTicks + (s.number - current.startNumber) * ticks
    const frameTicks = (90000 * rate.den) / rate.num
    if (Math.abs(s.startPtsTicks - expectedTicks) <= frameTicks / 2 || !onGrid) {
      dashPeriods[dashPeriods.length - 1] = { ...current, lastNumber: s.number }
      return
    }
    const ast = Math.ceil(dashAnchor.availableAtMs - segmentMs)
    const endOfCurrent = current.startMs + (current.lastNumber - current.startNumber + 1) * segmentMs
    const startMs = Math.round(Math.max(endOfCurrent, s.availableAtMs - segmentMs - ast))
    dashPeriods[dashPeriods.length - 1] = { ...current, durationMs: startMs - current.startMs }
    dashPeriods.push({ id: String(Number(current.id) + 1), startNumber: s.number, startTicks: s.startPtsTicks, startMs, lastNumber: s.number })
    // Periods are dropped once all their segments have left the window (the last one stays).
    const oldest = store.list()[0]?.number ?? s.number
    dashPeriods = dashPeriods.filter((p, i) => i === dashPeriods.length - 1 || p.lastNumber >= oldest)
  }

  function publish(s: PublishedSegment): void {
    const before = store.latest()
    const gone = store.add(s)
    if (store.latest() === before) {
      const r = errors.record('ERR_SEGMENT_ORDER')
      if (r) log.warn('segment refused: its number does not come after the latest published', { sn: s.number, latest: before?.number, total: r.total })
      return
    }
    const dashBefore = JSON.stringify([dashAnchor, dashPeriods])
    published++
    trackDash(s)
    if (o.outDir && JSON.stringify([dashAnchor, dashPeriods]) !== dashBefore) persistDash(o.outDir)
    const rate = core.rate ?? restoredRate
    if (dayStartMs === undefined && rate) dayStartMs = nearestDayStartMs(s, rate, o.segmentSeconds)
    discontinuitySequence = nextDiscontinuitySequence(discontinuitySequence, gone)
    for (const g of gone) if (o.outDir) forget(o.outDir, g.number)
    if (o.outDir) persist(o.outDir, s)
    log.info('segment published', { sn: s.number, frames: s.frames, durationMs: s.durationMs, mqa: s.quality.video?.score, min: s.quality.video?.min, errors: s.quality.errors, discontinuity: s.discontinuity })
  }

  const ingest = openIngest(o.input, { maxQueuedBytes: o.maxQueuedBytes, onBufferNotice: (n) => log[n.level](n.message, { code: 'ERR_UDP_BUFFER' }) })
  let reportedDrops = 0
  /** Ingest errors as they happen, logged once per window by code (a live input never ends). */
  function reportIngestErrors(): void {
    for (const restart of core.segmenter?.takeRestarts() ?? []) {
      // Rare (each one moves every later number on by S), but an input that keeps jumping about
      // must not flood the log: once per window, as the ingest errors below.
      const r = errors.record('ERR_TIMECODE_RESTART')
      if (!r) continue
      const rate = core.rate!
      const tc = (i: number) => formatTimecode(frameIndexToTimecode(i, rate, supportsDropFrame(rate)))
      log.warn('input timecode went back (an encoder or source restart, or a stray timecode): a new epoch, segment numbers go on S higher', {
        from: tc(restart.fromFrameIndex),
        to: tc(restart.toFrameIndex),
        source: restart.fromTimecode ? 'tc' : 'pts',
        epoch: restart.epoch,
        total: r.total,
        suppressed: r.suppressed,
      })
    }
    for (const e of core.errors.splice(0)) {
      const r = errors.record(e.code)
      if (r) log.warn('ingest error', { code: e.code, message: e.message, total: r.total, suppressed: r.suppressed })
    }
    const drops = ingest.dropped.datagrams
    if (drops > reportedDrops) {
      let r: ReturnType<ErrorWindow['record']>
      for (; reportedDrops < drops; reportedDrops++) r = errors.record('ERR_INGEST_OVERFLOW') ?? r
      if (r) log.warn('input datagrams dropped: the packager is behind by its whole queue', { code: 'ERR_INGEST_OVERFLOW', total: r.total, suppressed: r.suppressed, bytes: ingest.dropped.bytes })
    }
  }
  const dropTimer = setInterval(reportIngestErrors, 1000)
  dropTimer.unref()
  const inputDone = (async () => {
    try {
      for await (const chunk of ingest.chunks()) {
        for (const s of core.push(chunk)) publish(s)
        reportIngestErrors()
        if (live.size) wakeLive()
        if (o.inputRate === 'realtime' && ingest.kind === 'file') await pace()
      }
      for (const s of core.flush()) publish(s)
      ended = true
      wakeLive()
    } catch (err) {
      log.error('input failed', { error: (err as Error).message })
    } finally {
      inputEnded = true
      reportIngestErrors()
    }
  })()

  /** A file input is read no faster than its media time. */
  async function pace(): Promise<void> {
    const pts = core.segmenter?.open?.frames.at(-1)?.sample.ptsTicks
    if (pts === undefined) return
    if (startedMs === undefined || firstPts === undefined) {
      startedMs = performance.now()
      firstPts = pts
      return
    }
    const ahead = (pts - firstPts) / 90 - (performance.now() - startedMs)
    if (ahead > 5) await new Promise((resolve) => setTimeout(resolve, Math.min(ahead, 2000)))
  }

  function playlistInputs(): PlaylistInputs | undefined {
    const rate = core.rate ?? restoredRate
    const segments = store.list()
    if (!rate || segments.length === 0) return undefined
    dayStartMs ??= nearestDayStartMs(segments[0]!, rate, o.segmentSeconds)
    return {
      segments,
      rate,
      segmentSeconds: o.segmentSeconds,
      window: o.window,
      ended: ended && !o.lowLatency,
      codec: core.codec ?? 'h264',
      hasInit: initSegment() !== undefined,
      discontinuitySequence,
      video: core.videoTrack ?? restoredVideo,
      dashAnchor,
      dashPeriods,
      dayStartMs,
      nowMs: now(),
      openSegment: o.lowLatency && !ended ? (core.openSegmentBytes()?.number ?? segments.at(-1)!.number + 1) : undefined,
    }
  }

  function segmentReply(n: number, format: 'ts' | 'cmaf', startMs: number): Reply {
    const s = store.get(n)
    const body = s ? (format === 'ts' ? s.ts : s.cmaf) : undefined
    if (!s || !body) return { status: 404, headers: { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache' }, body: `segment ${n} is not in the window\n` }
    const cmsd = segmentCmsd({
      // The CMAF rendition is video only (see docs/packager.md): its `ot` is v whatever the input has.
      segment: { durationMs: s.durationMs, availableAtMs: s.availableAtMs, hasAudio: format === 'ts' && s.hasAudio, bytes: body.length },
      quality: s.quality,
      format: format === 'ts' ? CmsdStreamingFormat.HLS : CmsdStreamingFormat.DASH,
      node: o.name,
      responseDelayMs: performance.now() - startMs,
    })
    return { status: 200, headers: { 'Content-Type': format === 'ts' ? TYPES.ts : TYPES.m4s, 'Cache-Control': SEGMENT_CACHE, 'CMSD-Static': cmsd.static, 'CMSD-Dynamic': cmsd.dynamic }, body }
  }

  /**
   * Low latency: the segment being built, sent with chunked transfer as its bytes arrive. Its own
   * scores are not known yet, so its CMSD carries the previous segment's (sn = n − 1).
   */
  function openSegmentReply(n: number, startMs: number): Reply {
    const prev = store.before(n)
    const cmsd = segmentCmsd({
      segment: { durationMs: o.segmentSeconds * 1000, availableAtMs: now(), hasAudio: prev?.hasAudio ?? false, bytes: prev?.ts.length ?? 0 },
      quality: prev?.quality,
      format: CmsdStreamingFormat.HLS,
      node: o.name,
      responseDelayMs: performance.now() - startMs,
    })
    async function* chunks(): AsyncIterable<Uint8Array> {
      let first = core.openSegmentBytes()
      if (!first || first.number !== n) return
      yield first.bytes
      let next = first.next
      const deadline = performance.now() + o.segmentSeconds * 3000
      for (;;) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            live.delete(wake)
            resolve()
          }
          live.add(wake)
          setTimeout(wake, 1000)
        })
        const published = store.get(n)
        if (published) {
          // Closed: send what remains of it (its bytes past what was streamed, PAT/PMT excluded).
          const offset = published.psiBytes + (next - published.tsStart)
          if (offset < published.ts.length) yield published.ts.subarray(offset)
          return
        }
        const more = core.openSegmentBytes(next)
        if (!more || more.number !== n) return
        if (more.bytes.length) yield more.bytes
        next = more.next
        if (performance.now() > deadline || inputEnded) return
        first = undefined
      }
    }
    return { status: 200, headers: { 'Content-Type': TYPES.ts, 'Cache-Control': 'no-cache', 'CMSD-Static': cmsd.static, 'CMSD-Dynamic': cmsd.dynamic }, stream: chunks() }
  }

  /**
   * LL-HLS blocking reload (RFC 8216bis §6.2.5.2) of the TS playlist: `_HLS_msn=M` waits until
   * segment M is published (parts are whole segments here, so `_HLS_part` adds nothing), at most
   * three target durations; M more than two past the newest is a 400, as the RFC says.
   */
  async function blockingReload(path: string, query: URLSearchParams): Promise<Reply> {
    const msnText = query.get('_HLS_msn')
    if (msnText === null || !/^\d{1,15}$/.test(msnText) || (query.has('_HLS_part') && !/^\d{1,6}$/.test(query.get('_HLS_part')!))) {
      return { status: 400, headers: { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' }, body: '_HLS_msn must be a segment number (and _HLS_part a part index)\n' }
    }
    const msn = Number(msnText)
    const newest = () => store.latest()?.number ?? -1
    if (newest() >= 0 && msn > newest() + 2) return { status: 400, headers: { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' }, body: `_HLS_msn ${msn} is more than two segments past the newest (${newest()})\n` }
    const deadline = performance.now() + 3 * o.segmentSeconds * 1000
    while (newest() < msn && !ended) {
      const left = deadline - performance.now()
      if (left <= 0) return { status: 503, headers: { 'Content-Type': 'text/plain', 'Retry-After': '1', 'Cache-Control': 'no-store' }, body: `segment ${msn} did not come within three target durations\n` }
      await new Promise<void>((resolve) => {
        const wake = () => {
          live.delete(wake)
          clearTimeout(timer)
          resolve()
        }
        const timer = setTimeout(wake, Math.min(left, 1000))
        live.add(wake)
      })
    }
    return handler(path)
  }

  const handle = (path: string, req: IncomingMessage): Reply | Promise<Reply> => {
    if (o.lowLatency && path === '/hls/index.m3u8' && req.url?.includes('_HLS_')) {
      const query = new URL(req.url, 'http://localhost').searchParams
      if (query.has('_HLS_msn') || query.has('_HLS_part')) return blockingReload(path, query)
    }
    return handler(path)
  }

  const handler = (path: string): Reply => {
    const startMs = performance.now()
    let m: RegExpExecArray | null
    // Only a number's canonical name (no leading zeros): one name per segment, so caches and the
    // origin never hold two copies, and /hls/03.ts is a 404 like any unknown path.
    if ((m = /^\/hls\/(0|[1-9]\d{0,14})\.ts$/.exec(path))) {
      const n = Number(m[1])
      if (o.lowLatency && !store.get(n) && core.openSegmentBytes()?.number === n) return openSegmentReply(n, startMs)
      return segmentReply(n, 'ts', startMs)
    }
    if ((m = /^\/cmaf\/(0|[1-9]\d{0,14})\.m4s$/.exec(path))) return segmentReply(Number(m[1]), 'cmaf', startMs)
    if (path === '/cmaf/init.mp4') {
      const init = initSegment()
      return init ? { status: 200, headers: { 'Content-Type': TYPES.mp4, 'Cache-Control': 'no-cache' }, body: init } : notYet()
    }
    if (path === '/hls/index.m3u8' || path === '/hls/cmaf.m3u8' || path === '/dash/manifest.mpd') {
      const inputs = playlistInputs()
      if (!inputs) return notYet()
      const kind = path === '/hls/index.m3u8' ? 'hls-ts' : path === '/hls/cmaf.m3u8' ? 'hls-cmaf' : 'dash'
      if (kind !== 'hls-ts' && !inputs.hasInit) return notYet()
      let body: string | undefined
      try {
        body = renderPlaylist(kind, inputs, { timeUrl: '/api/time' })
        if (body !== undefined) lastGood.set(kind, body)
      } catch (err) {
        // A playlist that cannot be built is a bug to report, never a 500 for ever after: the
        // last good one is served meanwhile (its segments are still in the window or 404 cleanly).
        const r = errors.record('ERR_PLAYLIST')
        if (r) log.error('cannot build a playlist', { kind, error: (err as Error).message, total: r.total })
        body = lastGood.get(kind)
      }
      if (body === undefined) return notYet()
      return { status: 200, headers: { 'Content-Type': kind === 'dash' ? TYPES.mpd : TYPES.m3u8, 'Cache-Control': PLAYLIST_CACHE }, body }
    }
    if (path === '/api/time') return { status: 200, headers: { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' }, body: new Date(now()).toISOString() }
    if (path === '/api/status') return { status: 200, headers: { 'Content-Type': TYPES.json, 'Cache-Control': 'no-store' }, body: JSON.stringify(status(), null, 1) }
    if (path === '/metrics') return { status: 200, headers: { 'Content-Type': TYPES.text, 'Cache-Control': 'no-store' }, body: metrics() }
    return { status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'not found\n' }
  }

  function notYet(): Reply {
    return { status: 503, headers: { 'Content-Type': 'text/plain', 'Retry-After': '1', 'Cache-Control': 'no-store' }, body: 'no segment published yet\n' }
  }

  function status(): PackagerStatus {
    return {
      node: o.name,
      input: o.input,
      inputEnded,
      ingest: core.ingest,
      ingestDropped: { ...ingest.dropped },
      segmenter: core.segmenter ? { ...core.segmenter.stats, epoch: core.segmenter.epoch, refusedSegments: store.refused } : undefined,
      http: counters,
      window: store.list().map((s) => ({
        number: s.number,
        durationMs: s.durationMs,
        frames: s.frames,
        discontinuity: s.discontinuity,
        mqa: s.quality.video?.score,
        min: s.quality.video?.min,
        psnr: s.quality.psnrDb,
        ssim: s.quality.ssimPercent,
        errors: s.quality.errors,
        availableAtMs: s.availableAtMs,
      })),
    }
  }

  function metrics(): string {
    const node = JSON.stringify(o.name)
    const lines: string[] = []
    // Gauges with at most 3 decimals, as the wire format carries them (not 46.92821999999998).
    const gauge = (name: string, help: string, value: number | undefined, labels = '') => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`)
      if (value !== undefined) lines.push(`${name}{node=${node}${labels}} ${Math.round(value * 1000) / 1000}`)
    }
    const counter = (name: string, help: string, value: number) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name}{node=${node}} ${value}`)
    }
    const latest = store.latest()
    gauge('mqa_segment_video_score', 'MQA-VIDEO mean of the latest segment', latest?.quality.video?.score)
    gauge('mqa_segment_video_min', 'worst frame MQA-VIDEO of the latest segment', latest?.quality.video?.min)
    gauge('mqa_segment_psnr_db', 'mean PSNR of the latest segment, dB', latest?.quality.psnrDb)
    gauge('mqa_segment_ssim_percent', 'mean SSIM x100 of the latest segment', latest?.quality.ssimPercent)
    gauge('mqa_segment_errors', 'input errors and missing frames in the latest segment', latest?.quality.errors)
    gauge('mqa_segment_number', 'number of the latest segment', latest?.number)
    lines.push('# HELP mqa_ingest_bytes_total bytes read from the input', '# TYPE mqa_ingest_bytes_total counter', `mqa_ingest_bytes_total{node=${node}} ${core.ingest.bytes}`)
    lines.push('# HELP mqa_ingest_errors_total ingest errors by code', '# TYPE mqa_ingest_errors_total counter')
    for (const [code, n] of Object.entries(core.ingest.errors)) lines.push(`mqa_ingest_errors_total{node=${node},code=${JSON.stringify(code)}} ${n}`)
    counter('mqa_ingest_dropped_datagrams_total', 'UDP datagrams dropped because the packager was behind by its whole queue', ingest.dropped.datagrams)
    counter('mqa_ingest_dropped_bytes_total', 'bytes of the dropped UDP datagrams', ingest.dropped.bytes)
    const seg = core.segmenter?.stats
    counter('mqa_segmenter_frames_total', 'video access units read', seg?.frames ?? 0)
    counter('mqa_segmenter_frames_without_record_total', 'frames without an MQA frame record (unmeasured)', seg?.framesWithoutRecord ?? 0)
    counter('mqa_segmenter_frames_dropped_total', 'frames that could not start a segment (before the first boundary IDR, after a lost one)', seg?.framesDropped ?? 0)
    counter('mqa_segmenter_sei_errors_total', 'damaged SEI messages or payloads', seg?.seiErrors ?? 0)
    counter('mqa_segmenter_discontinuities_total', 'segments that do not continue the one before', seg?.discontinuities ?? 0)
    counter('mqa_segmenter_midnight_wraps_total', 'timecode wraps at midnight', seg?.midnightWraps ?? 0)
    counter('mqa_segmenter_restarts_total', 'timecode going back other than at midnight (a new epoch)', seg?.restarts ?? 0)
    counter('mqa_segments_published_total', 'segments published since the packager started', published)
    counter('mqa_segments_refused_total', 'segments refused: number not after the latest', store.refused)
    lines.push('# HELP mqa_http_requests_total requests by status', '# TYPE mqa_http_requests_total counter')
    for (const [code, n] of Object.entries(counters.byStatus)) lines.push(`mqa_http_requests_total{node=${node},status="${code}"} ${n}`)
    lines.push('# HELP mqa_http_rejected_total malformed or refused requests', '# TYPE mqa_http_rejected_total counter', `mqa_http_rejected_total{node=${node}} ${counters.rejected}`)
    return `${lines.join('\n')}\n`
  }

  function persist(dir: string, s: PublishedSegment): void {
    try {
      mkdirSync(dir, { recursive: true })
      const write = (name: string, data: Uint8Array | string) => {
        writeFileSync(join(dir, `${name}.tmp`), data)
        renameSync(join(dir, `${name}.tmp`), join(dir, name))
      }
      if (core.rate && !existsSync(join(dir, 'stream.json'))) write('stream.json', JSON.stringify({ rate: core.rate, codec: core.codec }))
      write(`${s.number}.ts`, s.ts)
      if (s.cmaf) write(`${s.number}.m4s`, s.cmaf)
      const init = core.initSegment
      if (init && core.videoTrack && !existsSync(join(dir, 'init.json'))) {
        write('init.mp4', init)
        write('init.json', JSON.stringify(core.videoTrack))
      }
      const { ts: _ts, cmaf: _cmaf, ...meta } = s
      write(`${s.number}.json`, JSON.stringify(meta))
    } catch (err) {
      const r = errors.record('ERR_OUT_DIR')
      if (r) log.warn('cannot write segment to --out-dir', { error: (err as Error).message })
    }
  }

  function persistDash(dir: string): void {
    try {
      mkdirSync(dir, { recursive: true })
      writeFileSync(join(dir, 'dash.json.tmp'), JSON.stringify({ anchor: dashAnchor, periods: dashPeriods }))
      renameSync(join(dir, 'dash.json.tmp'), join(dir, 'dash.json'))
    } catch (err) {
      const r = errors.record('ERR_OUT_DIR')
      if (r) log.warn('cannot write the DASH anchor to --out-dir', { error: (err as Error).message })
    }
  }

  function forget(dir: string, n: number): void {
    for (const ext of ['ts', 'm4s', 'json']) {
      try {
        unlinkSync(join(dir, `${n}.${ext}`))
      } catch {
        // already gone
      }
    }
  }

  function restore(dir: string): void {
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch {
      return
    }
    const numbers = names
      .map((f) => /^(\d+)\.json$/.exec(f)?.[1])
      .filter((x): x is string => x !== undefined)
      .map(Number)
      .sort((a, b) => a - b)
      .slice(-o.window)
    for (const n of numbers) {
      try {
        const meta = JSON.parse(readFileSync(join(dir, `${n}.json`), 'utf8')) as Omit<PublishedSegment, 'ts' | 'cmaf'>
        if (meta.number !== n || !(meta.durationMs > 0) || !Number.isSafeInteger(meta.firstFrameIndex) || !Number.isSafeInteger(meta.startPtsTicks)) {
          throw new Error(`${n}.json does not describe segment ${n}`)
        }
        const ts = new Uint8Array(readFileSync(join(dir, `${n}.ts`)))
        const cmaf = existsSync(join(dir, `${n}.m4s`)) ? new Uint8Array(readFileSync(join(dir, `${n}.m4s`))) : undefined
        store.add({ ...meta, ts, cmaf })
      } catch (err) {
        log.warn('cannot restore a segment from --out-dir', { sn: n, error: (err as Error).message })
      }
    }
    try {
      restoredRate = (JSON.parse(readFileSync(join(dir, 'stream.json'), 'utf8')) as { rate: FrameRate }).rate
    } catch {
      // nothing published there yet
    }
    try {
      restoredInit = new Uint8Array(readFileSync(join(dir, 'init.mp4')))
      restoredVideo = JSON.parse(readFileSync(join(dir, 'init.json'), 'utf8')) as PlaylistInputs['video']
    } catch {
      // no CMAF yet: the next segments make it
    }
    try {
      const dash = JSON.parse(readFileSync(join(dir, 'dash.json'), 'utf8')) as { anchor?: PlaylistInputs['dashAnchor']; periods?: DashPeriodState[] }
      const oldest = store.list()[0]?.number
      if (dash.anchor && Array.isArray(dash.periods) && dash.periods.length > 0 && oldest !== undefined) {
        dashAnchor = dash.anchor
        dashPeriods = dash.periods.filter((p, i, all) => i === all.length - 1 || p.lastNumber >= oldest)
      }
    } catch {
      // no DASH anchor saved (no whole CMAF segment yet): the next one makes it
    }
    if (numbers.length) log.info('restored segments from --out-dir', { count: numbers.length, first: numbers[0], last: numbers.at(-1) })
  }

  let server: Server
  try {
    server = await startHttp({ host: o.host, port: o.port, handler: handle, logger: log, counters })
  } catch (err) {
    clearInterval(dropTimer)
    await ingest.close() // nothing may keep running for a service that never started
    throw err
  }
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : o.port
  return {
    url: `http://${o.host}:${port}`,
    server,
    inputDone,
    status,
    async close() {
      clearInterval(dropTimer)
      await ingest.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
