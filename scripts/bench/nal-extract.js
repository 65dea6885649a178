#!/usr/bin/env node
/**
 * Benchmark: NAL splitting and MQA-SEI extraction, against the floor of scanning the same bytes
 * for start codes with Buffer#indexOf. All variants run in one process, interleaved, on the same
 * buffer, so the ratio stays steadier than the absolute numbers on a busy machine.
 * See scripts/bench/README.md.
 *
 *   node scripts/bench/nal-extract.js [--quick] [--check] [--reps N] [--regenerate]
 *
 * Input: a 1080p30 H.264 elementary stream at 8 Mb/s made by the ffmpeg CLI (libx264, AUD on),
 * with our MQA SEI inserted into every access unit; both are cached under .bench/.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { positiveInt, readBenchFlags } from '../lib/bench-flags.js'

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const COMMON_DIST = path.join(REPO_ROOT, 'packages/common/dist/index.js')
const CACHE_DIR = path.join(REPO_ROOT, '.bench')

/** The target: full extraction at ≥ 50% of the floor's MB/s. */
const TARGET_RATIO = 0.5
const FPS = 30
const BITRATE = '8M'
const GOP_FRAMES = 60
/** Seven TS packets: what one UDP datagram of MPEG-TS carries. */
const CHUNK_BYTES = 188 * 7
/** Timecode of frame 0: 10:00:00:00, as broadcast sources usually start. */
const FIRST_TIMECODE_FRAME = 10 * 3600 * FPS

/** The flag table: parseArgs reads `type` and `default`, --help prints `description`. */
const FLAGS = /** @type {const} */ ({
  quick: { type: 'boolean', default: false, description: '10 s stream instead of 60 s (CI smoke)' },
  check: { type: 'boolean', default: false, description: 'exit non-zero when the target is missed' },
  reps: { type: 'string', default: '7', description: 'timed repetitions of each variant' },
  regenerate: { type: 'boolean', default: false, description: 'rebuild the cached input in .bench/' },
  help: { type: 'boolean', default: false, description: 'print this help' },
})

const flags = readBenchFlags('nal-extract.js', FLAGS)
if (flags) await main()

async function main() {
  const reps = positiveInt('reps', flags.reps)
  const common = await loadCommon()
  const seconds = flags.quick ? 10 : 60
  const file = await prepareInput(common, seconds, flags.regenerate)
  const buf = readFileSync(file)
  const input = verifyInput(common, buf)

  printHeader(file, buf, input, reps)
  const variants = makeVariants(common, input)
  const results = runInterleaved(variants, buf, reps)
  for (const r of results) r.variant.verify(r.outputs)
  const pass = printResults(results, buf.length, flags.check)
  if (!pass && flags.check) process.exitCode = 1
}

/** The built pure core; a clear message when it has not been built yet. */
async function loadCommon() {
  if (!existsSync(COMMON_DIST)) {
    throw new Error(`${path.relative(REPO_ROOT, COMMON_DIST)} is missing: build it first with \`pnpm exec tsc -b packages/common\``)
  }
  return import('../../packages/common/dist/index.js')
}

// ---------------------------------------------------------------------------------------------
// Input

/**
 * Path of the H.264 stream with an MQA SEI in every access unit, made (and cached) when missing.
 * @param {typeof import('../../packages/common/dist/index.js')} common
 * @param {number} seconds
 * @param {boolean} regenerate
 */
async function prepareInput(common, seconds, regenerate) {
  mkdirSync(CACHE_DIR, { recursive: true })
  const stem = `h264-1080p${FPS}-${BITRATE.toLowerCase()}bps-${seconds}s`
  const raw = path.join(CACHE_DIR, `${stem}.h264`)
  const withSei = path.join(CACHE_DIR, `${stem}-mqa.h264`)
  if (regenerate) {
    rmSync(raw, { force: true })
    rmSync(withSei, { force: true })
  }
  if (!existsSync(raw)) await encodeTestStream(raw, seconds)
  if (!existsSync(withSei)) {
    const t0 = performance.now()
    const out = insertMqaSeiEverywhere(common, readFileSync(raw))
    writeAtomically(withSei, out.bytes)
    console.log(`prepared ${path.relative(REPO_ROOT, withSei)}: MQA SEI in ${out.accessUnits} access units (${ms(performance.now() - t0)})`)
  }
  return withSei
}

/**
 * testsrc2 with temporal noise, so libx264 really spends the 8 Mb/s (a clean test pattern codes
 * to a fraction of it). aud=1 starts every access unit with an AUD, which makes grouping exact.
 * @param {string} file
 * @param {number} seconds
 */
