#!/usr/bin/env node
/**
 * Benchmark: the latency of a live encode, `mqa encode` (every frame measured, its packets held
 * until their scores are known) against the ffmpeg CLI doing the same encode, UDP in and UDP out
 * on 127.0.0.1, in one run, interleaved; see scripts/bench/README.md.
 *
 *   node scripts/bench/latency.js [--quick] [--reps N] [--seconds S] [--regenerate]
 *
 * A contribution feed (H.264 in MPEG-TS, no B-frames, cached under .bench/) is sent frame by frame
 * at its frame rate; the latency of frame N is the time from the last datagram of frame N leaving
 * here to the first output datagram that starts frame N's PES (matched by PTS) arriving here.
 * Three seconds after the last frame is sent the encoder is stopped; frames out after that are not counted.
 */
import { spawn, spawnSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { positiveInt, readBenchFlags } from '../lib/bench-flags.js'
import { resolveFfmpeg } from '../lib/ffmpeg-bin.js'

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const CLI = path.join(REPO_ROOT, 'packages/cli/dist/main.js')
const CACHE_DIR = path.join(REPO_ROOT, '.bench')
const FPS = 30
const TICKS_PER_FRAME = 90_000 / FPS
/** The encode both sides run: the encoder benchmark's (x264 veryfast, 3 Mb/s, 2 s GOPs, 3 B-frames). */
const ENCODE = { preset: 'veryfast', bitrate: '3M', gopSeconds: 2, bframes: 3, workers: 2 }
/** Frames left out at the start of each run: the probe, the pool's start, x264's first lookahead. */
const WARMUP_SECONDS = 3

const FLAGS = /** @type {const} */ ({
  quick: { type: 'boolean', default: false, description: '640x360, 6 s, 1 repetition (CI smoke)' },
  reps: { type: 'string', default: '3', description: 'repetitions of each variant' },
  seconds: { type: 'string', default: '20', description: 'seconds of feed sent per run' },
  regenerate: { type: 'boolean', default: false, description: 'rebuild the cached feed in .bench/' },
  help: { type: 'boolean', default: false, description: 'print this help' },
})

const flags = readBenchFlags('latency.js', FLAGS)
if (flags) await main()

async function main() {
  if (!existsSync(CLI)) throw new Error('packages/cli/dist/main.js is missing: build first with `pnpm -s build`')
  const reps = flags.quick ? 1 : positiveInt('reps', flags.reps)
  const seconds = flags.quick ? 6 : positiveInt('seconds', flags.seconds)
  const [width, height] = flags.quick ? [640, 360] : [1280, 720]
  const { ffmpeg } = resolveFfmpeg()
  const feed = makeFeed(ffmpeg, width, height, seconds)
  const frames = framesOf(readFileSync(feed))
  console.log(`\nLatency of a live encode: UDP in → encoder → UDP out, on 127.0.0.1`)
  console.log(`feed ${path.relative(REPO_ROOT, feed)}: ${frames.length} frames of ${width}x${height}p${FPS} H.264, sent frame by frame in real time`)
  console.log(`encode: x264 ${ENCODE.preset} ${ENCODE.bitrate}b/s, IDR every ${ENCODE.gopSeconds * FPS} frames, ${ENCODE.bframes} B-frames; ${reps} repetitions, interleaved; the first ${WARMUP_SECONDS} s of each run left out\n`)
  /** @type {Record<string, number[]>} */
  const all = { ffmpeg: [], mqa: [] }
  let port = 43_000 + Math.floor(Math.random() * 2000) * 2
  for (let r = 0; r < reps; r++) {
    for (const variant of r % 2 === 0 ? ['ffmpeg', 'mqa'] : ['mqa', 'ffmpeg']) {
      const inPort = port++
      const outPort = port++
      const args = variant === 'mqa' ? mqaArgs(inPort, outPort) : ffmpegArgs(inPort, outPort)
      const run = await runOnce(variant === 'mqa' ? process.execPath : ffmpeg, args, frames, inPort, outPort)
      const kept = run.latencies.slice(WARMUP_SECONDS * FPS).filter((x) => x !== undefined)
      const got = run.latencies.filter((x) => x !== undefined).length
      if (kept.length < (frames.length - WARMUP_SECONDS * FPS) / 2) throw new Error(`${variant}: only ${got} of ${frames.length} frames came out (${run.stderr.trim().split('\n').slice(-3).join(' | ')})`)
      // A frame out before it was sent in means the PTS matching is off: the run proves nothing.
      if (kept.some((x) => x <= 0)) throw new Error(`${variant}: a frame came out before it was sent (latency ${ms(Math.min(...kept))}): the PTS matching is off`)
      all[variant]?.push(...kept)
      console.log(`  round ${r + 1} ${variant.padEnd(6)} frames out ${String(got).padStart(4)}/${frames.length}  median ${ms(quantile(kept, 0.5))}  p95 ${ms(quantile(kept, 0.95))}  max ${ms(Math.max(...kept))}`)
    }
  }
  const f = /** @type {number[]} */ (all.ffmpeg)
  const m = /** @type {number[]} */ (all.mqa)
  console.log(`\nvariant                                       median      p95      max`)
  console.log(`ffmpeg CLI (the same encode)              ${ms(quantile(f, 0.5)).padStart(9)}${ms(quantile(f, 0.95)).padStart(9)}${ms(Math.max(...f)).padStart(9)}`)
  console.log(`mqa encode (every frame measured)         ${ms(quantile(m, 0.5)).padStart(9)}${ms(quantile(m, 0.95)).padStart(9)}${ms(Math.max(...m)).padStart(9)}`)
  console.log(`mqa − ffmpeg: median ${ms(quantile(m, 0.5) - quantile(f, 0.5))}, p95 ${ms(quantile(m, 0.95) - quantile(f, 0.95))}; ratio of medians ${(quantile(m, 0.5) / quantile(f, 0.5)).toFixed(2)}×`)
}

/** @param {number} inPort @param {number} outPort */
function mqaArgs(inPort, outPort) {
  return [
    CLI, 'encode', '-i', `udp://127.0.0.1:${inPort}`, '-o', `udp://127.0.0.1:${outPort}`, '--codec', 'h264', '--preset', ENCODE.preset,
    '--bitrate', ENCODE.bitrate, '--gop-seconds', String(ENCODE.gopSeconds), '--segment-seconds', String(ENCODE.gopSeconds),
    '--bframes', String(ENCODE.bframes), '--workers', String(ENCODE.workers),
  ]
}

/**
 * The ffmpeg CLI on the same stream, with the probe bounded as mqa bounds it (256 KB, 1 s: FFmpeg's
 * default reads 5 MB first) and the same x264 settings, IDRs on the same grid.
 * @param {number} inPort @param {number} outPort
 */
function ffmpegArgs(inPort, outPort) {
  const gop = ENCODE.gopSeconds * FPS
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-probesize', '262144', '-analyzeduration', '1000000',
    '-f', 'mpegts', '-i', `udp://127.0.0.1:${inPort}?fifo_size=100000&overrun_nonfatal=1`,
    '-c:v', 'libx264', '-preset', ENCODE.preset, '-b:v', ENCODE.bitrate, '-g', String(gop * 100), '-bf', String(ENCODE.bframes),
    '-forced-idr', '1', '-force_key_frames', `expr:eq(mod(n,${gop}),0)`, '-x264-params', `scenecut=0:open-gop=0:bframes=${ENCODE.bframes}`,
    '-an', '-f', 'mpegts', `udp://127.0.0.1:${outPort}?pkt_size=1316`,
  ]
}

