#!/usr/bin/env node
/**
 * Benchmark: the per-frame PSNR+SSIM kernels (packages/encoder/src/metrics) against the ffmpeg
 * CLI's own `psnr` and `ssim` filters, on the same raw yuv420p frames, at 1280x720 and 1920x1080.
 *
 *   node scripts/bench/metrics.js [--quick] [--check] [--reps N] [--frames N] [--regenerate]
 *
 * Input per size: mandelbrot with temporal noise (texture in every plane, as camera noise gives)
 * as the reference, and the same frames through libx264 veryfast at 3 Mb/s, decoded back, as the
 * distorted copy; both raw yuv420p, cached under .bench/.
 *
 * Ours: ms per frame on one thread, frames already in memory, of what the metrics worker runs
 * (measurePsnrSsim on the WebAssembly SIMD kernels, copying the planes into wasm memory included;
 * PSNR alone too) and of the plain-JavaScript kernels it falls back to (computePsnrSsim,
 * computePsnr, computeSsim). Untimed, every frame's results from both must be identical. FFmpeg's: the wall time of `ffmpeg -i dist -i ref -lavfi
 * "[0:v][1:v]psnr;[0:v][1:v]ssim" -f null -` minus the wall time of the same command with a
 * pass-through graph ("[0:v]null;[1:v]null": read, demux and hand on both inputs), over the
 * frame count: the filters' own cost. Run with one filter thread (`-filter_complex_threads 1`,
 * comparable with one kernel thread) and with FFmpeg's default (one per core, slice-threaded).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { positiveInt, readBenchFlags } from '../lib/bench-flags.js'
import { resolveFfmpeg } from '../lib/ffmpeg-bin.js'

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const METRICS_DIST = path.join(REPO_ROOT, 'packages/encoder/dist/metrics/index.js')
const WASM_DIST = path.join(REPO_ROOT, 'packages/encoder/dist/metrics/kernels.wasm')
const CACHE_DIR = path.join(REPO_ROOT, '.bench')

/** The brief's target: PSNR+SSIM of a 720p frame, all three planes, well under 4 ms on one thread. */
const TARGET_MS_720P = 4
const SIZES = /** @type {const} */ ([[1280, 720], [1920, 1080]])
const FPS = 30
const BITRATE = '3M'

/** The flag table: parseArgs reads `type` and `default`, --help prints `description`. */
const FLAGS = /** @type {const} */ ({
  quick: { type: 'boolean', default: false, description: '20 frames, 2 repetitions (CI smoke)' },
  check: { type: 'boolean', default: false, description: `exit non-zero when ours at 720p is not under ${TARGET_MS_720P} ms/frame` },
  reps: { type: 'string', default: '3', description: 'timed repetitions of each variant' },
  frames: { type: 'string', default: '100', description: 'frames per size' },
  regenerate: { type: 'boolean', default: false, description: 'rebuild the cached inputs in .bench/' },
  help: { type: 'boolean', default: false, description: 'print this help' },
})

const flags = readBenchFlags('metrics.js', FLAGS)
if (flags) await main()

async function main() {
  const reps = flags.quick ? 2 : positiveInt('reps', flags.reps)
  const frames = flags.quick ? 20 : positiveInt('frames', flags.frames)
  const metrics = await loadMetrics()
  const wasm = (await import('../../packages/encoder/dist/io/metrics-wasm.js')).loadWasmKernels()
  const { ffmpeg } = resolveFfmpeg()
  const cpus = os.cpus()
  console.log('\nPSNR + SSIM per frame (Y, U and V), ours vs the ffmpeg CLI filters')
  console.log(`node ${process.version}, ${os.platform()} ${os.arch()}, ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}; ${ffmpegVersion(ffmpeg)}`)
  console.log(`${frames} frames per size, ${reps} repetitions interleaved; medians (min in brackets)\n`)

  /** @type {{ size: string, ours: number }[]} */
  const summary = []
  for (const [width, height] of SIZES) {
    const input = prepareInput(ffmpeg, width, height, frames, flags.regenerate)
    const result = measureSize(metrics, wasm, ffmpeg, input, reps)
    printSize(input, result)
    summary.push({ size: `${width}x${height}`, ours: result.ours.both.median })
  }

  const hd = summary[0]
  const pass = hd !== undefined && hd.ours < TARGET_MS_720P
  console.log(`\n${pass ? 'PASS' : 'FAIL'}: ours at ${hd?.size} takes ${hd?.ours.toFixed(2)} ms/frame (median), target < ${TARGET_MS_720P} ms`)
  if (!pass && flags.check) process.exitCode = 1
}


