import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { resolveFfmpeg } from '../lib/ffmpeg-bin.js'

const script = fileURLToPath(new URL('./beamcoder-floor.js', import.meta.url))

describe('the encoder benchmark floor (beamcoder only)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mqa-floor-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('encodes every frame of its input with libx264 and decodes every packet again, B-frames and the decoders flushed', () => {
    const clip = path.join(dir, 'clip.mp4')
    // 45 frames with a GOP of 30 on the source: a frame count that is not a multiple of either GOP.
    execFileSync(resolveFfmpeg().ffmpeg, ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', '-frames:v', '45', '-c:v', 'libx264', '-g', '30', '-y', clip])
    const r = spawnSync(process.execPath, [script, clip, '20', '3', 'veryfast', '500000'], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    const done = JSON.parse(r.stderr.trim().split('\n').find((l) => l.includes('"floor done"')) ?? '{}')
    expect(done).toEqual({ msg: 'floor done', frames: 45, packets: 45, decodedAgain: 45 })
  })

  it('says how to call it when arguments are missing', () => {
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8' })
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/usage: node scripts\/bench\/beamcoder-floor\.js <input>/)
  })
})
