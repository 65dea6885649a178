import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveFfmpeg } from '../../../scripts/lib/ffmpeg-bin.js'
import { bestKernels } from '../src/io/metrics-wasm.js'
import { chromaSize, makePicture, noise } from './pictures.js'
import {
  KernelName, MetricsScratch, SSIM_C1, SSIM_C2, computePsnr, computePsnrSsim, computeSsim, jsKernels, measurePsnrSsim,
  type Picture, type Plane, type PlaneKernels, type PsnrSsimResult,
} from '../src/metrics/index.js'

/**
 * FFmpeg's SSIM for one plane written the slow, obvious way: every 8x8 window straight from the
 * pixels, window origins every 4 pixels, ((w >> 2) - 1) x ((h >> 2) - 1) of them, the integer
 * sums then the float formula of vf_ssim.c's ssim_end1.
 */
function naiveSsim(a: Plane, b: Plane): number {
  const nx = (a.width >> 2) - 1
  const ny = (a.height >> 2) - 1
  let total = 0
  for (let wy = 0; wy < ny; wy++) {
    for (let wx = 0; wx < nx; wx++) {
      let s1 = 0, s2 = 0, ss = 0, s12 = 0
      for (let y = 4 * wy; y < 4 * wy + 8; y++) {
        for (let x = 4 * wx; x < 4 * wx + 8; x++) {
          const p = a.data[y * a.linesize + x]!
          const q = b.data[y * b.linesize + x]!
          s1 += p
          s2 += q
          ss += p * p + q * q
          s12 += p * q
        }
      }
      const vars = ss * 64 - s1 * s1 - s2 * s2
      const covar = s12 * 64 - s1 * s2
      const f = Math.fround
      total += f(f(f(2 * s1 * s2 + SSIM_C1) * f(2 * covar + SSIM_C2)) / f(f(s1 * s1 + s2 * s2 + SSIM_C1) * f(vars + SSIM_C2)))
    }
  }
  return total / (nx * ny)
}

function naiveMse(a: Plane, b: Plane): number {
  let sse = 0
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const d = a.data[y * a.linesize + x]! - b.data[y * b.linesize + x]!
      sse += d * d
    }
  }
  return sse / (a.width * a.height)
}

