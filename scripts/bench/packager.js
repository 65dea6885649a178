#!/usr/bin/env node
/**
 * Benchmark: the packager (`mqa package`), in one run:
 *
 *   1. ingest: the pure core (`PackagerCore`) fed a whole 5 Mb/s MPEG-TS file at full speed on one
 *      core, in 1316-byte chunks (one UDP datagram) and in 65424-byte chunks (what the file ingest
 *      reads), against the floor of walking the same packets and copying them once;
 *   2. HTTP: segment GETs per second, with CMSD headers, from the packager's own server (a child
 *      process, segments in memory) against nginx serving the same segment files (page cache),
 *      one worker and `auto`, with wrk, interleaved;
 *   3. memory: RSS of a packager child process after ingesting the file with window 1 and 30,
 *      and the RSS a 1-hour window (1800 segments of 2 s) works out to.
 *
 * See scripts/bench/README.md.
 *
 *   node scripts/bench/packager.js [--quick] [--check] [--reps N] [--http-reps N] [--seconds N] [--one-url] [--regenerate]
 *
 * Input (cached under .bench/): `mqa encode` of lavfi testsrc2 720p25 with temporal noise at
 * 5 Mb/s, GOP 2 s, wallclock timecode, so every access unit carries an MQA SEI and every segment
 * has MQA scores for its CMSD. Only 127.0.0.1 is ever a target.
 */
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { positiveInt, readBenchFlags } from '../lib/bench-flags.js'

const SELF = fileURLToPath(import.meta.url)
const REPO_ROOT = path.resolve(path.dirname(SELF), '../..')
const CLI = path.join(REPO_ROOT, 'packages/cli/dist/main.js')
const PACKAGER_DIST = path.join(REPO_ROOT, 'packages/packager/dist/index.js')
/** Not re-exported from the package index; the service plugs the same writer into the core. */
const CMAF_WRITER_DIST = path.join(REPO_ROOT, 'packages/packager/dist/cmaf/writer.js')
const CACHE_DIR = path.join(REPO_ROOT, '.bench')
const HOST = '127.0.0.1'
/** USER_HZ: /proc reports CPU time in these ticks; 100 on every Linux build that matters. */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100

/** The issue's targets. */
const TARGETS = { realtimeMultiple: 100, vsNginx: 0.5 }
const FPS = 25
const SEGMENT_SECONDS = 2
const BITRATE = '5M'
/** One UDP datagram of MPEG-TS: seven 188-byte packets. */
const UDP_CHUNK = 188 * 7
/** What the packager's file ingest reads at a time (createReadStream highWaterMark 188·348, ~64 KB). */
const FILE_CHUNK = 188 * 348
/** wrk: one thread, 32 connections (the other core is the server's). */
const WRK_CONNECTIONS = 32
/** Segments a 1-hour window holds. */
const HOUR_SEGMENTS = 3600 / SEGMENT_SECONDS
/** Window of the memory measurement (the issue's default live window is shorter; 30 = 1 minute). */
const MEMORY_WINDOW = 30

/** The flag table: parseArgs reads `type` and `default`, --help prints `description` (not `hidden`). */
const FLAGS = /** @type {const} */ ({
  quick: { type: 'boolean', default: false, description: '12 s input, 3 ingest reps, 1 HTTP rep of 3 s (CI smoke)' },
  check: { type: 'boolean', default: false, description: 'exit non-zero when a target is missed' },
  reps: { type: 'string', default: '7', description: 'timed ingest repetitions of each variant' },
  'http-reps': { type: 'string', default: '3', description: 'wrk runs against each server' },
  seconds: { type: 'string', default: '10', description: 'length of each wrk run, s' },
  'one-url': { type: 'boolean', default: false, description: 'wrk hits one segment URL instead of rotating over all full segments' },
  regenerate: { type: 'boolean', default: false, description: 'rebuild the cached input in .bench/' },
  help: { type: 'boolean', default: false, description: 'print this help' },
  child: { type: 'string', default: '', description: 'internal: run as the packager child process', hidden: true },
})

const flags = readBenchFlags('packager.js', FLAGS)
if (flags?.child) await child(JSON.parse(flags.child))
else if (flags) await main()