/**
 * One run: start the encoder, wait until it listens, send the feed in real time, collect what
 * comes out, stop the encoder. `latencies[N]`: ms from frame N sent to its PES arriving, or undefined.
 * @param {string} cmd @param {string[]} args @param {Buffer[][]} frames @param {number} inPort @param {number} outPort
 */
async function runOnce(cmd, args, frames, inPort, outPort) {
  /** @type {Map<number, number>} PTS → arrival */
  const arrivals = new Map()
  const rx = createSocket('udp4')
  rx.on('message', (msg) => {
    const now = performance.now()
    for (const pts of videoPesStarts(msg)) if (!arrivals.has(pts)) arrivals.set(pts, now)
  })
  await new Promise((resolve) => rx.bind(outPort, '127.0.0.1', () => resolve(undefined)))
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)))
  const exited = new Promise((resolve) => child.on('exit', resolve))
  await untilUdpBound(inPort)
  const tx = createSocket('udp4')
  /** @type {number[]} */
  const sent = []
  const start = performance.now() + 50
  for (let n = 0; n < frames.length; n++) {
    const due = start + (n * 1000) / FPS
    const wait = due - performance.now()
    if (wait > 1) await sleep(wait)
    const packets = /** @type {Buffer[]} */ (frames[n])
    for (let i = 0; i < packets.length; i += 7) tx.send(Buffer.concat(packets.slice(i, i + 7)), inPort, '127.0.0.1')
    sent.push(performance.now())
  }
  await sleep(3000)
  // What either encoder writes once stopped (mqa drains its pipeline, ffmpeg does not) is not live.
  const stoppedAt = performance.now()
  child.kill('SIGINT')
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(killer)
  tx.close()
  rx.close()
  // Output frame N is the one whose PTS is N frames after the lowest PTS out (its first IDR, frame 0).
  const pts0 = Math.min(...arrivals.keys())
  /** @type {(number | undefined)[]} */
  const latencies = sent.map(() => undefined)
  for (const [pts, at] of arrivals) {
    if (at >= stoppedAt) continue
    const n = Math.round((pts - pts0) / TICKS_PER_FRAME)
    const sentAt = sent[n]
    if (n >= 0 && n < latencies.length && sentAt !== undefined) latencies[n] = at - sentAt
  }
  return { latencies, stderr }
}

