import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Timecode, VideoCodec, buildSeiNal, groupAccessUnits, insertSeiAnnexB, joinAnnexB, splitAnnexB } from '@mqa/common'
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

/**
 * An H.265 Annex B stream with a time_code SEI (payloadType 136, ITU-T H.265 D.2.27) put into
 * access unit i, carrying timecodes[i] as one full clock timestamp — what a contribution encoder
 * writes and FFmpeg's decoder exports as S12M side data. Decode order must be display order (no
 * B-frames), so access unit i is picture i.
 */
export function withH265TimeCodeSei(annexB: Uint8Array, timecodes: readonly Timecode[]): Uint8Array {
  const aus = groupAccessUnits(VideoCodec.H265, splitAnnexB(annexB, VideoCodec.H265))
  if (aus.length !== timecodes.length) throw new Error(`${aus.length} access units for ${timecodes.length} timecodes`)
  const parts = aus.map((au, i) => {
    const t = timecodes[i]!
    const bits: number[] = []
    const put = (value: number, n: number) => {
      for (let k = n - 1; k >= 0; k--) bits.push((value >> k) & 1)
    }
    put(1, 2) // num_clock_ts
    put(1, 1) // clock_timestamp_flag
    put(0, 1) // units_field_based_flag
    put(0, 5) // counting_type
    put(1, 1) // full_timestamp_flag
    put(0, 1) // discontinuity_flag
    put(t.dropFrame ? 1 : 0, 1) // cnt_dropped_flag
    put(t.frames, 9)
    put(t.seconds, 6)
    put(t.minutes, 6)
    put(t.hours, 5)
    put(0, 5) // time_offset_length
    bits.push(1) // payload_bit_equal_to_one, then zeros to the byte
    while (bits.length % 8) bits.push(0)
    const payload = new Uint8Array(bits.length / 8)
    bits.forEach((b, k) => (payload[k >> 3]! |= b << (7 - (k & 7))))
    const sei = buildSeiNal(VideoCodec.H265, [{ payloadType: 136, payload }])
    return insertSeiAnnexB(VideoCodec.H265, joinAnnexB(au.map((n) => n.data)), sei)
  })
  return Buffer.concat(parts)
}
