import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveFfmpeg } from '../../../scripts/lib/ffmpeg-bin.js'

export const { ffmpeg, ffprobe } = resolveFfmpeg()
export const fixture = (name: string) => new URL(`../../../fixtures/${name}`, import.meta.url).pathname
export const workDir = (tag: string) => mkdtempSync(join(tmpdir(), `mqa-${tag}-`))

export interface FfmpegScores {
  psnr: { avg: number; y: number; u: number; v: number }[]
  ssim: { all: number; y: number; u: number; v: number }[]
}

/**
 * FFmpeg's own psnr and ssim filters on `dist` against `ref`, frame by frame in presentation
 * order (both restarted at time 0 so framesync pairs frame i with frame i).
 */
export function ffmpegScores(dist: string, ref: string, refArgs: string[] = [], dir = workDir('scores')): FfmpegScores {
  const p = join(dir, 'psnr.log')
  const s = join(dir, 'ssim.log')
  const r = spawnSync(
    ffmpeg,
    ['-v', 'error', '-i', dist, ...refArgs, '-i', ref, '-lavfi', `[0:v]setpts=PTS-STARTPTS[d];[1:v]setpts=PTS-STARTPTS[r];[d][r]psnr=stats_file=${p}[o];[o][1:v]ssim=stats_file=${s}`, '-f', 'null', '-'],
    { encoding: 'utf8' },
  )
  if (r.status !== 0) throw new Error(`ffmpeg scores failed: ${r.stderr}`)
  const read = (file: string) => execFileSync('cat', [file], { encoding: 'utf8' }).trim().split('\n')
  const field = (line: string, name: string) => Number(/(?:^| )NAME:(\S+)/.exec(line.replace('NAME', name))?.[1] ?? new RegExp(`${name}:(\\S+)`).exec(line)?.[1])
  return {
    psnr: read(p).map((l) => ({ avg: field(l, 'psnr_avg'), y: field(l, 'psnr_y'), u: field(l, 'psnr_u'), v: field(l, 'psnr_v') })),
    ssim: read(s).map((l) => ({ all: field(l, 'All'), y: field(l, 'Y'), u: field(l, 'U'), v: field(l, 'V') })),
  }
}

/** Decode a file with the ffmpeg CLI; returns its error output (empty when clean). */
export function ffmpegDecodeErrors(file: string): string {
  const r = spawnSync(ffmpeg, ['-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' })
  return `${r.status === 0 ? '' : `exit ${r.status}\n`}${r.stderr}`
}

/** key_frame and pts of every video frame, in presentation order. */
export function probeFrames(file: string): { key: boolean; pts: number }[] {
  const out = execFileSync(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=key_frame,pts', '-of', 'csv=p=0', file], { encoding: 'utf8' })
  return out
    .trim()
    .split('\n')
    .map((l) => {
      const [key, pts] = l.split(',')
      return { key: key === '1', pts: Number(pts) }
    })
}
