import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildNativeFloor } from '../lib/c-floor.js'
import { resolveFfmpeg } from '../lib/ffmpeg-bin.js'

/** The one JSON line the native floor prints on stderr when it is done. */
function done(stderr: string): Record<string, unknown> {
  return JSON.parse(stderr.trim().split('\n').find((l) => l.includes('"c-floor done"')) ?? '{}') as Record<string, unknown>
}

/** The mean of one key of an FFmpeg psnr/ssim stats file ("n:1 ... psnr_avg:36.12 ..."). */
function statsMean(file: string, key: string): number {
  const values = readFileSync(file, 'utf8').trim().split('\n').map((line) => Number(new RegExp(`${key}:(\\S+)`).exec(line)?.[1]))
  return values.reduce((a, b) => a + b, 0) / values.length
}

describe('the encoder benchmark native floor (scripts/bench/c-floor.c)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mqa-c-floor-'))
  const clip = path.join(dir, 'clip.mp4')
  const { ffmpeg } = resolveFfmpeg()
  let bin = ''
  beforeAll(() => {
    bin = buildNativeFloor(dir)
    // 45 frames with a GOP of 30 on the source: a frame count that is not a multiple of either GOP.
    execFileSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', '-frames:v', '45', '-c:v', 'libx264', '-g', '30', '-y', clip])
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('encodes every frame with libx264 and decodes every packet again, B-frames and the decoders flushed', () => {
    const out = path.join(dir, 'plain.ts')
    const r = spawnSync(bin, [clip, out, '20', '3', 'veryfast', '500000'], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    expect(done(r.stderr)).toMatchObject({ frames: 45, packets: 45, decodedAgain: 45, measured: 0 })
    const frames = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', out], { encoding: 'utf8' })
    // MPEG-TS: ffprobe prints the stream once under its program and once on its own.
    expect(Number(frames.trim().split('\n')[0])).toBe(45)
  })

  it("with --measure, scores every frame with FFmpeg's filters, as the ffmpeg CLI scores its output against the source", () => {
    const out = path.join(dir, 'measured.ts')
    const r = spawnSync(bin, [clip, out, '20', '3', 'veryfast', '500000', '--measure'], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    const d = done(r.stderr)
    expect(d).toMatchObject({ frames: 45, decodedAgain: 45, measured: 45 })
    const psnrLog = path.join(dir, 'psnr.log')
    const ssimLog = path.join(dir, 'ssim.log')
    execFileSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-i', out, '-i', clip, '-lavfi', `[0:v]split[d1][d2];[1:v]split[r1][r2];[d1][r1]psnr=stats_file=${psnrLog};[d2][r2]ssim=stats_file=${ssimLog}`, '-f', 'null', '-'])
    // The stats files print PSNR with 2 decimals and SSIM with 6.
    expect(Math.abs((d.psnr as number) - statsMean(psnrLog, 'psnr_avg'))).toBeLessThan(0.006)
    expect(Math.abs((d.ssim as number) - statsMean(ssimLog, 'All'))).toBeLessThan(2e-6)
  })

  it('says how to call it when arguments are missing, and names an input it cannot open', () => {
    const usage = spawnSync(bin, [], { encoding: 'utf8' })
    expect(usage.status).toBe(2)
    expect(usage.stderr).toMatch(/usage: c-floor <input> <output\.ts>/)
    const missing = spawnSync(bin, [path.join(dir, 'nope.mp4'), path.join(dir, 'x.ts'), '20', '3', 'veryfast', '500000'], { encoding: 'utf8' })
    expect(missing.status).toBe(1)
    expect(missing.stderr).toMatch(/c-floor: .*nope\.mp4: No such file or directory/)
  })
})