/** The built kernels; a clear message when they have not been built yet. */
async function loadMetrics() {
  for (const f of [METRICS_DIST, WASM_DIST]) {
    if (!existsSync(f)) throw new Error(`${path.relative(REPO_ROOT, f)} is missing: build it first with \`pnpm -s build\``)
  }
  return import('../../packages/encoder/dist/metrics/index.js')
}

// ---------------------------------------------------------------------------------------------
// Input

/**
 * @typedef {{ width: number, height: number, frames: number, frameBytes: number, refFile: string, distFile: string }} Input
 */

/**
 * The reference and distorted raw files for one size, made (and cached) when missing.
 * @param {string} ffmpeg
 * @param {number} width
 * @param {number} height
 * @param {number} frames
 * @param {boolean} regenerate
 * @returns {Input}
 */
function prepareInput(ffmpeg, width, height, frames, regenerate) {
  mkdirSync(CACHE_DIR, { recursive: true })
  const size = `${width}x${height}`
  const stem = path.join(CACHE_DIR, `metrics-mandelbrot-${size}-${frames}f`)
  const refFile = `${stem}-ref.yuv`
  const distFile = `${stem}-x264-${BITRATE.toLowerCase()}bps-dist.yuv`
  const frameBytes = width * height + 2 * ((width + 1) >> 1) * ((height + 1) >> 1)
  if (regenerate) for (const f of [refFile, distFile]) rmSync(f, { force: true })
  const raw = ['-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', size, '-r', String(FPS)]
  if (!existsSync(refFile)) {
    console.log(`making ${path.relative(REPO_ROOT, refFile)} with ffmpeg ...`)
    runFfmpeg(ffmpeg, [
      '-f', 'lavfi', '-i', `mandelbrot=size=${size}:rate=${FPS}`, '-frames:v', String(frames),
      '-vf', 'noise=alls=8:allf=t', '-pix_fmt', 'yuv420p', '-f', 'rawvideo', `${refFile}.tmp`,
    ])
    renameSync(`${refFile}.tmp`, refFile)
  }
  if (!existsSync(distFile)) {
    console.log(`making ${path.relative(REPO_ROOT, distFile)} with ffmpeg (libx264 veryfast ${BITRATE}b/s, decoded back) ...`)
    const h264 = `${stem}.h264`
    runFfmpeg(ffmpeg, [...raw, '-i', refFile, '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', BITRATE, '-maxrate', BITRATE, '-bufsize', '6M', '-g', '60', '-f', 'h264', h264])
    runFfmpeg(ffmpeg, ['-i', h264, '-f', 'rawvideo', '-pix_fmt', 'yuv420p', `${distFile}.tmp`])
    rmSync(h264, { force: true })
    renameSync(`${distFile}.tmp`, distFile)
  }
  // Untimed check, so a stale or truncated cache is caught.
  for (const f of [refFile, distFile]) {
    const bytes = statSync(f).size
    if (bytes !== frames * frameBytes) throw new Error(`${f}: ${bytes} bytes, want ${frames} frames of ${frameBytes}: delete .bench/ or pass --regenerate`)
  }
  return { width, height, frames, frameBytes, refFile, distFile }
}

/**
 * @param {string} ffmpeg
 * @param {string[]} args
 * @param {string} [logLevel]
 * @returns {string} stderr
 */