async function main() {
  const quick = flags.quick
  const reps = quick ? 3 : positiveInt('reps', flags.reps)
  const httpReps = quick ? 1 : positiveInt('http-reps', flags['http-reps'])
  const wrkSeconds = quick ? 3 : positiveInt('seconds', flags.seconds)
  for (const f of [CLI, PACKAGER_DIST, CMAF_WRITER_DIST]) {
    if (!existsSync(f)) throw new Error(`${path.relative(REPO_ROOT, f)} is missing: build first with \`pnpm -s build\``)
  }
  const frames = quick ? 300 : 1500
  const file = await prepareInput(frames, flags.regenerate)
  const buf = readFileSync(file)
  const packager = await import(PACKAGER_DIST)
  const { createCmafWriter } = await import(CMAF_WRITER_DIST)
  const input = verifyInput(packager, buf)

  const cpus = os.cpus()
  console.log('\nPackager: ingest, segment GETs with CMSD vs nginx, memory per window')
  console.log(`node ${process.version}, ${os.platform()} ${os.arch()}, ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB; ${toolVersions()}`)
  console.log(
    `input ${path.relative(REPO_ROOT, file)}: ${mb(buf.length)} MB, ${input.mediaSeconds.toFixed(1)} s, ${((buf.length * 8) / input.mediaSeconds / 1e6).toFixed(2)} Mb/s, ` +
      `${input.frames} frames, ${input.segments.length} segments of ${SEGMENT_SECONDS} s (${input.full.length} full, MQA scores in each), ` +
      `full TS segment ${mb(input.meanFullTsBytes)} MB on average`,
  )
  if (input.warnings.length) for (const w of input.warnings) console.log(`note: ${w}`)

  console.log(`\n1. Ingest on one core, whole file in memory; ${reps} repetitions, interleaved; MB/s = 10^6 B/s`)
  const ingest = runIngest(makeIngestVariants(packager, createCmafWriter, input), buf, reps)
  const ingestPass = printIngest(ingest, buf.length, input.mediaSeconds)

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mqa-bench-packager-'))
  /** @type {Array<() => Promise<void>>} */
  const cleanups = []
  try {
    console.log(`\n2. Segment GETs: wrk -t1 -c${WRK_CONNECTIONS} -d${wrkSeconds}s --latency, ${flags['one-url'] ? 'one segment URL' : 'rotating over the full segments'}; ${httpReps} run(s) each, interleaved`)
    const http = await runHttp(file, tmp, cleanups, { reps: httpReps, seconds: wrkSeconds, oneUrl: flags['one-url'] })
    const httpPass = printHttp(http)

    console.log(`\n3. Memory: packager child process (startPackager, inputRate max), after ingesting the file and a GC`)
    const memory = await runMemory(file, input, http.served)
    printMemory(memory, input)

    printSummary({ ingest, ingestPass, http, httpPass, memory, input, bytes: buf.length })
    if (flags.check && !(ingestPass && httpPass)) process.exitCode = 1
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err) => console.error(`cleanup: ${err.message}`))
    rmSync(tmp, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------
// Input

/**
 * The MPEG-TS file, made with the real encoder (so every access unit has an MQA SEI) when missing.
 * @param {number} frames
 * @param {boolean} regenerate
 */
async function prepareInput(frames, regenerate) {
  mkdirSync(CACHE_DIR, { recursive: true })
  const seconds = frames / FPS
  const file = path.join(CACHE_DIR, seconds === 60 ? 'pkg-5mbps.ts' : `pkg-5mbps-${seconds}s.ts`)
  if (regenerate) rmSync(file, { force: true })
  if (existsSync(file)) return file
  // The encoder picks the container from the extension: the temporary name ends in .ts too.
  const tmp = `${file}.tmp.ts`
  const args = [
    CLI, 'encode', '-i', `lavfi:testsrc2=size=1280x720:rate=${FPS},noise=alls=8:allf=t`, '-o', tmp,
    '--bitrate', BITRATE, '--frames', String(frames), '--timecode', 'wallclock', '--gop-seconds', String(SEGMENT_SECONDS), '--segment-seconds', String(SEGMENT_SECONDS),
  ]
  console.log(`encoding ${seconds} s of 720p${FPS} at ${BITRATE}b/s with mqa encode (cached in .bench/, about 1 s per second of video) ...`)
  const t0 = performance.now()
  const r = await run(process.execPath, args)
  if (r.code !== 0 || !existsSync(tmp)) {
    rmSync(tmp, { force: true })
    throw new Error(`mqa encode failed making the benchmark input (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-5).join('\n')}`)
  }
  renameSync(tmp, file)
  console.log(`encoded ${path.relative(REPO_ROOT, file)} (${ms(performance.now() - t0)})`)
  return file
}

/**
 * @typedef {import('../../packages/packager/dist/index.js').PublishedSegment} Segment
 * @typedef {{ frames: number, mediaSeconds: number, segments: Segment[], full: Segment[], fullFrames: number, meanFullTsBytes: number, warnings: string[] }} Input
 */

/**
 * One untimed pass through the core: counts to check the timed runs against, and a check that
 * every full segment has MQA scores for all its frames (else the input is not the encoder's).
 * @param {typeof import('../../packages/packager/dist/index.js')} packager
 * @param {Buffer} buf
 * @returns {Input}
 */
function verifyInput(packager, buf) {
  const core = new packager.PackagerCore({ segmentSeconds: SEGMENT_SECONDS })
  /** @type {Segment[]} */
  const segments = []
  for (let p = 0; p < buf.length; p += FILE_CHUNK) segments.push(...core.push(buf.subarray(p, p + FILE_CHUNK)))
  segments.push(...core.flush())
  const rate = core.rate
  if (!rate || segments.length === 0) throw new Error('the packager published no segments from the input: delete .bench/ or pass --regenerate')
  const errors = Object.entries(core.ingest.errors)
  if (errors.length) throw new Error(`ingest errors on the benchmark input: ${JSON.stringify(core.ingest.errors)}`)
  const fullFrames = Math.round((SEGMENT_SECONDS * rate.num) / rate.den)
  const full = segments.filter((s) => s.frames === fullFrames)
  for (const s of full) {
    if (s.quality.video?.frames !== s.frames) throw new Error(`segment ${s.number} has MQA scores for ${s.quality.video?.frames ?? 0} of ${s.frames} frames: delete .bench/ or pass --regenerate`)
  }
  const frames = core.ingest.videoFrames
  /** @type {string[]} */
  const warnings = []
  // Bytes a segment should hold: its stream range plus PAT+PMT. A shortfall is the core's, not the input's.
  segments.forEach((s, i) => {
    const next = segments[i + 1]
    const want = (next ? next.tsStart : buf.length) - s.tsStart + s.psiBytes
    if (s.ts.length < want) warnings.push(`segment ${s.number} (${s.frames} frames) has ${s.ts.length} of the ${want} bytes its stream range holds (PackagerCore keeps only the last 131,600 raw bytes until its segmenter starts: at the 1st video frame with a known frame rate, the 6th without)`)
  })
  return {
    frames,
    mediaSeconds: (frames * rate.den) / rate.num,
    segments,
    full,
    fullFrames,
    meanFullTsBytes: mean(full.map((s) => s.ts.length)),
    warnings,
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Ingest

/**
 * @typedef {object} IngestVariant
 * @property {string} name
 * @property {string} label
 * @property {boolean} target  whether the ≥ 100× real-time target applies
 * @property {(buf: Buffer) => number} run  returns a count, checked afterwards
 * @property {number} want  the count every run must return
 */

/**
 * @param {typeof import('../../packages/packager/dist/index.js')} packager
 * @param {typeof import('../../packages/packager/dist/cmaf/writer.js').createCmafWriter} createCmafWriter
 * @param {Input} input
 * @returns {IngestVariant[]}
 */
function makeIngestVariants(packager, createCmafWriter, input) {
  /** Segments published and frames seen, in one number: both must match every run. */
  const count = (/** @type {number} */ segments, /** @type {number} */ frames) => segments * 1e6 + frames
  const want = count(input.segments.length, input.frames)
  /** @param {number} chunk @param {boolean} cmaf */
  const core = (chunk, cmaf) => (/** @type {Buffer} */ buf) => {
    /** @type {import('../../packages/packager/dist/packager.js').CmafWriter | undefined} */
    let writer
    if (cmaf) {
      // As startPackager plugs it in: video only.
      const w = createCmafWriter()
      writer = { init: (s, codec, rate) => w.init(s, codec, rate, undefined), segment: (s, seq) => w.segment(s, seq) }
    }
    const c = new packager.PackagerCore({ segmentSeconds: SEGMENT_SECONDS, cmaf: writer })
    let segments = 0
    for (let p = 0; p < buf.length; p += chunk) segments += c.push(buf.subarray(p, p + chunk)).length
    segments += c.flush().length
    return count(segments, c.ingest.videoFrames)
  }
  // The floor: what any packager must do: look at every packet header and copy the bytes once
  // into the segment being built (a reused 4 MB buffer).
  const segmentBuffer = new Uint8Array(4 << 20)
  return [
    {
      name: 'floor',
      label: `floor: walk packets + copy once, ${UDP_CHUNK}-B chunks`,
      target: false,
      // No independent count to check it against: the warm-up run's count, the same every run.
      want: -1,
      run(buf) {
        let pusi = 0
        let o = 0
        for (let p = 0; p < buf.length; p += UDP_CHUNK) {
          const c = buf.subarray(p, p + UDP_CHUNK)
          for (let i = 0; i + 188 <= c.length; i += 188) {
            if (c[i] !== 0x47) throw new Error(`lost sync at byte ${p + i}`)
            if ((/** @type {number} */ (c[i + 1]) & 0x40) !== 0) pusi++
          }
          if (o + c.length > segmentBuffer.length) o = 0
          segmentBuffer.set(c, o)
          o += c.length
        }
        return pusi
      },
    },
    { name: 'udp', label: `PackagerCore, ${UDP_CHUNK}-B chunks (UDP)`, target: true, want, run: core(UDP_CHUNK, false) },
    { name: 'file', label: `PackagerCore, ${FILE_CHUNK}-B chunks (file)`, target: true, want, run: core(FILE_CHUNK, false) },
    { name: 'cmaf', label: `core + CMAF writer (as served), ${UDP_CHUNK}-B`, target: false, want, run: core(UDP_CHUNK, true) },
  ]
}

/**
 * @typedef {{ variant: IngestVariant, timesMs: number[] }} IngestResult
 */

/**
 * One untimed warm-up of each, then `reps` rounds, each running every variant once in an order
 * rotated per round.
 * @param {IngestVariant[]} variants
 * @param {Buffer} buf
 * @param {number} reps
 * @returns {IngestResult[]}
 */
function runIngest(variants, buf, reps) {
  const gc = typeof globalThis.gc === 'function' ? globalThis.gc : () => {}
  for (const v of variants) {
    const got = v.run(buf)
    if (v.want === -1) v.want = got
    else if (got !== v.want) throw new Error(`${v.label}: counted ${got}, want ${v.want}`)
  }
  const results = variants.map((variant) => ({ variant, timesMs: /** @type {number[]} */ ([]) }))
  for (let r = 0; r < reps; r++) {
    for (let k = 0; k < results.length; k++) {
      const res = /** @type {IngestResult} */ (results[(r + k) % results.length])
      gc()
      const t0 = performance.now()
      const got = res.variant.run(buf)
      res.timesMs.push(performance.now() - t0)
      if (got !== res.variant.want) throw new Error(`${res.variant.label}: counted ${got}, want ${res.variant.want}`)
    }
  }
  return results
}

/**
 * @param {IngestResult[]} results
 * @param {number} bytes
 * @param {number} mediaSeconds
 * @returns {boolean}
 */
function printIngest(results, bytes, mediaSeconds) {
  const widths = [44, 10, 8, 8, 8, 12, 12]
  const row = (/** @type {string[]} */ cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')
  console.log(row(['variant', 'median ms', 'min ms', 'MB/s', 'MB/s best', '× real time', 'vs floor']))
  const floor = results.find((r) => r.variant.name === 'floor')
  const floorMs = floor ? median(floor.timesMs) : NaN
  let pass = true
  for (const r of results) {
    const med = median(r.timesMs)
    const min = Math.min(...r.timesMs)
    const multiple = mediaSeconds / (med / 1000)
    if (r.variant.target && multiple < TARGETS.realtimeMultiple) pass = false
    console.log(row([r.variant.label, med.toFixed(1), min.toFixed(1), (bytes / 1e3 / med).toFixed(0), (bytes / 1e3 / min).toFixed(0), `${multiple.toFixed(0)}×`, r === floor ? '' : pct(floorMs / med)]))
  }
  const worst = Math.min(...results.filter((r) => r.variant.target).map((r) => mediaSeconds / (median(r.timesMs) / 1000)))
  console.log(`${pass ? 'PASS' : 'FAIL'}: PackagerCore ingests at ${worst.toFixed(0)}× real time at worst (median, both chunk sizes), target ≥ ${TARGETS.realtimeMultiple}×`)
  return pass
}

// ---------------------------------------------------------------------------------------------
// 2. HTTP

/**
 * @typedef {{ server: string, rps: number, p50Ms: number, p99Ms: number, maxMs: number, transferMBps: number, requests: number, errors: string, wallS: number, serverCpuS: number, serverUserS: number, wrkCpuS: number, machineBusy: number }} WrkResult
 * @typedef {{ url: string, numbers: number[], frames: number[], tsBytes: number[], cmafBytes: number[], initBytes: number, ingestMs: number, mem: Mem, ingest: { bytes: number, videoFrames: number } }} ChildReady
 * @typedef {{ rss: number, hwm: number, heapUsed: number, external: number, arrayBuffers: number }} Mem
 * @typedef {{ ready: ChildReady, memAfterLoad: Mem, cmsdStatic: string, cmsdDynamic: string }} Served
 */

/**
 * Start the packager child (window holding every segment), copy its segments to a directory,
 * start nginx on it (one worker and auto), then wrk each, interleaved.
 * @param {string} file
 * @param {string} tmp
 * @param {Array<() => Promise<void>>} cleanups
 * @param {{ reps: number, seconds: number, oneUrl: boolean }} o
 */
async function runHttp(file, tmp, cleanups, o) {
  const pkg = await startChild(file, 100_000)
  cleanups.push(pkg.stop)
  const ready = pkg.ready
  // Copy what the packager serves to files, checking the CMSD headers on the way.
  const www = path.join(tmp, 'www')
  mkdirSync(path.join(www, 'hls'), { recursive: true })
  let cmsdStatic = ''
  let cmsdDynamic = ''
  for (const n of ready.numbers) {
    const res = await fetch(`${ready.url}/hls/${n}.ts`)
    if (res.status !== 200) throw new Error(`packager: GET /hls/${n}.ts answered ${res.status}`)
    const s = res.headers.get('cmsd-static') ?? ''
    if (!/;sn=\d+/.test(s) || !s.includes('org.svta.mqa-video=')) throw new Error(`packager: /hls/${n}.ts has no CMSD-Static with sn and MQA keys: ${JSON.stringify(s)}`)
    if (!cmsdStatic && ready.frames[ready.numbers.indexOf(n)] === Math.max(...ready.frames)) {
      cmsdStatic = s
      cmsdDynamic = res.headers.get('cmsd-dynamic') ?? ''
    }
    writeFileSync(path.join(www, 'hls', `${n}.ts`), new Uint8Array(await res.arrayBuffer()))
  }
  // nginx workers run as an unprivileged user when the master is root: let them read.
  for (const d of [tmp, www, path.join(www, 'hls')]) chmodSync(d, 0o755)

  const fullFrames = Math.max(...ready.frames)
  const full = ready.numbers.filter((_, i) => ready.frames[i] === fullFrames)
  // One URL: the full segment of median size. Rotating: every full segment in turn.
  const sizeOf = (/** @type {number} */ n) => ready.tsBytes[ready.numbers.indexOf(n)] ?? 0
  const sortedBySize = [...full].sort((a, b) => sizeOf(a) - sizeOf(b))
  const paths = o.oneUrl ? [`/hls/${sortedBySize[sortedBySize.length >> 1]}.ts`] : full.map((n) => `/hls/${n}.ts`)
  const script = path.join(tmp, 'rotate.lua')
  writeFileSync(
    script,
    `-- rotate over the segment URLs, one Lua state per wrk thread\nlocal paths = { ${paths.map((p) => `"${p}"`).join(', ')} }\nlocal i = 0\n` +
      `request = function()\n  i = i % #paths + 1\n  return wrk.format("GET", paths[i])\nend\n`,
  )

  const nginx1 = await startNginx(tmp, 'one', 1, paths[0] ?? '/')
  cleanups.push(nginx1.stop)
  const nginxAuto = await startNginx(tmp, 'auto', 'auto', paths[0] ?? '/')
  cleanups.push(nginxAuto.stop)
  const servers = [
    { name: 'packager', label: 'packager (memory, CMSD)', base: ready.url, pids: () => [pkg.pid] },
    { name: 'nginx-1', label: 'nginx, 1 worker (sendfile)', base: nginx1.url, pids: nginx1.pids },
    { name: 'nginx-auto', label: `nginx, auto (${nginxAuto.workers} workers)`, base: nginxAuto.url, pids: nginxAuto.pids },
  ]
  // Warm-up: JIT, page cache, connection setup; not recorded.
  for (const s of servers) await wrk(s.name, s.base, script, Math.min(2, o.seconds), s.pids())
  /** @type {Record<string, WrkResult[]>} */
  const results = Object.fromEntries(servers.map((s) => [s.name, []]))
  for (let r = 0; r < o.reps; r++) {
    for (let k = 0; k < servers.length; k++) {
      const s = /** @type {(typeof servers)[number]} */ (servers[(r + k) % servers.length])
      const res = await wrk(s.name, s.base, script, o.seconds, s.pids())
      console.log(
        `  run ${r + 1} ${s.label.padEnd(28)} ${res.rps.toFixed(0).padStart(6)} req/s  p50 ${res.p50Ms.toFixed(1).padStart(5)} ms  p99 ${res.p99Ms.toFixed(1).padStart(5)} ms  ` +
          `${res.transferMBps.toFixed(0)} MB/s  CPU: server ${pct(res.serverCpuS / res.wallS)}, wrk ${pct(res.wrkCpuS / res.wallS)}, ` +
          `rest of the machine ${pct(res.machineBusy - (res.serverCpuS + res.wrkCpuS) / res.wallS)} (of ${os.cpus().length * 100}%)`,
      )
      const list = results[s.name] ?? []
      list.push(res)
      results[s.name] = list
    }
  }
  const memAfterLoad = await pkg.mem()
  return { servers, results, served: { ready, memAfterLoad, cmsdStatic, cmsdDynamic }, paths, meanBytes: mean(paths.map((p) => sizeOf(Number(/\d+/.exec(p)?.[0])))), nginxWorkersAuto: nginxAuto.workers }
}

/**
 * @param {Awaited<ReturnType<typeof runHttp>>} http
 * @returns {boolean}
 */
function printHttp(http) {
  const widths = [30, 7, 10, 8, 8, 7, 10, 10, 10, 10, 15, 14]
  const row = (/** @type {string[]} */ cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')
  console.log(`\n${row(['server', 'req/s', 'vs nginx-1', 'p50 ms', 'p99 ms', 'max ms', 'MB/s', 'server CPU', 'wrk CPU', 'µs CPU/req', '(user + sys)', 'req/CPU-s (vs)'])}`)
  const ref = httpStat(http, 'nginx-1')
  for (const s of http.servers) {
    const x = httpStat(http, s.name)
    console.log(
      row([
        s.label, x.rps.toFixed(0), pct(x.rps / ref.rps), x.p50.toFixed(1), x.p99.toFixed(1), x.max.toFixed(1), x.mbps.toFixed(0), pct(x.serverCpu), pct(x.wrkCpu),
        x.cpuPerReqUs.toFixed(0), `${x.userPerReqUs.toFixed(0)} + ${(x.cpuPerReqUs - x.userPerReqUs).toFixed(0)}`, `${(1e6 / x.cpuPerReqUs).toFixed(0)} (${pct(ref.cpuPerReqUs / x.cpuPerReqUs)})`,
      ]),
    )
  }
  const pk = httpStat(http, 'packager')
  const ratio = pk.rps / ref.rps
  const pass = ratio >= TARGETS.vsNginx
  console.log(
    `${http.paths.length} URL(s), ${mb(http.meanBytes)} MB a response on average; medians of the runs (max: the worst of all). CPU: share of one core over the run; ` +
      'µs CPU/req: the server processes\' user+system time per response; req/CPU-s: what one core would serve if the server were the only limit',
  )
  const all = Object.values(http.results).flat()
  const rest = median(all.map((r) => r.machineBusy - (r.serverCpuS + r.wrkCpuS) / r.wallS))
  const wrkCpu = median(all.map((r) => r.wrkCpuS / r.wallS))
  if (rest > 0.5) console.log(`note: other processes used ${pct(rest)} of a core during the median run: req/s and p99 are depressed and noisy; the µs CPU/req figures hold up better`)
  if (wrkCpu > 0.85) console.log(`note: wrk used ${pct(wrkCpu)} of a core in the median run: the client is near its limit, so the req/s ratio understates the gap; compare µs CPU/req`)
  console.log(`CMSD-Static of a packager response: ${http.served.cmsdStatic}`)
  console.log(`CMSD-Dynamic:                       ${http.served.cmsdDynamic}`)
  console.log(`${pass ? 'PASS' : 'FAIL'}: the packager serves ${pct(ratio)} of nginx's (1 worker) segment GETs per second (median), target ≥ ${pct(TARGETS.vsNginx)}; p99 ${pk.p99.toFixed(1)} ms vs ${ref.p99.toFixed(1)} ms`)
  return pass
}

/**
 * Medians over a server's runs.
 * @param {{ results: Record<string, WrkResult[]> }} http
 * @param {string} name
 */
function httpStat(http, name) {
  const rs = http.results[name] ?? []
  return {
    rps: median(rs.map((r) => r.rps)),
    p50: median(rs.map((r) => r.p50Ms)),
    p99: median(rs.map((r) => r.p99Ms)),
    max: Math.max(...rs.map((r) => r.maxMs)),
    mbps: median(rs.map((r) => r.transferMBps)),
    serverCpu: median(rs.map((r) => r.serverCpuS / r.wallS)),
    wrkCpu: median(rs.map((r) => r.wrkCpuS / r.wallS)),
    cpuPerReqUs: median(rs.map((r) => (r.serverCpuS / r.requests) * 1e6)),
    userPerReqUs: median(rs.map((r) => (r.serverUserS / r.requests) * 1e6)),
  }
}

/**
 * Run wrk for `seconds` against `base` with the rotation script; parse its report. Also the CPU
 * the server's processes used meanwhile (/proc/<pid>/stat), wrk's own (the shell's `times`),
 * and how busy the whole machine was (/proc/stat), to see which side was the bottleneck.
 * @param {string} server
 * @param {string} base
 * @param {string} script
 * @param {number} seconds
 * @param {number[]} serverPids
 * @returns {Promise<WrkResult>}
 */
async function wrk(server, base, script, seconds, serverPids) {
  if (new URL(base).hostname !== HOST) throw new Error(`refusing a wrk target that is not ${HOST}: ${base}`)
  const args = ['-t1', `-c${WRK_CONNECTIONS}`, `-d${seconds}s`, '--latency', '--timeout', '10s', '-s', script, `${base}/`]
  const cpu0 = cpuSeconds(serverPids)
  const machine0 = machineJiffies()
  const t0 = performance.now()
  const r = await run('sh', ['-c', 'wrk "$@"; s=$?; times >&2; exit $s', 'sh', ...args])
  const wallS = (performance.now() - t0) / 1000
  const cpu1 = cpuSeconds(serverPids)
  const serverUserS = cpu1.user - cpu0.user
  const serverCpuS = serverUserS + cpu1.sys - cpu0.sys
  const machine1 = machineJiffies()
  if (r.code !== 0) throw new Error(`wrk against ${server} failed (exit ${r.code}): ${r.stderr || r.stdout}`)
  // `times`: the shell's own user and system time, then its children's (wrk's).
  const childTimes = /([\d.]+)m([\d.]+)s\s+([\d.]+)m([\d.]+)s\s*$/.exec(r.stderr)
  const wrkCpuS = childTimes ? Number(childTimes[1]) * 60 + Number(childTimes[2]) + Number(childTimes[3]) * 60 + Number(childTimes[4]) : NaN
  const out = r.stdout
  const num = (/** @type {RegExp} */ re) => {
    const m = re.exec(out)
    if (!m) throw new Error(`cannot read ${re} from wrk's output:\n${out}`)
    return m
  }
  const latency = (/** @type {RegExpExecArray} */ m) => Number(m[1]) * ({ us: 1e-3, ms: 1, s: 1e3, m: 60e3 }[/** @type {string} */ (m[2])] ?? NaN)
  const transfer = num(/Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB)/)
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out)
  const socket = /Socket errors:([^\n]*)/.exec(out)
  if (non2xx) throw new Error(`wrk against ${server}: ${non2xx[1]} responses were not 2xx`)
  return {
    server,
    rps: Number(num(/Requests\/sec:\s+([\d.]+)/)[1]),
    p50Ms: latency(num(/^\s*50%\s+([\d.]+)(us|ms|s|m)\s*$/m)),
    p99Ms: latency(num(/^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$/m)),
    maxMs: latency(num(/^\s*Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)/m)),
    transferMBps: (Number(transfer[1]) * ({ B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[/** @type {string} */ (transfer[2])] ?? NaN)) / 1e6,
    requests: Number(num(/(\d+) requests in/)[1]),
    errors: socket ? /** @type {string} */ (socket[1]).trim() : '',
    wallS,
    serverCpuS,
    serverUserS,
    wrkCpuS,
    machineBusy: (machine1.busy - machine0.busy) / (machine1.total - machine0.total) * os.cpus().length,
  }
}

/** User and system CPU seconds of these processes, all their threads (/proc/<pid>/stat). @param {number[]} pids */
function cpuSeconds(pids) {
  let user = 0
  let sys = 0
  for (const pid of pids) {
    const stat = readIfExists(`/proc/${pid}/stat`)
    // Fields after the command name, which ends at the last ')': state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    user += Number(fields[11] ?? 0)
    sys += Number(fields[12] ?? 0)
  }
  return { user: user / CLOCK_TICKS, sys: sys / CLOCK_TICKS }
}

/** Jiffies of all CPUs, busy (not idle or iowait) and total (/proc/stat). */
function machineJiffies() {
  const line = /^cpu\s+(.*)$/m.exec(readIfExists('/proc/stat'))?.[1] ?? ''
  const v = line.trim().split(/\s+/).map(Number)
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0)
  const idle = (v[3] ?? 0) + (v[4] ?? 0)
  return { busy: total - idle, total }
}

/**
 * nginx serving `tmp/www`, foreground, its own pid file, error log and temp paths in `tmp`.
 * @param {string} tmp
 * @param {string} name
 * @param {number | 'auto'} workers
 * @param {string} probePath  a path that must answer 200 once nginx is up
 */
async function startNginx(tmp, name, workers, probePath) {
  const dir = path.join(tmp, `nginx-${name}`)
  mkdirSync(dir, { recursive: true })
  const port = await freePort()
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
  const conf = path.join(dir, 'nginx.conf')
  /** @param {string[]} omit  temp-path directives this build does not know */
  const write = (omit) =>
    writeFileSync(
      conf,
      [
        'daemon off;',
        `worker_processes ${workers};`,
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log warn;`,
        'events { worker_connections 1024; }',
        'http {',
        '  types { video/mp2t ts; application/vnd.apple.mpegurl m3u8; }',
        '  default_type application/octet-stream;',
        '  access_log off;',
        '  sendfile on;',
        '  tcp_nopush on;',
        // nginx closes a keep-alive connection after 1000 requests by default; the packager never does.
        '  keepalive_requests 1000000;',
        ...temps.filter((t) => !omit.includes(t)).map((t) => `  ${t}_temp_path ${dir}/${t};`),
        `  server { listen ${HOST}:${port}; root ${tmp}/www; location /hls/ { add_header Cache-Control "public, max-age=86400, immutable"; } }`,
        '}',
        '',
      ].join('\n'),
    )
  /** @type {string[]} */
  const omit = []
  for (;;) {
    write(omit)
    const t = await run('nginx', ['-t', '-q', '-p', dir, '-e', `${dir}/error.log`, '-c', conf])
    if (t.code === 0) break
    const unknown = /unknown directive "(\w+)_temp_path"/.exec(t.stderr)
    if (!unknown || omit.includes(/** @type {string} */ (unknown[1]))) {
      const hint = /ENOENT|not found/.test(t.stderr) ? ' (install it: apt-get install -y nginx-light)' : ''
      throw new Error(`nginx -t failed${hint}: ${t.stderr.trim()}`)
    }
    omit.push(/** @type {string} */ (unknown[1]))
  }
  const proc = spawn('nginx', ['-p', dir, '-e', `${dir}/error.log`, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  proc.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise((resolve) => proc.once('exit', resolve))
  const url = `http://${HOST}:${port}`
  const deadline = performance.now() + 5000
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`nginx exited (${proc.exitCode}): ${stderr.trim()} ${readIfExists(path.join(dir, 'error.log'))}`)
    const ok = await fetch(`${url}${probePath}`).then(
      async (res) => (await res.arrayBuffer(), res.status === 200),
      () => false,
    )
    if (ok) break
    if (performance.now() > deadline) throw new Error(`nginx did not answer ${probePath} with 200 within 5 s: ${readIfExists(path.join(dir, 'error.log'))}`)
    await sleep(50)
  }
  const masterPid = /** @type {number} */ (proc.pid)
  return {
    url,
    workers: workers === 'auto' ? os.availableParallelism() : workers,
    /** The master and its workers. */
    pids: () => [masterPid, ...readIfExists(`/proc/${masterPid}/task/${masterPid}/children`).trim().split(/\s+/).filter(Boolean).map(Number)],
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGQUIT')
      await Promise.race([exited, sleep(3000)])
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL')
        await exited
      }
    },
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Memory

/**
 * Window 1 and window 30 children; the window-holding-everything child of the HTTP part is the
 * third point, before and after its load.
 * @param {string} file
 * @param {Input} input
 * @param {Served} served
 */
async function runMemory(file, input, served) {
  /** @type {{ window: number, segments: number, storedBytes: number, mem: Mem, ingestMs: number }[]} */
  const points = []
  for (const window of [1, MEMORY_WINDOW]) {
    const c = await startChild(file, window)
    try {
      points.push({ window, segments: c.ready.numbers.length, storedBytes: stored(c.ready), mem: c.ready.mem, ingestMs: c.ready.ingestMs })
    } finally {
      await c.stop()
    }
  }
  const all = served.ready
  points.push({ window: all.numbers.length, segments: all.numbers.length, storedBytes: stored(all), mem: all.mem, ingestMs: all.ingestMs })
  // What one full segment costs the store: its TS bytes and its CMAF bytes (the service keeps both).
  const fullFrames = input.fullFrames
  const idx = all.numbers.map((_, i) => i).filter((i) => all.frames[i] === fullFrames)
  const perSegment = {
    ts: mean(idx.map((i) => /** @type {number} */ (all.tsBytes[i]))),
    cmaf: mean(idx.map((i) => /** @type {number} */ (all.cmafBytes[i]))),
  }
  const storedPerSegment = perSegment.ts + perSegment.cmaf
  const one = /** @type {(typeof points)[number]} */ (points[0])
  const thirty = /** @type {(typeof points)[number]} */ (points[1])
  // The process without its window: RSS at window 30 less the bytes its window holds. (At window 1
  // RSS minus the window is higher: the evicted segments' freed memory stays mapped, and is what
  // a bigger window reuses first.)
  const base = thirty.mem.rss - thirty.storedBytes
  return {
    points,
    perSegment,
    storedPerSegment,
    base,
    slope: thirty.segments > one.segments ? (thirty.mem.rss - one.mem.rss) / (thirty.segments - one.segments) : NaN,
    hourEstimate: base + HOUR_SEGMENTS * storedPerSegment,
    streamBytesPerSecond: all.ingest.bytes / input.mediaSeconds,
    storedBytesPerSecond: storedPerSegment / SEGMENT_SECONDS,
    afterLoad: served.memAfterLoad,
    initBytes: all.initBytes,
  }
}

/** Bytes the store holds for a child's window: TS + CMAF of every segment. @param {ChildReady} r */
function stored(r) {
  return r.tsBytes.reduce((a, b) => a + b, 0) + r.cmafBytes.reduce((a, b) => a + b, 0)
}

/**
 * @param {Awaited<ReturnType<typeof runMemory>>} m
 * @param {Input} input
 */
function printMemory(m, input) {
  const widths = [26, 9, 12, 10, 11, 13, 12]
  const row = (/** @type {string[]} */ cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')
  console.log(row(['child', 'segments', 'stored MB', 'RSS MB', 'VmHWM MB', 'arrayBuf MB', 'heapUsed MB']))
  for (const p of m.points) {
    const label = p.window === 1 ? 'window 1' : p.window === MEMORY_WINDOW ? `window ${MEMORY_WINDOW}` : 'window = all (HTTP child)'
    console.log(row([label, String(p.segments), mb(p.storedBytes), mb(p.mem.rss), mb(p.mem.hwm), mb(p.mem.arrayBuffers), mb(p.mem.heapUsed)]))
  }
  console.log(row(['  the same after wrk', '', '', mb(m.afterLoad.rss), mb(m.afterLoad.hwm), mb(m.afterLoad.arrayBuffers), mb(m.afterLoad.heapUsed)]))
  console.log(
    `a full segment in the store: TS ${mb(m.perSegment.ts)} MB + CMAF ${mb(m.perSegment.cmaf)} MB = ${mb(m.storedPerSegment)} MB; ` +
      `RSS grew ${mb(m.slope)} MB a segment from window 1 to ${MEMORY_WINDOW}${input.segments.length <= MEMORY_WINDOW ? ` (the input has only ${input.segments.length} segments)` : ''}`,
  )
  console.log(
    `1-hour window estimate: base ${mb(m.base)} MB (RSS at window ${MEMORY_WINDOW} − the ${mb(m.points[1]?.storedBytes ?? NaN)} MB its window holds) + ${HOUR_SEGMENTS} × ${mb(m.storedPerSegment)} MB = ${(m.hourEstimate / 1e9).toFixed(2)} GB; ` +
      `the input averages ${(m.streamBytesPerSecond / 1e3).toFixed(0)} kB/s (its full segments' TS ${(m.perSegment.ts / SEGMENT_SECONDS / 1e3).toFixed(0)} kB/s); ` +
      `the store keeps ${(m.storedBytesPerSecond / 1e3).toFixed(0)} kB per second of stream, ${(m.storedPerSegment / m.perSegment.ts).toFixed(2)}× the TS bytes`,
  )
}

// ---------------------------------------------------------------------------------------------
// Summary

/**
 * @param {{ ingest: IngestResult[], ingestPass: boolean, http: Awaited<ReturnType<typeof runHttp>>, httpPass: boolean, memory: Awaited<ReturnType<typeof runMemory>>, input: Input, bytes: number }} s
 */
function printSummary(s) {
  const multiple = (/** @type {string} */ name) => {
    const r = s.ingest.find((x) => x.variant.name === name)
    return r ? s.input.mediaSeconds / (median(r.timesMs) / 1000) : NaN
  }
  const rps = (/** @type {string} */ name) => median((s.http.results[name] ?? []).map((r) => r.rps))
  const p99 = (/** @type {string} */ name) => median((s.http.results[name] ?? []).map((r) => r.p99Ms))
  const ratio = rps('packager') / rps('nginx-1')
  console.log('\nSummary')
  const rows = [
    ['ingest, 1316-B chunks', `${multiple('udp').toFixed(0)}× real time`, `≥ ${TARGETS.realtimeMultiple}×`, multiple('udp') >= TARGETS.realtimeMultiple ? 'PASS' : 'FAIL'],
    ['ingest, 65424-B chunks', `${multiple('file').toFixed(0)}× real time`, `≥ ${TARGETS.realtimeMultiple}×`, multiple('file') >= TARGETS.realtimeMultiple ? 'PASS' : 'FAIL'],
    ['ingest + CMAF (as served)', `${multiple('cmaf').toFixed(0)}× real time`, '', ''],
    ['segment GETs vs nginx-1', `${rps('packager').toFixed(0)} vs ${rps('nginx-1').toFixed(0)} req/s = ${pct(ratio)}`, `≥ ${pct(TARGETS.vsNginx)}`, s.httpPass ? 'PASS' : 'FAIL'],
    ['p99 latency', `${p99('packager').toFixed(1)} vs ${p99('nginx-1').toFixed(1)} ms (nginx auto ${p99('nginx-auto').toFixed(1)})`, '', ''],
    ['RSS, window 30', `${mb(s.memory.points[1]?.mem.rss ?? NaN)} MB`, '', ''],
    ['RSS, 1-hour window (est.)', `${(s.memory.hourEstimate / 1e9).toFixed(2)} GB`, '', ''],
  ]
  for (const r of rows) console.log(`  ${(r[0] ?? '').padEnd(27)} ${(r[1] ?? '').padEnd(44)} ${(r[2] ?? '').padEnd(7)} ${r[3]}`)
  const pass = s.ingestPass && s.httpPass
  console.log(`\n${pass ? 'PASS' : 'FAIL'}: ingest ${s.ingestPass ? 'PASS' : 'FAIL'}, HTTP ${s.httpPass ? 'PASS' : 'FAIL'}${!pass && !flags.check ? ' (exit status 0: pass --check to fail on it)' : ''}`)
}

// ---------------------------------------------------------------------------------------------
// The packager child process

/**
 * Start this file as a packager child (own process: its RSS is the packager's alone, and it
 * serves on its own core while wrk runs); resolves once it has ingested the file.
 * @param {string} file
 * @param {number} window
 */
async function startChild(file, window) {
  const proc = spawn(process.execPath, ['--expose-gc', SELF, '--child', JSON.stringify({ input: file, window })], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  proc.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise((resolve) => proc.once('exit', resolve))
  const lines = createInterface({ input: proc.stdout })
  /** @type {Array<(line: string) => void>} */
  const waiting = []
  lines.on('line', (line) => waiting.shift()?.(line))
  const next = () =>
    new Promise((resolve, reject) => {
      waiting.push(resolve)
      void exited.then(() => reject(new Error(`the packager child exited: ${stderr.trim()}`)))
    })
  /** @type {ChildReady} */
  const ready = JSON.parse(/** @type {string} */ (await next()))
  return {
    ready,
    pid: /** @type {number} */ (proc.pid),
    /** @returns {Promise<Mem>} */
    async mem() {
      proc.stdin.write('mem\n')
      return JSON.parse(/** @type {string} */ (await next()))
    },
    async stop() {
      proc.stdin.end()
      await Promise.race([exited, sleep(5000)])
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL')
        await exited
      }
    },
  }
}

/**
 * The child: startPackager on the file at full speed, then one JSON line with its window, the
 * sizes it serves and its memory; `mem` on stdin prints the memory again; end of stdin closes it.
 * @param {{ input: string, window: number }} o
 */
async function child(o) {
  const { startPackager } = await import(PACKAGER_DIST)
  const t0 = performance.now()
  const h = await startPackager({ input: o.input, host: HOST, port: 0, name: 'bench-packager', segmentSeconds: SEGMENT_SECONDS, window: o.window, inputRate: 'max' })
  await h.inputDone
  const ingestMs = performance.now() - t0
  const status = h.status()
  const mem = memory()
  /** @param {string} p */
  const length = async (p) => {
    const res = await fetch(`${h.url}${p}`, { method: 'HEAD' })
    return res.status === 200 ? Number(res.headers.get('content-length')) : 0
  }
  const numbers = status.window.map((/** @type {{ number: number }} */ w) => w.number)
  /** @type {ChildReady} */
  const ready = {
    url: h.url,
    numbers,
    frames: status.window.map((/** @type {{ frames: number }} */ w) => w.frames),
    tsBytes: await Promise.all(numbers.map((/** @type {number} */ n) => length(`/hls/${n}.ts`))),
    cmafBytes: await Promise.all(numbers.map((/** @type {number} */ n) => length(`/cmaf/${n}.m4s`))),
    initBytes: await length('/cmaf/init.mp4'),
    ingestMs,
    mem,
    ingest: status.ingest,
  }
  process.stdout.write(`${JSON.stringify(ready)}\n`)
  const lines = createInterface({ input: process.stdin })
  lines.on('line', (line) => {
    if (line === 'mem') process.stdout.write(`${JSON.stringify(memory())}\n`)
  })
  await new Promise((resolve) => lines.once('close', resolve))
  await h.close()
}

/** Memory after two full GCs (the child runs with --expose-gc). @returns {Mem} */
function memory() {
  if (typeof globalThis.gc === 'function') {
    globalThis.gc()
    globalThis.gc()
  }
  const u = process.memoryUsage()
  const status = readIfExists('/proc/self/status')
  const kb = (/** @type {string} */ key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  return { rss: u.rss, hwm: kb('VmHWM'), heapUsed: u.heapUsed, external: u.external, arrayBuffers: u.arrayBuffers }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * @param {string} cmd
 * @param {string[]} args
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string }>}
 */
function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d) => (stdout += d))
    p.stderr.on('data', (d) => (stderr += d))
    p.once('error', (err) => {
      const e = /** @type {NodeJS.ErrnoException} */ (err)
      reject(e.code === 'ENOENT' ? new Error(`${cmd} is not on PATH: apt-get install -y nginx-light wrk`, { cause: err }) : err)
    })
    p.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** A port free on 127.0.0.1 just now. @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, HOST, () => {
      const a = s.address()
      const port = typeof a === 'object' && a ? a.port : 0
      s.close(() => resolve(port))
    })
  })
}

