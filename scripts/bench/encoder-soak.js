#!/usr/bin/env node
/**
 * Benchmark: does `mqa encode` hold its memory over a long run, as a long-lived encoder must? It
 * encodes one long MPEG-TS input (read through mqa's own TS path, as a UDP or SRT input is) with
 * every frame measured, and the ffmpeg CLI does the same encode of the same input, one after the
 * other; RSS of each process is sampled every 0.5 s. What it prints per process: RSS at a quarter
 * of the run and at the end, and the growth per frame (the slope of a least-squares line through
 * the samples after the first quarter, divided by the frame rate the run reached), with what that
 * comes to in a day at 30 fps; and the same slope over the last half of the run alone, which is
 * smaller when the growth levels off.
 *
 *   node scripts/bench/encoder-soak.js [--frames N] [--quick] [--check] [--regenerate]
 *
 * Input (cached under .bench/): testsrc2 at 640x360, 30 fps, libx264 ultrafast at 2 Mb/s, 2 s
 * GOPs, with a 48 kHz stereo tone in AAC. Small pictures on purpose: a leak per frame shows in
 * more frames per minute. Both encode the audio to AAC again (mqa `--audio aac`: its decoder,
 * filterer and encoder every audio frame, where the default would copy it and only decode).
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { resolveFfmpeg } from '../lib/ffmpeg-bin.js'

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const CLI = path.join(REPO_ROOT, 'packages/cli/dist/main.js')
const CACHE_DIR = path.join(REPO_ROOT, '.bench')
const OUT_DIR = path.join(CACHE_DIR, 'encoder-soak-out')
/** Growth per frame (bytes) `--check` accepts for (b): 200 B a frame is about 0.5 GB a day at 30 fps. */
const TARGET_BYTES_PER_FRAME = 200
const FPS = 30

const FLAGS = /** @type {const} */ ({
  frames: { type: 'string', default: '27000', description: 'input length in frames (27000: 15 min of media)' },
  quick: { type: 'boolean', default: false, description: '6000 frames (a smoke run: too short to tell a small leak from noise)' },
  check: { type: 'boolean', default: false, description: `exit non-zero when (b) grows more than ${TARGET_BYTES_PER_FRAME} B a frame` },
  regenerate: { type: 'boolean', default: false, description: 'rebuild the cached input in .bench/' },
  help: { type: 'boolean', default: false, description: 'print this help' },
})

/** @param {string} src @param {string} out */
const ffmpegArgs = (src, out) => ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-i', src, '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '1M', '-g', '60', '-bf', '3', '-c:a', 'aac', '-b:a', '128k', '-f', 'mpegts', out]
/** @param {string} src @param {string} out */
const mqaArgs = (src, out) => [CLI, 'encode', '-i', src, '-o', out, '--codec', 'h264', '--preset', 'ultrafast', '--bitrate', '1M', '--gop-seconds', '2', '--segment-seconds', '2', '--bframes', '3', '--audio', 'aac', '--audio-bitrate', '128k']

/** The cached input of `frames` frames, made when missing. @param {string} ffmpeg @param {number} frames @param {boolean} regenerate */
function input(ffmpeg, frames, regenerate) {
  mkdirSync(CACHE_DIR, { recursive: true })
  const file = path.join(CACHE_DIR, `soak-src-640x360p${FPS}-aac-${frames}f.ts`)
  if (existsSync(file) && !regenerate) return file
  const tmp = `${file}.tmp`
  const r = spawnSync(ffmpeg, [
    ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=${FPS}`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000,pan=stereo|c0=c0|c1=c0'],
    ['-frames:v', String(frames), '-t', String(frames / FPS), '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '2M', '-g', String(2 * FPS), '-c:a', 'aac', '-b:a', '128k', '-f', 'mpegts', tmp],
  ].flat(), { stdio: 'inherit' })
  if (r.status !== 0) throw new Error(`ffmpeg could not make ${file}`)
  renameSync(tmp, file)
  return file
}

/**
 * Runs a command, sampling its RSS from /proc every 0.5 s.
 * @param {string} cmd @param {string[]} args
 * @returns {Promise<{ seconds: number, samples: [number, number][] }>} samples: [s, bytes]
 */
function sampled(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)))
    const t0 = performance.now()
    /** @type {[number, number][]} */
    const samples = []
    const timer = setInterval(() => {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
        if (m) samples.push([(performance.now() - t0) / 1000, Number(m[1]) * 1024])
      } catch {
        // gone between the check and the read: the exit handler follows
      }
    }, 500)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearInterval(timer)
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr}`))
      else resolve({ seconds: (performance.now() - t0) / 1000, samples })
    })
  })
}