function runFfmpeg(ffmpeg, args, logLevel = 'error') {
  const r = spawnSync(ffmpeg, ['-hide_banner', '-nostats', '-loglevel', logLevel, '-nostdin', '-y', ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 * 1024 * 1024 })
  if (r.error) throw new Error(`cannot run ${ffmpeg}: ${r.error.message}`, { cause: r.error })
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`)
  return r.stderr
}

/** @param {string} ffmpeg */
function ffmpegVersion(ffmpeg) {
  const r = spawnSync(ffmpeg, ['-hide_banner', '-version'], { encoding: 'utf8' })
  return (r.stdout ?? '').split('\n')[0]?.trim() ?? ffmpeg
}

// ---------------------------------------------------------------------------------------------
// Measuring

/** @typedef {{ median: number, min: number }} Stat */

/**
 * @typedef {object} SizeResult
 * @property {{ both: Stat, psnr: Stat }} ours  ms per frame, WebAssembly SIMD kernels
 * @property {{ both: Stat, psnr: Stat, ssim: Stat }} js  ms per frame, plain-JavaScript kernels
 * @property {{ oneThread: Stat, defaultThreads: Stat }} ffmpeg  the filters' ms per frame
 * @property {{ psnrDb: number, ssim: number }} agreement  |ours - FFmpeg's| of the clip averages
 */

/**
 * @param {typeof import('../../packages/encoder/dist/metrics/index.js')} metrics
 * @param {import('../../packages/encoder/dist/metrics/index.js').WasmKernels} wasm
 * @param {string} ffmpeg
 * @param {Input} input
 * @param {number} reps
 * @returns {SizeResult}
 */
function measureSize(metrics, wasm, ffmpeg, input, reps) {
  const refs = pictures(readFileSync(input.refFile), input)
  const dists = pictures(readFileSync(input.distFile), input)
  const n = input.frames
  checkSameResults(metrics, wasm, refs, dists)

  /** @param {(ref: import('../../packages/encoder/dist/metrics/index.js').Picture, dist: import('../../packages/encoder/dist/metrics/index.js').Picture) => unknown} fn */
  const oursRun = (fn) => () => {
    const t0 = performance.now()
    for (let f = 0; f < n; f++) fn(/** @type {*} */ (refs[f]), /** @type {*} */ (dists[f]))
    return (performance.now() - t0) / n
  }
  const raw = ['-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${input.width}x${input.height}`, '-r', String(FPS)]
  // FFmpeg's psnr/ssim take the distorted ("main") input first, the reference second.
  const inputs = [...raw, '-i', input.distFile, ...raw, '-i', input.refFile]
  /** @param {string[]} threads @param {string} graph */
  const ffmpegArgs = (threads, graph) => [...threads, ...inputs, '-lavfi', graph, '-f', 'null', '-']
  const METRICS_GRAPH = '[0:v][1:v]psnr;[0:v][1:v]ssim'
  const NULL_GRAPH = '[0:v]null;[1:v]null'
  const ONE_THREAD = ['-filter_complex_threads', '1', '-filter_threads', '1']
  /** @param {string[]} args */
  const wallMs = (args) => {
    const t0 = performance.now()
    runFfmpeg(ffmpeg, args)
    return performance.now() - t0
  }
  /** @param {string[]} threads */
  const ffmpegRun = (threads) => () => (wallMs(ffmpegArgs(threads, METRICS_GRAPH)) - wallMs(ffmpegArgs(threads, NULL_GRAPH))) / n

  const variants = {
    both: oursRun((ref, dist) => metrics.measurePsnrSsim(ref, dist, wasm)),
    psnr: oursRun((ref, dist) => metrics.measurePsnr(ref, dist, wasm)),
    jsBoth: oursRun(metrics.computePsnrSsim),
    jsPsnr: oursRun(metrics.computePsnr),
    jsSsim: oursRun(metrics.computeSsim),
    ffmpegOne: ffmpegRun(ONE_THREAD),
    ffmpegDefault: ffmpegRun([]),
  }
  // Warm-up: JIT for ours, page cache for FFmpeg's reads.
  variants.both()
  variants.psnr()
  variants.jsBoth()
  variants.jsPsnr()
  variants.jsSsim()
  wallMs(ffmpegArgs([], NULL_GRAPH))
  /** @type {Record<keyof typeof variants, number[]>} */
  const times = { both: [], psnr: [], jsBoth: [], jsPsnr: [], jsSsim: [], ffmpegOne: [], ffmpegDefault: [] }
  const names = /** @type {(keyof typeof variants)[]} */ (Object.keys(variants))
  for (let r = 0; r < reps; r++) {
    // Rotate the order per round so none always runs after the same neighbour.
    for (let k = 0; k < names.length; k++) {
      const name = /** @type {keyof typeof variants} */ (names[(r + k) % names.length])
      times[name].push(variants[name]())
    }
  }

  return {
    ours: { both: stat(times.both), psnr: stat(times.psnr) },
    js: { both: stat(times.jsBoth), psnr: stat(times.jsPsnr), ssim: stat(times.jsSsim) },
    ffmpeg: { oneThread: stat(times.ffmpegOne), defaultThreads: stat(times.ffmpegDefault) },
    agreement: agreement(metrics, wasm, ffmpeg, inputs, refs, dists, METRICS_GRAPH),
  }
}