async function encodeTestStream(file, seconds) {
  const tmp = `${file}.tmp`
  const args = [
    ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y'],
    ['-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=${FPS}:duration=${seconds}`],
    ['-vf', 'noise=alls=12:allf=t', '-pix_fmt', 'yuv420p'],
    ['-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', BITRATE, '-maxrate', BITRATE, '-bufsize', '16M', '-g', String(GOP_FRAMES)],
    ['-x264-params', 'aud=1', '-bsf:v', 'h264_mp4toannexb', '-f', 'h264', tmp],
  ].flat()
  console.log(`encoding ${seconds} s of 1080p${FPS} H.264 at ${BITRATE}b/s with ffmpeg (cached in .bench/) ...`)
  const t0 = performance.now()
  try {
    await promisify(execFile)('ffmpeg', args, { maxBuffer: 16 * 1024 * 1024 })
  } catch (err) {
    rmSync(tmp, { force: true })
    const e = /** @type {NodeJS.ErrnoException & { stderr?: string }} */ (err)
    if (e.code === 'ENOENT') throw new Error('ffmpeg is not on PATH: install it (apt-get install ffmpeg) to make the benchmark input', { cause: err })
    throw new Error(`ffmpeg failed making the benchmark input: ${e.stderr?.trim() || e.message}`, { cause: err })
  }
  renameSync(tmp, file)
  console.log(`encoded ${path.relative(REPO_ROOT, file)} (${ms(performance.now() - t0)})`)
}

/** @param {string} file @param {Uint8Array} bytes */
function writeAtomically(file, bytes) {
  writeFileSync(`${file}.tmp`, bytes)
  renameSync(`${file}.tmp`, file)
}

/**
 * A record like the encoder writes: frame number, timecode, PSNR, SSIM and the MQA-VIDEO they give.
 * The values drift smoothly so the payload lengths vary the way real ones do.
 * @param {typeof import('../../packages/common/dist/index.js')} common
 * @param {number} frameNumber
 */
function recordFor(common, frameNumber) {
  const psnrDb = round3(38 + 4 * Math.sin(frameNumber / 23) + (frameNumber % GOP_FRAMES === 0 ? 1.5 : 0))
  const ssim = round3(0.955 + 0.03 * Math.sin(frameNumber / 31))
  const timecode = common.formatTimecode(common.frameIndexToTimecode(FIRST_TIMECODE_FRAME + frameNumber, common.frameRate(FPS)))
  return { frameNumber, timecode, psnrDb, ssim, mqa: common.mqaVideo({ psnrDb, ssim }) }
}

/** @param {number} x */
function round3(x) {
  return Math.round(x * 1000) / 1000
}

/**
 * @param {typeof import('../../packages/common/dist/index.js')} common
 * @param {Uint8Array} raw
 */
function insertMqaSeiEverywhere(common, raw) {
  const codec = common.VideoCodec.H264
  const aus = groupAccessUnits(common, common.splitAnnexB(raw, codec), raw.length)
  if (aus.length === 0) throw new Error('the encoded stream has no access units')
  const parts = aus.map((au, i) => common.insertSeiAnnexB(codec, raw.subarray(au.begin, au.end), common.buildMqaSeiNal(codec, recordFor(common, i))))
  return { bytes: Buffer.concat(parts), accessUnits: aus.length }
}

/**
 * @typedef {{ begin: number, end: number, nals: import('../../packages/common/dist/index.js').NalUnit[] }} AccessUnit
 */

/**
 * Group NAL units into access units (H.264 7.4.1.2.3): one starts at an AUD, or, after the first
 * slice of a picture, at SPS/PPS/SEI/types 14–18 or at a slice with first_mb_in_slice = 0.
 * Enough for streams without arbitrary slice order, which is all x264 writes.
 * @param {typeof import('../../packages/common/dist/index.js')} common
 * @param {import('../../packages/common/dist/index.js').NalUnit[]} nals
 * @param {number} length of the buffer the NAL units came from
 * @returns {AccessUnit[]}
 */
function groupAccessUnits(common, nals, length) {
  const T = common.H264NalType
  const codec = common.VideoCodec.H264
  /** @type {AccessUnit[]} */
  const aus = []
  /** @type {AccessUnit | undefined} */
  let au
  let sawSlice = false
  for (const nal of nals) {
    const slice = common.isVclNal(codec, nal.type)
    const prefix = nal.type === T.SEI || nal.type === T.SPS || nal.type === T.PPS || (nal.type >= 14 && nal.type <= 18)
    // first_mb_in_slice is ue(v) right after the header: 0 is the single bit 1.
    const firstSliceOfPicture = slice && ((nal.data[1] ?? 0) & 0x80) !== 0
    if (!au || nal.type === T.AUD || (sawSlice && (prefix || firstSliceOfPicture))) {
      if (au) au.end = nal.start
      au = { begin: nal.start, end: length, nals: [] }
      aus.push(au)
      sawSlice = false
    }
    au.nals.push(nal)
    if (slice) sawSlice = true
  }
  return aus
}

/**
 * Every access unit carries exactly one MQA record, numbered in order; run on every invocation,
 * untimed, so a stale or damaged cache is caught.
 * @param {typeof import('../../packages/common/dist/index.js')} common
 * @param {Buffer} buf
 */
function verifyInput(common, buf) {
  const codec = common.VideoCodec.H264
  const nals = common.splitAnnexB(buf, codec)
  const aus = groupAccessUnits(common, nals, buf.length)
  aus.forEach((au, i) => {
    const found = common.readMqaRecords(codec, au.nals)
    const [error] = found.errors
    if (error) throw new Error(`access unit ${i}: ${error.code} ${error.message}`)
    if (found.records.length !== 1 || found.records[0]?.frameNumber !== i) {
      throw new Error(`access unit ${i} (byte ${au.begin}) has ${found.records.length} MQA records, want one with fn=${i}: delete .bench/ or pass --regenerate`)
    }
  })
  const seiNals = nals.filter((n) => n.type === common.H264NalType.SEI)
  const mqaSeiBytes = seiNals.filter((n) => common.readMqaRecords(codec, [n]).records.length > 0).map((n) => n.data.length)
  return {
    accessUnits: aus.length,
    nals: nals.length,
    seiNals: seiNals.length,
    mqaSeiBytes: `${Math.min(...mqaSeiBytes)}–${Math.max(...mqaSeiBytes)} B`,
  }
}

// ---------------------------------------------------------------------------------------------
// Variants

/**
 * @typedef {object} Variant
 * @property {string} name
 * @property {string} label
 * @property {(buf: Buffer) => number} run  returns a count, checked afterwards (and keeps the work alive)
 * @property {(outputs: number[]) => void} verify
 */

/**
 * @param {typeof import('../../packages/common/dist/index.js')} common
 * @param {{ accessUnits: number, nals: number }} input
 * @returns {Variant[]}
 */
function makeVariants(common, input) {
  const codec = common.VideoCodec.H264
  const SEI = common.H264NalType.SEI
  const needle = Buffer.from([0, 0, 1])
  /** @param {string} what @param {number} want */
  const expect = (what, want) => (/** @type {number[]} */ outputs) => {
    for (const got of outputs) if (got !== want) throw new Error(`${what}: counted ${got}, want ${want}`)
  }
  /** @param {import('../../packages/common/dist/index.js').NalUnit[]} nals */
  const countRecords = (nals) => {
    let records = 0
    for (const nal of nals) if (nal.type === SEI) records += common.readMqaRecords(codec, [nal]).records.length
    return records
  }
  return [
    {
      name: 'floor',
      label: 'floor: Buffer#indexOf(00 00 01), count hits',
      run(buf) {
        let hits = 0
        for (let i = buf.indexOf(needle, 0); i !== -1; i = buf.indexOf(needle, i + 3)) hits++
        return hits
      },
      // Every start code, 3- or 4-byte, ends in 00 00 01 once; the payloads are escaped.
      verify: expect('floor start codes', input.nals),
    },
    {
      name: 'ours',
      label: 'ours: splitAnnexB + readMqaRecords per SEI',
      run: (buf) => countRecords(common.splitAnnexB(buf, codec)),
      verify: expect('ours MQA records', input.accessUnits),
    },
    {
      // Not part of the target: the same work on a plain Uint8Array view of the same bytes, since
      // callers that assemble their own buffers (TS demux, fetch) do not hand over a Buffer.
      name: 'uint8array',
      label: 'ours, input as a plain Uint8Array',
      run: (buf) => countRecords(common.splitAnnexB(new Uint8Array(buf.buffer, buf.byteOffset, buf.length), codec)),
      verify: expect('Uint8Array MQA records', input.accessUnits),
    },
    {
      name: 'streaming',
      label: `ours, streaming: AnnexBSplitter, ${CHUNK_BYTES}-B chunks`,
      run(buf) {
        const splitter = new common.AnnexBSplitter(codec)
        let records = 0
        for (let pos = 0; pos < buf.length; pos += CHUNK_BYTES) records += countRecords(splitter.push(buf.subarray(pos, pos + CHUNK_BYTES)))
        return records + countRecords(splitter.flush())
      },
      verify: expect('streaming MQA records', input.accessUnits),
    },
  ]
}

/**
 * @typedef {{ variant: Variant, timesMs: number[], outputs: number[] }} VariantResult
 */

/**
 * One untimed warm-up of each, then `reps` rounds; each round runs every variant once, in an
 * order rotated per round so none always runs after the same neighbour.
 * @param {Variant[]} variants
 * @param {Buffer} buf
 * @param {number} reps
 * @returns {VariantResult[]}
 */
function runInterleaved(variants, buf, reps) {
  const gc = typeof globalThis.gc === 'function' ? globalThis.gc : () => {}
  const results = variants.map((variant) => ({ variant, timesMs: /** @type {number[]} */ ([]), outputs: /** @type {number[]} */ ([]) }))
  for (const v of variants) v.run(buf)
  for (let r = 0; r < reps; r++) {
    for (let k = 0; k < results.length; k++) {
      const res = /** @type {VariantResult} */ (results[(r + k) % results.length])
      gc()
      const t0 = performance.now()
      const out = res.variant.run(buf)
      const t1 = performance.now()
      res.timesMs.push(t1 - t0)
      res.outputs.push(out)
    }
  }
  return results
}

// ---------------------------------------------------------------------------------------------
// Report

/**
 * @param {string} file
 * @param {Buffer} buf
 * @param {{ accessUnits: number, nals: number, seiNals: number, mqaSeiBytes: string }} input
 * @param {number} reps
 */
function printHeader(file, buf, input, reps) {
  const seconds = input.accessUnits / FPS
  const cpus = os.cpus()
  console.log('\nNAL splitting and MQA-SEI extraction')
  console.log(`node ${process.version}, ${os.platform()} ${os.arch()}, ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}`)
  console.log(
    `input ${path.relative(REPO_ROOT, file)}: ${(buf.length / 1e6).toFixed(1)} MB, ${seconds.toFixed(1)} s, ` +
      `${((buf.length * 8) / seconds / 1e6).toFixed(2)} Mb/s, ${input.accessUnits} access units, ${input.nals} NAL units, ` +
      `${input.seiNals} SEI NAL units (MQA SEI NAL units of ${input.mqaSeiBytes})`,
  )
  console.log(`${reps} repetitions, interleaved${typeof globalThis.gc === 'function' ? ', gc before each' : ''}; MB/s = 10^6 bytes/s; best = from the min time\n`)
}

/**
 * @param {VariantResult[]} results  the floor first, full extraction second
 * @param {number} bytes
 * @param {boolean} check  whether a miss sets the exit status
 * @returns {boolean} whether the target is met
 */
function printResults(results, bytes, check) {
  const stats = results.map((r) => {
    const sorted = [...r.timesMs].sort((a, b) => a - b)
    return { name: r.variant.name, label: r.variant.label, medianMs: median(sorted), minMs: sorted[0] ?? NaN }
  })
  const [floor, ours] = stats
  if (floor?.name !== 'floor' || ours?.name !== 'ours') throw new Error('the floor and full extraction must be the first two variants')
  const mbps = (/** @type {number} */ timeMs) => bytes / 1e3 / timeMs
  const widths = [46, 10, 8, 12, 10, 16]
  const row = (/** @type {string[]} */ cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')
  console.log(row(['variant', 'median ms', 'min ms', 'MB/s median', 'MB/s best', 'vs floor median']))
  for (const s of stats) {
    const ratio = s === floor ? '' : `${pct(floor.medianMs / s.medianMs)} (${pct(floor.minMs / s.minMs)} best)`
    console.log(row([s.label, s.medianMs.toFixed(1), s.minMs.toFixed(1), mbps(s.medianMs).toFixed(0), mbps(s.minMs).toFixed(0), ratio]))
  }
  const ratio = floor.medianMs / ours.medianMs
  const pass = ratio >= TARGET_RATIO
  console.log(
    `\n${pass ? 'PASS' : 'FAIL'}: full extraction runs at ${pct(ratio)} of the floor's MB/s (median), target ≥ ${pct(TARGET_RATIO)}` +
      `${!pass && !check ? ' (exit status 0: pass --check to fail on it)' : ''}`,
  )
  return pass
}

/** @param {number[]} sorted */
function median(sorted) {
  const m = sorted.length >> 1
  const hi = sorted[m] ?? NaN
  return sorted.length % 2 === 1 ? hi : ((sorted[m - 1] ?? NaN) + hi) / 2
}

/** @param {number} x */
function pct(x) {
  return `${(x * 100).toFixed(0)}%`
}

/** @param {number} t */
function ms(t) {
  return t < 1000 ? `${t.toFixed(0)} ms` : `${(t / 1000).toFixed(1)} s`
}