describe('metrics kernels: hand-computed cases', () => {
  it('gives PSNR Infinity and SSIM exactly 1 for identical pictures', () => {
    const a = makePicture(64, 48, noise(1))
    const b = makePicture(64, 48, noise(1))
    const r = computePsnrSsim(a, b)
    expect(r.psnr).toEqual({ y: Infinity, u: Infinity, v: Infinity, average: Infinity, mseY: 0, mseU: 0, mseV: 0 })
    expect(r.ssim).toMatchObject({ y: 1, u: 1, v: 1 })
    // All is 4/6·1 + 1/6·1 + 1/6·1 in doubles, as in FFmpeg: 0.9999999999999999.
    expect(r.ssim.all).toBeCloseTo(1, 15)
  })

  it('gives MSE 1 and 10·log10(255²) = 48.131 dB for an offset of 1 everywhere', () => {
    const base = noise(2)
    const a = makePicture(40, 24, (c, x, y) => base(c, x, y) % 255)
    const b = makePicture(40, 24, (c, x, y) => (base(c, x, y) % 255) + 1)
    const p = computePsnr(a, b)
    expect(p).toMatchObject({ mseY: 1, mseU: 1, mseV: 1 })
    for (const db of [p.y, p.u, p.v, p.average]) {
      expect(db).toBe(10 * Math.log10(255 * 255))
      expect(db).toBeCloseTo(48.131, 3)
    }
  })

  it('averages PSNR through the MSE weighted by sample counts, not the dB values', () => {
    // Y differs by 2 (MSE 4), U and V are identical: yuv420p weights are 4/6, 1/6, 1/6.
    const a = makePicture(32, 16, () => 100)
    const b = makePicture(32, 16, (c) => (c === 0 ? 102 : 100))
    const p = computePsnr(a, b)
    expect(p.mseY).toBe(4)
    expect(p.u).toBe(Infinity)
    expect(p.average).toBeCloseTo(10 * Math.log10((255 * 255) / (4 * 4 / 6)), 12)
  })

  it('gives the luminance term (2·μa·μb + c1) / (μa² + μb² + c1) for flat planes', () => {
    // No variance anywhere, so every window's SSIM is the luminance term alone; FFmpeg's c1 is
    // (0.01·255)²·64 rounded to the integer 416, on sums over the 64 pixels of a window.
    const a = makePicture(32, 32, () => 100)
    const b = makePicture(32, 32, () => 110)
    const s = computeSsim(a, b)
    const expected = (2 * 6400 * 7040 + 416) / (6400 * 6400 + 7040 * 7040 + 416)
    expect(expected).toBeCloseTo(0.995475, 6)
    for (const v of [s.y, s.u, s.v, s.all]) expect(v).toBeCloseTo(expected, 7)
  })

  it('matches the window-by-window definition on odd sizes, where edge pixels fall outside the 4x4 grid', () => {
    for (const [w, h] of [[37, 23], [16, 16], [41, 17], [130, 66]] as const) {
      const a = makePicture(w, h, noise(w))
      const b = makePicture(w, h, (c, x, y) => Math.min(255, Math.max(0, noise(w)(c, x, y) + (noise(h)(c, x, y) % 31) - 15)))
      const r = computePsnrSsim(a, b)
      for (let c = 0; c < 3; c++) {
        const ssim = [r.ssim.y, r.ssim.u, r.ssim.v][c]!
        const mse = [r.psnr.mseY, r.psnr.mseU, r.psnr.mseV][c]!
        if (a.planes[c]!.width >= 8 && a.planes[c]!.height >= 8) expect(ssim).toBeCloseTo(naiveSsim(a.planes[c]!, b.planes[c]!), 12)
        expect(mse).toBe(naiveMse(a.planes[c]!, b.planes[c]!))
      }
    }
  })

  it('indexes rows by linesize and ignores padding bytes', () => {
    const packed = [makePicture(70, 38, noise(3)), makePicture(70, 38, noise(4))] as const
    const padded = [makePicture(70, 38, noise(3), '420', 13), makePicture(70, 38, noise(4), '420', 29)] as const
    expect(computePsnrSsim(padded[0], padded[1])).toEqual(computePsnrSsim(packed[0], packed[1]))
  })

  it('gives the same numbers from computePsnrSsim as from computePsnr and computeSsim, with any scratch', () => {
    const a = makePicture(102, 58, noise(5))
    const b = makePicture(102, 58, noise(6))
    const scratch = new MetricsScratch()
    const both: PsnrSsimResult = computePsnrSsim(a, b, scratch)
    expect(both.psnr).toEqual(computePsnr(a, b))
    expect(both.ssim).toEqual(computeSsim(a, b))
    // A scratch sized for a wider picture first, then a narrower one: stale sums must not leak.
    computeSsim(makePicture(300, 20, noise(7)), makePicture(300, 20, noise(8)), scratch)
    expect(computeSsim(a, b, scratch)).toEqual(both.ssim)
  })

  it('weights the planes by their sample counts for yuv444p and yuv422p', () => {
    for (const chroma of ['444', '422'] as const) {
      const a = makePicture(48, 32, noise(9), chroma)
      const b = makePicture(48, 32, (c, x, y) => (noise(9)(c, x, y) + (c + 1) * ((x ^ y) & 7)) & 0xff, chroma)
      const r = computePsnrSsim(a, b)
      const [wy, wc] = chroma === '444' ? [1 / 3, 1 / 3] : [1 / 2, 1 / 4]
      expect(r.ssim.all).toBeCloseTo(wy * r.ssim.y + wc * r.ssim.u + wc * r.ssim.v, 12)
      const mse = wy * r.psnr.mseY + wc * r.psnr.mseU + wc * r.psnr.mseV
      expect(r.psnr.average).toBeCloseTo(10 * Math.log10((255 * 255) / mse), 12)
    }
  })

  it('refuses mismatched, short or too-small planes', () => {
    const a = makePicture(32, 32, noise(1))
    expect(() => computePsnr(a, makePicture(32, 30, noise(1)))).toThrow(RangeError)
    const short = makePicture(32, 32, noise(1))
    short.planes[0] = { ...short.planes[0], data: short.planes[0].data.subarray(0, 32 * 31) }
    expect(() => computeSsim(a, short)).toThrow(/needs/)
    const thin = { ...short.planes[1], linesize: 8 }
    expect(() => computePsnr(a, { planes: [a.planes[0], thin, a.planes[2]] })).toThrow(/linesize/)
    // 12x12 luma has windows but its 6x6 chroma has none: FFmpeg would print nan there.
    const tiny = makePicture(12, 12, noise(1))
    expect(() => computeSsim(tiny, tiny)).toThrow(/at least 8x8/)
    expect(computePsnr(tiny, tiny).average).toBe(Infinity)
  })
})

// ---------------------------------------------------------------------------------------------
// Agreement with the ffmpeg CLI's own psnr and ssim filters.

interface FfmpegFrame {
  psnr: { y: number, u: number, v: number, average: number }
  ssim: { y: number, u: number, v: number, all: number }
}