/**
 * The feed: a moving pattern with grain, H.264 without B-frames (a contribution encoder's
 * setting), 8 Mb/s, 1 s GOPs, MPEG-TS; made once.
 * @param {string} ffmpeg @param {number} width @param {number} height @param {number} seconds
 */
function makeFeed(ffmpeg, width, height, seconds) {
  mkdirSync(CACHE_DIR, { recursive: true })
  const file = path.join(CACHE_DIR, `latency-feed-${width}x${height}p${FPS}-${seconds}s.ts`)
  if (existsSync(file) && !flags.regenerate) return file
  const r = spawnSync(ffmpeg, [
    '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${FPS},noise=alls=8:allf=t`, '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '0', '-g', String(FPS), '-b:v', '8M', '-maxrate', '8M', '-bufsize', '4M', '-pix_fmt', 'yuv420p', '-f', 'mpegts', file,
  ], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`making the feed failed: ${r.stderr}`)
  return file
}

/**
 * The feed's TS packets, frame by frame: frame N runs from the packet starting its video PES to
 * the one before the next (the PAT and PMT before the first go with frame 0).
 * @param {Buffer} ts
 */
function framesOf(ts) {
  /** @type {Buffer[][]} */
  const frames = []
  /** @type {Buffer[]} */
  let current = []
  let currentHasPes = false
  for (let off = 0; off + 188 <= ts.length; off += 188) {
    const packet = ts.subarray(off, off + 188)
    const startsPes = videoPesStarts(packet).length > 0
    if (startsPes && currentHasPes) {
      frames.push(current)
      current = []
    }
    currentHasPes ||= startsPes
    current.push(packet)
  }
  if (current.length) frames.push(current)
  return frames
}

/**
 * PTS of the video PES (stream_id 0xE0) that start in these TS packets.
 * @param {Buffer} buf
 */
function videoPesStarts(buf) {
  /** @type {number[]} */
  const out = []
  for (let off = 0; off + 188 <= buf.length; off += 188) {
    if (buf[off] !== 0x47 || ((buf[off + 1] ?? 0) & 0x40) === 0) continue
    const afc = ((buf[off + 3] ?? 0) >> 4) & 3
    let p = off + 4
    if (afc === 2) continue
    if (afc === 3) p += 1 + (buf[p] ?? 0)
    if (buf[p] !== 0 || buf[p + 1] !== 0 || buf[p + 2] !== 1 || buf[p + 3] !== 0xe0) continue
    if (((buf[p + 7] ?? 0) & 0x80) === 0) continue
    const b = buf.subarray(p + 9, p + 14)
    out.push(((b[0] ?? 0) & 0x0e) * 2 ** 29 + (b[1] ?? 0) * 2 ** 22 + ((b[2] ?? 0) >> 1) * 2 ** 15 + (b[3] ?? 0) * 2 ** 7 + ((b[4] ?? 0) >> 1))
  }
  return out
}

/** Waits until a socket is bound to UDP port `port` (Linux: /proc/net/udp lists it). @param {number} port */
async function untilUdpBound(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `
  const deadline = performance.now() + 20_000
  while (!readFileSync('/proc/net/udp', 'utf8').includes(hex)) {
    if (performance.now() > deadline) throw new Error(`nothing listened on udp://127.0.0.1:${port} within 20 s`)
    await sleep(20)
  }
}

/** @param {number[]} xs @param {number} q */
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN
}

/** @param {number} x */
function ms(x) {
  return `${Math.round(x)} ms`
}

/** @param {number} t @returns {Promise<void>} */
function sleep(t) {
  return new Promise((resolve) => setTimeout(resolve, t))
}

