import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type FrameRate, ScoreScope, type Timecode, TsDemuxer, VideoCodec, buildSeiNal, groupAccessUnits, insertSeiAnnexB, isSeiNal, joinAnnexB, parseSeiNal, readMqaRecords, splitAnnexB, timecodeToFrameIndex } from '@mqa/common'
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

/** Frame indices (from each H.264 frame's MQA SEI `tc`) of MPEG-TS bytes, in decode order. */
export function timecodeIndices(ts: Uint8Array, rate: FrameRate): number[] {
  const d = new TsDemuxer()
  const out: number[] = []
  for (const e of [...d.push(ts), ...d.flush()]) {
    if (e.kind !== 'pes' || e.codec !== 'h264') continue
    const tc = readMqaRecords(VideoCodec.H264, splitAnnexB(e.data, VideoCodec.H264)).records.find((r) => r.scope === ScoreScope.FRAME)?.timecode
    if (tc !== undefined) out.push(timecodeToFrameIndex(tc, rate))
  }
  return out
}

/** key_frame and pts of every video frame, in presentation order. */
export function probeFrames(file: string): { key: boolean; pts: number }[] {
  const out = execFileSync(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=key_frame,pts', '-of', 'csv=p=0', file], { encoding: 'utf8' })
  return out
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '') // a frame with side data gets a blank line after it
    .map((l) => {
      const [key, pts] = l.split(',')
      return { key: key === '1', pts: Number(pts) }
    })
}

/** Bits written most significant first, packed into bytes after the RBSP stop bit. */
function rbspBits(write: (put: (value: number, n: number) => void) => void): Uint8Array {
  const bits: number[] = []
  write((value, n) => {
    for (let k = n - 1; k >= 0; k--) bits.push((value >> k) & 1)
  })
  bits.push(1) // payload_bit_equal_to_one, then zeros to the byte
  while (bits.length % 8) bits.push(0)
  const payload = new Uint8Array(bits.length / 8)
  bits.forEach((b, k) => (payload[k >> 3]! |= b << (7 - (k & 7))))
  return payload
}

/**
 * An Annex B stream with access unit i carrying timecodes[i] as one full clock timestamp, the
 * way a contribution encoder carries SDI timecode and FFmpeg's decoders export it as S12M side
 * data: for H.265 a time_code SEI (payloadType 136, ITU-T H.265 D.2.27); for H.264 a
 * pic_timing SEI (payloadType 1, D.1.3) in place of the encoder's own, which needs an SPS with
 * pic_struct_present_flag and no HRD (x264 `pic-struct=1`, its default `nal-hrd=none`). Decode
 * order must be display order (no B-frames), so access unit i is picture i.
 */
export function withTimecodeSei(codec: VideoCodec, annexB: Uint8Array, timecodes: readonly Timecode[]): Uint8Array {
  const aus = groupAccessUnits(codec, splitAnnexB(annexB, codec))
  if (aus.length !== timecodes.length) throw new Error(`${aus.length} access units for ${timecodes.length} timecodes`)
  const parts = aus.map((au, i) => {
    const t = timecodes[i]!
    const h265 = codec === VideoCodec.H265
    const payload = rbspBits((put) => {
      if (h265) put(1, 2) // num_clock_ts
      else put(0, 4) // pic_struct: a frame, so one clock timestamp
      put(1, 1) // clock_timestamp_flag
      if (h265) put(0, 1) // units_field_based_flag
      else {
        put(0, 2) // ct_type: progressive
        put(0, 1) // nuit_field_based_flag
      }
      put(0, 5) // counting_type
      put(1, 1) // full_timestamp_flag
      put(0, 1) // discontinuity_flag
      put(t.dropFrame ? 1 : 0, 1) // cnt_dropped_flag
      put(t.frames, h265 ? 9 : 8)
      put(t.seconds, 6)
      put(t.minutes, 6)
      put(t.hours, 5)
      if (h265) put(0, 5) // time_offset_length
      else put(0, 24) // time_offset: 24 bits, the length inferred without HRD parameters
    })
    const sei = buildSeiNal(codec, [{ payloadType: h265 ? 136 : 1, payload }])
    const kept = h265 ? au : au.filter((n) => !(isSeiNal(codec, n.type) && parseSeiNal(codec, n.data).some((m) => m.payloadType === 1)))
    return insertSeiAnnexB(codec, joinAnnexB(kept.map((n) => n.data)), sei)
  })
  return Buffer.concat(parts)
}
