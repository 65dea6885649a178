import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ffmpeg, workDir } from './helpers.js'

/**
 * The child: beamcoder as installed (through the encoder's loader, so with
 * patches/beamcoder@0.7.1.patch), in one process: inputs that fail to open, then a good one
 * demuxed and decoded to the end, round after round, with a full GC each round. Unpatched 0.7.1
 * assigned `c->status = napi_queue_async_work(...)` after queueing each call's work, so an error
 * the libuv thread had already set (a failed open is quick) was turned back into success, and the
 * demuxer went on to read the null context it had: a segfault in `fromAVFormatContext`. With the
 * previous patch (without that fix) this test failed 4 of 4 runs on SIGSEGV; the truncated MP4
 * alone crashed 4 of 4 runs.
 */
const CHILD = `
const { loadBeamcoder } = await import(process.argv[1])
const b = loadBeamcoder()
b.logging('fatal')
const [good, ...bad] = process.argv.slice(2)
let rejected = 0
let opened = 0
let frames = 0
const rounds = 40
for (let round = 0; round < rounds; round++) {
  for (const f of bad) {
    try {
      await b.demuxer(f)
      opened++
    } catch {
      rejected++
    }
  }
  const demuxer = await b.demuxer(good)
  const decoder = b.decoder({ demuxer, stream_index: 0 })
  for (;;) {
    const packet = await demuxer.read()
    if (!packet) break
    frames += (await decoder.decode(packet)).frames.length
  }
  frames += (await decoder.flush()).frames.length
  globalThis.gc()
}
console.log(JSON.stringify({ rounds, rejected, opened, frames }))
`

describe('beamcoder as installed, on inputs that fail to open', () => {
  const dir = workDir('beamcoder-errors')
  const good = join(dir, 'good.mp4')
  const bad = [join(dir, 'truncated-header.mp4'), join(dir, 'ftyp-then-junk.mp4'), join(dir, 'junk.mkv')]
  const loader = new URL('../dist/io/beamcoder.js', import.meta.url).href

  beforeAll(() => {
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-frames:v', '50', '-c:v', 'libx264', good])
    // Its first 3000 bytes (ftyp, then mdat without its moov); an ftyp box then noise; an EBML magic then noise.
    writeFileSync(bad[0]!, readFileSync(good).subarray(0, 3000))
    const noise = Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7919 + 13) & 0xff))
    writeFileSync(bad[1]!, Buffer.concat([Buffer.from('000000186674797069736f6d0000020069736f6d69736f32', 'hex'), noise]))
    writeFileSync(bad[2]!, Buffer.concat([Buffer.from('1a45dfa3', 'hex'), noise]))
  })

  it('rejects every failed open and keeps working: no crash, every good round decodes all its frames', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD, loader, good, ...bad], { encoding: 'utf8', timeout: 120_000 })
    expect(r.signal, `the child died of ${r.signal}; stderr: ${r.stderr}`).toBeNull()
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { rounds: number; rejected: number; opened: number; frames: number }
    expect(out).toEqual({ rounds: 40, rejected: 40 * bad.length, opened: 0, frames: 40 * 50 })
  }, 150_000)
})

/**
 * The child: what beamcoder prints of its own, with printf, on two paths mqa can reach: an option
 * it does not know ("DEBUG: Option ... not found") and an accessor used on an object without its
 * struct ("NAPI error in file ..."). Unpatched, both went to stdout, which is the MPEG-TS stream
 * of `mqa encode -o -`; the patch sends them to stderr. Checked to fail on the build before it
 * (the first line arrived on stdout).
 */
const PRINTS = `
const { loadBeamcoder } = await import(process.argv[1])
const b = loadBeamcoder()
b.encoder({ name: 'libx264', width: 64, height: 64, pix_fmt: 'yuv420p', time_base: [1, 25], priv_data: { no_such_option: 1 } })
const proto = Object.getPrototypeOf(b.frame({ width: 64, height: 64, format: 'yuv420p' }))
try {
  Object.getOwnPropertyDescriptor(proto, 'width').get.call(Object.create(proto))
} catch (err) {
  process.stderr.write('threw ' + err.constructor.name + '\\n')
}
process.stdout.write('the only line on stdout\\n')
`

describe("beamcoder's own diagnostics", () => {
  it('go to stderr, never into stdout (where mqa may be writing MPEG-TS)', () => {
    const loader = new URL('../dist/io/beamcoder.js', import.meta.url).href
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', PRINTS, loader], { encoding: 'utf8', timeout: 60_000 })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toBe('the only line on stdout\n')
    // Both paths were taken: their messages are there, on stderr.
    expect(r.stderr).toContain('DEBUG: Option no_such_option not found.')
    expect(r.stderr).toMatch(/NAPI error in file \S+frame\.cc/)
    expect(r.stderr).toContain('threw TypeError')
  })
})