interface Clip {
  width: number
  height: number
  pixFmt: 'yuv420p' | 'yuv444p'
  /** A lavfi source filter without options: it gets the size and rate. */
  source: string
  /** Extra global options for the measuring ffmpeg run (e.g. `-cpuflags 0`). */
  measureFlags?: string[]
}

const ffmpeg = resolveFfmpeg().ffmpeg
let workDir = ''

function run(args: string[]): void {
  execFileSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args], { cwd: workDir, stdio: ['ignore', 'ignore', 'pipe'] })
}

/** Makes ref and x264-distorted raw files for a clip, has FFmpeg measure them, returns both. */
function prepareClip(name: string, clip: Clip, frames: number): { ref: Buffer, dist: Buffer, ffmpegFrames: FfmpegFrame[] } {
  const { width, height, pixFmt } = clip
  const size = `${width}x${height}`
  const raw = ['-f', 'rawvideo', '-pix_fmt', pixFmt, '-s', size, '-r', '25']
  run(['-f', 'lavfi', '-i', `${clip.source}=s=${size}:r=25`, '-frames:v', String(frames), '-pix_fmt', pixFmt, '-f', 'rawvideo', `${name}-ref.yuv`])
  // A low bitrate for the size, so every plane carries visible coding error.
  const bitrate = `${Math.round((width * height) / 4000)}k`
  run([...raw, '-i', `${name}-ref.yuv`, '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', bitrate, '-f', 'h264', `${name}.h264`])
  run(['-i', `${name}.h264`, '-f', 'rawvideo', '-pix_fmt', pixFmt, `${name}-dist.yuv`])
  // FFmpeg's psnr/ssim take the distorted ("main") input first and the reference second. The
  // psnr stats file prints two decimals; its frame metadata prints six, so log that instead.
  run([
    ...(clip.measureFlags ?? []),
    ...raw, '-i', `${name}-dist.yuv`, ...raw, '-i', `${name}-ref.yuv`,
    '-lavfi', `[0:v][1:v]psnr,metadata=mode=print:file=${name}-psnr.log;[0:v][1:v]ssim=stats_file=${name}-ssim.log`,
    '-f', 'null', '-',
  ])
  return {
    ref: readFileSync(path.join(workDir, `${name}-ref.yuv`)),
    dist: readFileSync(path.join(workDir, `${name}-dist.yuv`)),
    ffmpegFrames: parseLogs(readFileSync(path.join(workDir, `${name}-psnr.log`), 'utf8'), readFileSync(path.join(workDir, `${name}-ssim.log`), 'utf8')),
  }
}

function parseLogs(psnrLog: string, ssimLog: string): FfmpegFrame[] {
  const metas: Record<string, number>[] = []
  for (const line of psnrLog.split('\n')) {
    if (line.startsWith('frame:')) metas.push({})
    const m = /^lavfi\.psnr\.([a-z_.]+)=(\S+)$/.exec(line)
    if (m) metas[metas.length - 1]![m[1]!] = m[2] === 'inf' ? Infinity : Number(m[2])
  }
  const ssims = [...ssimLog.matchAll(/^n:\d+ Y:(\S+) U:(\S+) V:(\S+) All:(\S+)/gm)].map((m) => m.slice(1, 5).map(Number))
  expect(ssims.length).toBe(metas.length)
  return metas.map((meta, i) => {
    const [y, u, v, all] = ssims[i]!
    return {
      psnr: { y: meta['psnr.y']!, u: meta['psnr.u']!, v: meta['psnr.v']!, average: meta['psnr_avg']! },
      ssim: { y: y!, u: u!, v: v!, all: all! },
    }
  })
}

/** The frames of a raw planar file, each plane a view into the file's buffer (as beamcoder gives Buffers). */
function rawPictures(buf: Buffer, width: number, height: number, pixFmt: Clip['pixFmt']): Picture[] {
  const [cw, ch] = chromaSize(width, height, pixFmt === 'yuv444p' ? '444' : '420')
  const frameBytes = width * height + 2 * cw * ch
  const pictures: Picture[] = []
  for (let o = 0; o + frameBytes <= buf.length; o += frameBytes) {
    const plane = (start: number, w: number, h: number): Plane => ({ data: buf.subarray(o + start, o + start + w * h), linesize: w, width: w, height: h })
    pictures.push({ planes: [plane(0, width, height), plane(width * height, cw, ch), plane(width * height + cw * ch, cw, ch)] })
  }
  return pictures
}

/**
 * What is compared with FFmpeg: the kernels the metrics worker really measures with (WebAssembly
 * SIMD once built; checked here) and the plain-JavaScript ones it falls back to.
 */
