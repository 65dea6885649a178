#!/usr/bin/env node
/**
 * The origin's cost, against its reference: the same segment fetched straight from the packager.
 *
 * Two `mqa package` children serve the same encoded file (chains A and B: same numbers, same
 * bytes), an `mqa origin` child serves them; each child has its own event loop, as in production.
 * 1. Latency: one keep-alive client fetches each segment in turn from the packager and through the
 *    origin, alternating, N times each; time to the last body byte. p50/p99 per side, and what the
 *    origin adds. Target (from the issue): p99 added ≤ 5 ms.
 * 2. Throughput: wrk (-t1 -c16 --latency) rotating over the segments, against the packager and
 *    against the origin, interleaved; requests/s of the origin as a share of the packager's.
 * Only 127.0.0.1 is a target. `node scripts/bench/origin.js --help` for the flags.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
const cli = join(root, 'packages/cli/dist/main.js')
const HOST = '127.0.0.1'
const FLAGS = {
  quick: { type: 'boolean', default: false, description: 'a 12 s input, 200 latency samples, one 3 s wrk run per server' },
  check: { type: 'boolean', default: false, description: 'exit 1 when the target is missed' },
  samples: { type: 'string', default: '1000', description: 'latency samples per side' },
  'http-reps': { type: 'string', default: '3', description: 'wrk runs against each server' },
  seconds: { type: 'string', default: '8', description: 'length of each wrk run, s' },
  regenerate: { type: 'boolean', default: false, description: 'rebuild the cached input' },
  help: { type: 'boolean', default: false, description: 'this table' },
}
const { values: flags } = parseArgs({ options: Object.fromEntries(Object.entries(FLAGS).map(([k, v]) => [k, { type: v.type, default: v.default }])) })
if (flags.help) {
  for (const [k, v] of Object.entries(FLAGS)) console.log(`  --${k.padEnd(12)} ${v.description}${v.type === 'string' ? ` (default ${v.default})` : ''}`)
  process.exit(0)
}
const quick = flags.quick
const samples = quick ? 200 : Number(flags.samples)
const httpReps = quick ? 1 : Number(flags['http-reps'])
const wrkSeconds = quick ? 3 : Number(flags.seconds)

const children = []
const cleanup = () => {
  for (const c of children) c.kill('SIGKILL')
}
process.on('exit', cleanup)

function freePort() {
  return new Promise((resolve) => {
    const s = createServer()
    s.listen(0, HOST, () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

/** The input: the real encoder's MPEG-TS, 720p at 3 Mb/s with grain, an MQA SEI in every frame. */
function prepareInput() {
  const seconds = quick ? 12 : 30
  const file = join(root, '.bench', `origin-720p-3mbps-${seconds}s.ts`)
  if (existsSync(file) && !flags.regenerate) return file
  mkdirSync(join(root, '.bench'), { recursive: true })
  console.log(`making ${file} with mqa encode (once)`)
  const r = spawnSync('node', [cli, 'encode', '-i', 'lavfi:testsrc2=size=1280x720:rate=25,noise=alls=6:allf=t', '-o', file, '--bitrate', '3M', '--frames', String(25 * seconds), '--timecode', 'wallclock', '--gop-seconds', '2', '--segment-seconds', '2', '--preset', 'ultrafast'], { stdio: ['ignore', 'ignore', 'inherit'] })
  if (r.status !== 0) throw new Error('mqa encode failed')
  return file
}

function startChild(name, args) {
  const child = spawn('node', [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (b) => (stderr = (stderr + b).slice(-4000)))
  child.on('exit', (code) => code !== null && code !== 0 && console.error(`${name} exited ${code}: ${stderr}`))
  children.push(child)
  return child
}

async function waitFor(what, fn, ms = 60_000) {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      const v = await fn()
      if (v) return v
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}
const median = (xs) => quantile(xs, 0.5)

async function timedGet(url) {
  const t = performance.now()
  const res = await fetch(url)
  const body = await res.arrayBuffer()
  const ms = performance.now() - t
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`)
  return { ms, bytes: body.byteLength, cmsd: res.headers.get('cmsd-dynamic') }
}

function wrk(base, script, seconds) {
  if (new URL(base).hostname !== HOST) throw new Error(`refusing a wrk target that is not ${HOST}: ${base}`)
  const r = spawnSync('wrk', ['-t1', '-c16', `-d${seconds}s`, '--latency', '-s', script, base], { encoding: 'utf8' })
  if (r.error) throw new Error(`wrk: ${r.error.message} (apt-get install -y wrk)`)
  const out = r.stdout
  if (/Non-2xx/.test(out)) throw new Error(`wrk against ${base}: non-2xx responses\n${out}`)
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1])
  const ms = (label) => {
    const m = new RegExp(`^\\s+${label}\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out)
    return m ? Number(m[1]) * (m[2] === 'us' ? 1e-3 : m[2] === 's' ? 1e3 : 1) : NaN
  }
  return { rps, p50: ms('50%'), p99: ms('99%') }
}