/**
 * Untimed: the WebAssembly kernels give exactly the JavaScript kernels' numbers on every frame.
 * @param {typeof import('../../packages/encoder/dist/metrics/index.js')} metrics
 * @param {import('../../packages/encoder/dist/metrics/index.js').WasmKernels} wasm
 * @param {import('../../packages/encoder/dist/metrics/index.js').Picture[]} refs
 * @param {import('../../packages/encoder/dist/metrics/index.js').Picture[]} dists
 */
function checkSameResults(metrics, wasm, refs, dists) {
  for (let f = 0; f < refs.length; f++) {
    const ref = /** @type {*} */ (refs[f])
    const dist = /** @type {*} */ (dists[f])
    const w = JSON.stringify([metrics.measurePsnrSsim(ref, dist, wasm), metrics.measurePsnr(ref, dist, wasm)])
    const j = JSON.stringify([metrics.computePsnrSsim(ref, dist), metrics.computePsnr(ref, dist)])
    if (w !== j) throw new Error(`frame ${f}: the WebAssembly kernels give ${w}, the JavaScript ones ${j}`)
  }
}

/**
 * Untimed: FFmpeg's end-of-run averages (PSNR of the mean MSE, mean SSIM All) against ours.
 * @param {typeof import('../../packages/encoder/dist/metrics/index.js')} metrics
 * @param {import('../../packages/encoder/dist/metrics/index.js').WasmKernels} wasm
 * @param {string} ffmpeg
 * @param {string[]} inputs
 * @param {import('../../packages/encoder/dist/metrics/index.js').Picture[]} refs
 * @param {import('../../packages/encoder/dist/metrics/index.js').Picture[]} dists
 * @param {string} graph
 */
function agreement(metrics, wasm, ffmpeg, inputs, refs, dists, graph) {
  const log = runFfmpeg(ffmpeg, [...inputs, '-lavfi', graph, '-f', 'null', '-'], 'info')
  const psnrAvg = Number(/PSNR y:\S+ u:\S+ v:\S+ average:(\S+)/.exec(log)?.[1])
  const ssimAll = Number(/SSIM Y:.* All:(\S+)/.exec(log)?.[1])
  let mseSum = 0
  let ssimSum = 0
  for (let f = 0; f < refs.length; f++) {
    const ref = /** @type {import('../../packages/encoder/dist/metrics/index.js').Picture} */ (refs[f])
    const r = metrics.measurePsnrSsim(ref, /** @type {*} */ (dists[f]), wasm)
    // FFmpeg's summary is the PSNR of the mean mse_avg (it averages MSE, not dB).
    const [y, u, v] = ref.planes.map((p) => p.width * p.height)
    const total = (y ?? 0) + (u ?? 0) + (v ?? 0)
    mseSum += (r.psnr.mseY * (y ?? 0) + r.psnr.mseU * (u ?? 0) + r.psnr.mseV * (v ?? 0)) / total
    ssimSum += r.ssim.all
  }
  const oursPsnr = metrics.psnrFromMse(mseSum / refs.length)
  return { psnrDb: Math.abs(oursPsnr - psnrAvg), ssim: Math.abs(ssimSum / refs.length - ssimAll) }
}