/** `nginx/1.22.1, wrk 4.1.0`, as far as the tools say. */
function toolVersions() {
  const out = (/** @type {string} */ cmd, /** @type {string[]} */ args) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' })
    return `${r.stdout ?? ''}${r.stderr ?? ''}`
  }
  const nginx = /nginx\/[\d.]+/.exec(out('nginx', ['-v']))?.[0] ?? 'nginx missing'
  const wrkVersion = /^wrk (\S+)/m.exec(out('wrk', ['--version']))?.[1]
  return `${nginx}, ${wrkVersion ? `wrk ${wrkVersion}` : 'wrk missing'}`
}

/** @param {string} file */
function readIfExists(file) {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

/** @param {number} t */
function sleep(t) {
  return new Promise((resolve) => setTimeout(resolve, t))
}


/** @param {number[]} xs */
function median(xs) {
  const sorted = [...xs].sort((a, b) => a - b)
  const m = sorted.length >> 1
  const hi = sorted[m] ?? NaN
  return sorted.length % 2 === 1 ? hi : ((sorted[m - 1] ?? NaN) + hi) / 2
}

/** @param {number[]} xs */
function mean(xs) {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN
}

/** @param {number} x */
function pct(x) {
  return `${(x * 100).toFixed(0)}%`
}

/** @param {number} bytes */
function mb(bytes) {
  return (bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)
}

/** @param {number} t */
function ms(t) {
  return t < 1000 ? `${t.toFixed(0)} ms` : `${(t / 1000).toFixed(1)} s`
}