async function main() {
  const file = prepareInput()
  const [pa, pb, po] = await Promise.all([freePort(), freePort(), freePort()])
  for (const [name, port] of [['pkg-a', pa], ['pkg-b', pb]]) startChild(name, ['package', '-i', file, '--listen', `${HOST}:${port}`, '--name', name, '--input-rate', 'max', '--window', '1000', '--segment-seconds', '2'])
  const packagerUrl = `http://${HOST}:${pa}`
  const originUrl = `http://${HOST}:${po}`
  startChild('origin', ['origin', '--upstream', `a=${packagerUrl}`, '--upstream', `b=http://${HOST}:${pb}`, '--listen', `${HOST}:${po}`])
  const numbers = await waitFor('both packagers to ingest the file', async () => {
    const s = await Promise.all([pa, pb].map(async (p) => (await (await fetch(`http://${HOST}:${p}/api/status`)).json())))
    return s.every((x) => x.inputEnded) ? s[0].window.map((w) => w.number) : undefined
  })
  // Full segments only (the first and last are partial), each decided by the origin.
  const full = numbers.slice(1, -1)
  await waitFor('the origin to decide every segment', async () => {
    const s = await (await fetch(`${originUrl}/api/status`)).json()
    return s.decisions.length >= numbers.length - 1
  })
  const sizes = await Promise.all(full.map(async (n) => (await timedGet(`${packagerUrl}/hls/${n}.ts`)).bytes))
  console.log(`input ${file}: ${numbers.length} segments, ${full.length} full ones of ${(median(sizes) / 1e6).toFixed(2)} MB median`)

  // 1. Latency, one request at a time, alternating sides.
  const direct = []
  const viaOrigin = []
  for (let i = 0; i < 20; i++) await timedGet(`${originUrl}/hls/${full[i % full.length]}.ts`) // warm up both paths
  for (let i = 0; i < samples; i++) {
    const n = full[i % full.length]
    const pair = [() => timedGet(`${packagerUrl}/hls/${n}.ts`), () => timedGet(`${originUrl}/hls/${n}.ts`)]
    if (i % 2) pair.reverse()
    const [first, second] = [await pair[0](), await pair[1]()]
    const [d, o] = i % 2 ? [second, first] : [first, second]
    if (!/org\.svta\.mqa-src=a/.test(o.cmsd ?? '')) throw new Error(`segment ${n}: the origin's CMSD-Dynamic names no chain: ${o.cmsd}`)
    if (d.bytes !== o.bytes) throw new Error(`segment ${n}: the origin served ${o.bytes} bytes, the packager ${d.bytes}`)
    direct.push(d.ms)
    viaOrigin.push(o.ms)
  }
  const lat = {
    direct: { p50: quantile(direct, 0.5), p99: quantile(direct, 0.99) },
    origin: { p50: quantile(viaOrigin, 0.5), p99: quantile(viaOrigin, 0.99) },
  }
  console.log(`\n1. Latency, ${samples} sequential GETs per side, alternating, keep-alive (ms to the last byte)`)
  console.log('   side                  p50      p99')
  console.log(`   packager, direct   ${lat.direct.p50.toFixed(2).padStart(6)}   ${lat.direct.p99.toFixed(2).padStart(6)}`)
  console.log(`   through the origin ${lat.origin.p50.toFixed(2).padStart(6)}   ${lat.origin.p99.toFixed(2).padStart(6)}`)
  const addedP50 = lat.origin.p50 - lat.direct.p50
  const addedP99 = lat.origin.p99 - lat.direct.p99
  console.log(`   added by the origin ${addedP50.toFixed(2).padStart(5)}   ${addedP99.toFixed(2).padStart(6)}`)

  // 2. Throughput with wrk, interleaved.
  const tmp = mkdtempSync(join(tmpdir(), 'mqa-bench-origin-'))
  const script = join(tmp, 'rotate.lua')
  writeFileSync(script, `local paths = { ${full.map((n) => `"/hls/${n}.ts"`).join(', ')} }\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format("GET", paths[i])\nend\n`)
  const runs = { packager: [], origin: [] }
  for (const base of [packagerUrl, originUrl]) wrk(base, script, 1) // warm-up
  for (let r = 0; r < httpReps; r++) {
    const order = r % 2 ? ['origin', 'packager'] : ['packager', 'origin']
    for (const side of order) runs[side].push(wrk(side === 'packager' ? packagerUrl : originUrl, script, wrkSeconds))
  }
  rmSync(tmp, { recursive: true, force: true })
  const rps = { packager: median(runs.packager.map((x) => x.rps)), origin: median(runs.origin.map((x) => x.rps)) }
  console.log(`\n2. Throughput: wrk -t1 -c16 -d${wrkSeconds}s --latency rotating over the full segments; ${httpReps} run(s) each, interleaved (medians)`)
  console.log('   server              req/s     p50 ms   p99 ms')
  for (const side of ['packager', 'origin']) {
    const p50 = median(runs[side].map((x) => x.p50))
    const p99 = median(runs[side].map((x) => x.p99))
    console.log(`   ${side.padEnd(18)} ${rps[side].toFixed(0).padStart(6)}   ${p50.toFixed(1).padStart(7)}  ${p99.toFixed(1).padStart(7)}`)
  }
  console.log(`   origin / packager  ${((rps.origin / rps.packager) * 100).toFixed(0)}%`)

  const pass = addedP99 <= 5
  console.log(`\n${pass ? 'PASS' : 'FAIL'}: p99 latency added by the origin ${addedP99.toFixed(2)} ms (target ≤ 5 ms)`)
  cleanup()
  if (flags.check && !pass) process.exitCode = 1
}

main().catch((err) => {
  console.error(err)
  cleanup()
  process.exitCode = 1
})