/**
 * The frames of a raw yuv420p buffer as pictures whose planes are views into it.
 * @param {Buffer} buf
 * @param {Input} input
 * @returns {import('../../packages/encoder/dist/metrics/index.js').Picture[]}
 */
function pictures(buf, input) {
  const { width: w, height: h, frameBytes } = input
  const cw = (w + 1) >> 1
  const ch = (h + 1) >> 1
  /** @type {import('../../packages/encoder/dist/metrics/index.js').Picture[]} */
  const out = []
  for (let o = 0; o + frameBytes <= buf.length; o += frameBytes) {
    /** @param {number} start @param {number} pw @param {number} ph */
    const plane = (start, pw, ph) => ({ data: buf.subarray(o + start, o + start + pw * ph), linesize: pw, width: pw, height: ph })
    out.push({ planes: [plane(0, w, h), plane(w * h, cw, ch), plane(w * h + cw * ch, cw, ch)] })
  }
  return out
}

/** @param {number[]} xs @returns {Stat} */
function stat(xs) {
  const sorted = [...xs].sort((a, b) => a - b)
  const m = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? (sorted[m] ?? NaN) : ((sorted[m - 1] ?? NaN) + (sorted[m] ?? NaN)) / 2
  return { median, min: sorted[0] ?? NaN }
}

// ---------------------------------------------------------------------------------------------
// Report

/** @param {Input} input @param {SizeResult} r */
function printSize(input, r) {
  /** @param {Stat} s */
  const fmt = (s) => `${s.median.toFixed(2)} (${s.min.toFixed(2)})`
  const rows = [
    ['ours: PSNR+SSIM, wasm SIMD (the worker\'s path), 1 thread', fmt(r.ours.both)],
    ['ours: PSNR alone, wasm SIMD', fmt(r.ours.psnr)],
    ['ours: PSNR+SSIM, plain JS (computePsnrSsim, fallback)', fmt(r.js.both)],
    ['ours: PSNR alone, plain JS (computePsnr)', fmt(r.js.psnr)],
    ['ours: SSIM alone, plain JS (computeSsim)', fmt(r.js.ssim)],
    ['ffmpeg psnr+ssim filters, 1 filter thread', fmt(r.ffmpeg.oneThread)],
    [`ffmpeg psnr+ssim filters, default threads (${os.cpus().length} cores)`, fmt(r.ffmpeg.defaultThreads)],
  ]
  console.log(`${input.width}x${input.height} yuv420p, ${input.frames} frames           ms/frame`)
  for (const [label, value] of rows) console.log(`  ${(label ?? '').padEnd(58)} ${value}`)
  /** @param {number} ratio */
  const says = (ratio) => `${ratio.toFixed(2)}×  (${ratio < 1 ? `${(1 / ratio).toFixed(2)}× faster` : `${ratio.toFixed(2)}× slower`})`
  console.log(`  ours, wasm SIMD / ffmpeg (1 thread, medians): ${says(r.ours.both.median / r.ffmpeg.oneThread.median)}`)
  console.log(`  ours, plain JS / ffmpeg (1 thread, medians):  ${says(r.js.both.median / r.ffmpeg.oneThread.median)}`)
  console.log('  wasm SIMD and plain JS results identical on every frame (checked, untimed)')
  console.log(`  agreement with FFmpeg's clip averages: PSNR ${r.agreement.psnrDb.toExponential(1)} dB, SSIM All ${r.agreement.ssim.toExponential(1)}\n`)
}