/** Least-squares slope of RSS over time, bytes a second. @param {[number, number][]} samples */
function slope(samples) {
  const mt = samples.reduce((a, [t]) => a + t, 0) / samples.length
  const mr = samples.reduce((a, [, r]) => a + r, 0) / samples.length
  return samples.reduce((a, [t, r]) => a + (t - mt) * (r - mr), 0) / samples.reduce((a, [t]) => a + (t - mt) ** 2, 0)
}

/**
 * Growth after the first quarter, and over the last half alone: growth that levels off (an
 * allocator settling) shows a smaller last-half figure, a leak the same.
 * @param {{ seconds: number, samples: [number, number][] }} run @param {number} frames
 */
function growth(run, frames) {
  const tail = run.samples.filter(([t]) => t >= run.seconds / 4)
  if (tail.length < 8) throw new Error(`only ${tail.length} RSS samples after the first quarter: use more frames`)
  const fps = frames / run.seconds
  const bytesPerFrame = slope(tail) / fps
  const lastHalfBytesPerFrame = slope(run.samples.filter(([t]) => t >= run.seconds / 2)) / fps
  return { fps, rssQuarterMb: tail[0][1] / 2 ** 20, rssEndMb: run.samples.at(-1)[1] / 2 ** 20, bytesPerFrame, lastHalfBytesPerFrame, mbPerDayAt30: (bytesPerFrame * FPS * 86400) / 2 ** 20 }
}

async function main() {
  const { values } = parseArgs({ options: FLAGS, strict: true })
  if (values.help) {
    for (const [name, f] of Object.entries(FLAGS)) console.log(`  --${name.padEnd(12)} ${f.description}`)
    return
  }
  const frames = values.quick ? 6000 : Number(values.frames)
  if (!Number.isInteger(frames) || frames < 3000) throw new Error(`--frames must be a whole number of at least 3000, got ${values.frames}`)
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run pnpm build first`)
  const { ffmpeg } = resolveFfmpeg()
  const src = input(ffmpeg, frames, values.regenerate)
  mkdirSync(OUT_DIR, { recursive: true })
  const outA = path.join(OUT_DIR, 'a.ts')
  const outB = path.join(OUT_DIR, 'b.ts')
  console.log(`input: ${path.relative(REPO_ROOT, src)} (${frames} frames, ${(frames / FPS / 60).toFixed(1)} min at ${FPS} fps)`)
  const a = growth(await sampled(ffmpeg, ffmpegArgs(src, outA)), frames)
  const b = growth(await sampled(process.execPath, mqaArgs(src, outB)), frames)
  const row = (/** @type {string} */ name, /** @type {ReturnType<typeof growth>} */ g) =>
    `| ${name} | ${g.fps.toFixed(0)} | ${g.rssQuarterMb.toFixed(0)} | ${g.rssEndMb.toFixed(0)} | ${g.bytesPerFrame.toFixed(0)} | ${g.lastHalfBytesPerFrame.toFixed(0)} | ${g.mbPerDayAt30.toFixed(0)} |`
  console.log('| | fps | RSS at 1/4, MB | RSS at end, MB | growth, B/frame | last half only, B/frame | MB a day at 30 fps |')
  console.log('|---|---:|---:|---:|---:|---:|---:|')
  console.log(row('(a) ffmpeg CLI', a))
  console.log(row('(b) mqa encode, every frame measured', b))
  const pass = b.bytesPerFrame <= TARGET_BYTES_PER_FRAME
  console.log(`(b) grows ${b.bytesPerFrame.toFixed(0)} B a frame, (a) ${a.bytesPerFrame.toFixed(0)}: target ≤ ${TARGET_BYTES_PER_FRAME} ${pass ? 'PASS' : 'FAIL'}`)
  rmSync(OUT_DIR, { recursive: true, force: true })
  if (values.check && !pass) process.exitCode = 1
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err)
  process.exitCode = 2
})
