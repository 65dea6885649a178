import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { resolveFfmpeg } from '../../../scripts/lib/ffmpeg-bin.js'
import {
  MQA_SEI_UUID_STRING,
  VideoCodec,
  buildMqaSeiNal,
  encodeMqaPayload,
  frameIndexToTimecode,
  formatTimecode,
  frameRate,
  groupAccessUnits,
  insertSeiAnnexB,
  joinAnnexB,
  mqaVideo,
  splitAnnexB,
  type MqaRecordInput,
} from '../src/index.js'

/**
 * Interop: our SEI, inserted into every access unit of a libx264 and a libx265 fixture, is
 * reported by FFmpeg's own decoder for every frame with our UUID and payload (showinfo).
 */
const { ffmpeg } = resolveFfmpeg()
const fixtures = new URL('../../../fixtures/', import.meta.url)
const work = mkdtempSync(join(tmpdir(), 'mqa-interop-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

function recordFor(i: number): MqaRecordInput {
  const psnrDb = 35 + (i % 10) * 0.5
  const ssim = 0.95 + (i % 5) * 0.01
  return { frameNumber: i, timecode: formatTimecode(frameIndexToTimecode(900_000 + i, frameRate(25))), psnrDb, ssim, mqa: mqaVideo({ psnrDb, ssim }) }
}

/** Per frame (in output order) the user-data SEI FFmpeg's showinfo reports: [uuid, data as text]. */
function showinfoUserData(file: string): [string, string][][] {
  const r = spawnSync(ffmpeg, ['-hide_banner', '-nostats', '-i', file, '-vf', 'showinfo', '-f', 'null', '-'], { encoding: 'utf8', maxBuffer: 64 << 20 })
  expect(r.status, r.stderr.slice(-2000)).toBe(0)
  const frames: [string, string][][] = []
  let uuid: string | undefined
  for (const line of r.stderr.split('\n')) {
    const body = line.replace(/^\[Parsed_showinfo[^\]]*\]\s*/, '')
    if (/^n:\s*\d+\s+pts:/.test(body)) frames.push([])
    const u = /^UUID=([0-9a-f-]+)/.exec(body)
    if (u) uuid = u[1]
    const d = /^User Data=([0-9a-f]*)/.exec(body)
    if (d && uuid !== undefined) {
      frames.at(-1)!.push([uuid, Buffer.from(d[1]!, 'hex').toString('latin1')])
      uuid = undefined
    }
  }
  return frames
}

describe.each([
  { fixture: 'h264-320x180.ts', codec: VideoCodec.H264, raw: 'h264' },
  { fixture: 'h264-bframes-640x360.mp4', codec: VideoCodec.H264, raw: 'h264' },
  { fixture: 'h265-320x180.ts', codec: VideoCodec.H265, raw: 'hevc' },
])('FFmpeg reads our SEI in $fixture', ({ fixture, codec, raw }) => {
  it('on every frame, with our UUID and payload', () => {
    const es = new Uint8Array(execFileSync(ffmpeg, ['-v', 'error', '-i', new URL(fixture, fixtures).pathname, '-map', '0:v:0', '-c', 'copy', '-f', raw, '-'], { maxBuffer: 64 << 20 }))
    const aus = groupAccessUnits(codec, splitAnnexB(es, codec))
    expect(aus.length).toBeGreaterThan(20)
    const stamped = aus.map((au, i) => insertSeiAnnexB(codec, joinAnnexB(au.map((n) => n.data)), buildMqaSeiNal(codec, recordFor(i))))
    const file = join(work, `${fixture}.${raw}`)
    writeFileSync(file, Buffer.concat(stamped))

    const frames = showinfoUserData(file)
    expect(frames).toHaveLength(aus.length)
    // Frames come out in presentation order; each carries exactly one of ours, each payload once.
    const ours = frames.map((f) => f.filter(([u]) => u === MQA_SEI_UUID_STRING).map(([, d]) => d))
    for (const [i, list] of ours.entries()) expect(list, `frame ${i}`).toHaveLength(1)
    expect(ours.map((l) => l[0]).sort()).toEqual(aus.map((_, i) => encodeMqaPayload(recordFor(i))).sort())
    // The encoder's own info SEI is still there, untouched.
    expect(frames.flat().some(([u]) => u !== MQA_SEI_UUID_STRING)).toBe(true)
    expect(readFileSync(file).length).toBeGreaterThan(es.length)
  })
})