function kernelsUnderTest(): PlaneKernels[] {
  const worker = bestKernels()
  expect(worker.fallbackReason).toBeUndefined()
  expect(worker.kernels.name).toBe(KernelName.WASM_SIMD)
  return [worker.kernels, jsKernels()]
}

/** Largest per-frame |ours - FFmpeg's| over all frames and both kernel sets, by metric. */
function compareWithFfmpeg(clip: Clip, name: string, frames: number) {
  const { ref, dist, ffmpegFrames } = prepareClip(name, clip, frames)
  const refs = rawPictures(ref, clip.width, clip.height, clip.pixFmt)
  const dists = rawPictures(dist, clip.width, clip.height, clip.pixFmt)
  expect(refs.length).toBe(frames)
  expect(dists.length).toBe(frames)
  expect(ffmpegFrames.length).toBe(frames)
  let psnrDb = 0
  let ssim = 0
  for (const kernels of kernelsUnderTest()) for (let f = 0; f < frames; f++) {
    const ours = measurePsnrSsim(refs[f]!, dists[f]!, kernels)
    const theirs = ffmpegFrames[f]!
    for (const k of ['y', 'u', 'v', 'average'] as const) {
      expect(Number.isFinite(theirs.psnr[k])).toBe(true)
      psnrDb = Math.max(psnrDb, Math.abs(ours.psnr[k] - theirs.psnr[k]))
    }
    for (const k of ['y', 'u', 'v', 'all'] as const) ssim = Math.max(ssim, Math.abs(ours.ssim[k] - theirs.ssim[k]))
    // The distortion is real: otherwise this would compare nothing.
    expect(ours.ssim.all).toBeLessThan(0.999)
  }
  return { psnrDb, ssim }
}

describe('metrics kernels against the ffmpeg CLI psnr and ssim filters', () => {
  beforeAll(() => {
    workDir = mkdtempSync(path.join(os.tmpdir(), 'mqa-metrics-'))
  })
  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true })
  })

  // Contract: PSNR within 0.02 dB and SSIM within 0.0005 of FFmpeg's per-frame values. In fact
  // they agree to FFmpeg's printing precision: PSNR is printed from a float with six decimals
  // (about 4e-6 dB at 40 dB), SSIM with six decimals (5e-7); the tight bounds check that.
  const TIGHT_PSNR_DB = 2e-5
  const TIGHT_SSIM = 1e-6

  it('agrees at 1280x720 yuv420p (mandelbrot, x264 at low bitrate)', () => {
    const d = compareWithFfmpeg({ width: 1280, height: 720, pixFmt: 'yuv420p', source: 'mandelbrot' }, 'hd', 10)
    expect(d.psnrDb).toBeLessThan(0.02)
    expect(d.ssim).toBeLessThan(0.0005)
    expect(d.psnrDb).toBeLessThan(TIGHT_PSNR_DB)
    expect(d.ssim).toBeLessThan(TIGHT_SSIM)
  })

  it('agrees at 322x182 yuv420p, a size that is no multiple of 4 or 8 in any plane', () => {
    const d = compareWithFfmpeg({ width: 322, height: 182, pixFmt: 'yuv420p', source: 'testsrc2' }, 'odd', 10)
    expect(d.psnrDb).toBeLessThan(0.02)
    expect(d.ssim).toBeLessThan(0.0005)
    expect(d.psnrDb).toBeLessThan(TIGHT_PSNR_DB)
    expect(d.ssim).toBeLessThan(TIGHT_SSIM)
  })

  it('agrees at 322x182 yuv444p', () => {
    const d = compareWithFfmpeg({ width: 322, height: 182, pixFmt: 'yuv444p', source: 'testsrc2' }, 'odd444', 6)
    expect(d.psnrDb).toBeLessThan(TIGHT_PSNR_DB)
    expect(d.ssim).toBeLessThan(TIGHT_SSIM)
  })

  it('agrees with FFmpeg\'s C code at 360x200, where its x86 SSE4 ssim_end_line scores a wrong window', () => {
    // When a plane has (width >> 2) % 4 == 2 blocks per row (luma 360 here; also the chroma of
    // 720-wide SD), the SSE4 row function of FFmpeg 5.1 subtracts the wrong lanes of its last
    // 4-window batch and keeps a window past the row end instead of the row's last window.
    // `-cpuflags 0` runs FFmpeg's C code, which is the definition these kernels follow.
    const d = compareWithFfmpeg({ width: 360, height: 200, pixFmt: 'yuv420p', source: 'testsrc2', measureFlags: ['-cpuflags', '0'] }, 'c360', 6)
    expect(d.psnrDb).toBeLessThan(TIGHT_PSNR_DB)
    expect(d.ssim).toBeLessThan(TIGHT_SSIM)
  })
})
