import { execFileSync, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ffmpeg, workDir } from './helpers.js'

/**
 * The child: beamcoder loaded through the encoder's own loader (dist/io/beamcoder.js, so as
 * installed, with patches/beamcoder@0.7.1.patch applied, and its banner kept off stdout) decodes
 * the stream, and in mode `filter` also passes every frame through a filterer (as the encoder's
 * scaler and its AAC path do). In mode `encode` it decodes nothing: one picture goes through the
 * `rawvideo` encoder 60000 times (the cheapest encoder there is, so its packets are all that
 * grows; 20000 left the slope too noisy, 14–110 bytes patched). RSS is taken after two full GCs
 * every 1000 frames from frame 3000 on (every 3000 from 9000 encoding), so what V8 holds does not
 * count, and the growth per frame is the slope of a least-squares line through those samples: one
 * sample alone moves by a few MB.
 */
const CHILD = `
const { loadBeamcoder } = await import(process.argv[1])
const b = loadBeamcoder()
b.logging('fatal')
const rss = () => { globalThis.gc(); globalThis.gc(); return process.memoryUsage().rss }
let frames = 0
let filtered = 0
const samples = []
const slope = () => {
  const mx = samples.reduce((a, [x]) => a + x, 0) / samples.length
  const my = samples.reduce((a, [, y]) => a + y, 0) / samples.length
  return samples.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / samples.reduce((a, [x]) => a + (x - mx) ** 2, 0)
}
if (process.argv[3] === 'encode') {
  const encoder = b.encoder({ name: 'rawvideo', width: 64, height: 64, pix_fmt: 'yuv420p', time_base: [1, 30] })
  const picture = b.frame({ width: 64, height: 64, format: 'yuv420p' }).alloc()
  let packets = 0
  while (frames < 60000) {
    picture.pts = frames++
    packets += (await encoder.encode(picture)).packets.length
    if (frames >= 9000 && frames % 3000 === 0) samples.push([frames, rss()])
  }
  console.log(JSON.stringify({ frames, filtered, packets, samples: samples.length, bytesPerFrame: slope() }))
  process.exit(0)
}
const demuxer = await b.demuxer(process.argv[2])
const filtering = process.argv[3] === 'filter'
const decoder = b.decoder({ demuxer, stream_index: 0, thread_count: 1 })
let filterer
const take = async (decoded) => {
  for (const f of decoded) {
    filterer ??= await b.filterer({ filterType: 'video', inputParams: [{ width: f.width, height: f.height, pixelFormat: f.format, timeBase: [1, 30], pixelAspect: [1, 1] }], outputParams: [{ pixelFormat: 'yuv420p' }], filterSpec: 'null' })
    filtered += (await filterer.filter([f]))[0].frames.length
  }
}
for (;;) {
  const packet = await demuxer.read()
  if (!packet) break
  const before = frames
  const decoded = (await decoder.decode(packet)).frames
  frames += decoded.length
  if (filtering) await take(decoded)
  if (frames >= 3000 && Math.floor(frames / 1000) !== Math.floor(before / 1000)) samples.push([frames, rss()])
}
const rest = (await decoder.flush()).frames
frames += rest.length
if (filtering) await take(rest)
console.log(JSON.stringify({ frames, filtered, samples: samples.length, bytesPerFrame: slope() }))
`

describe('beamcoder as installed', () => {
  const dir = workDir('beamcoder-memory')
  const stream = join(dir, 'tiny.h264')
  // Built by `pnpm -s build`, as the benchmark floor's test needs too.
  const loader = new URL('../dist/io/beamcoder.js', import.meta.url).href
  // Tiny pictures: what leaked was per frame, not per pixel, and 20000 decode in about 13 s.
  beforeAll(() => {
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=64x64:rate=30', '-frames:v', '20000', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-f', 'h264', stream])
  })

  // Unpatched 0.7.1 leaks an AVFrame per decoded frame and one per filter() call: by this measure
  // 540–920 bytes a frame decoding (4 runs) against 80–110 patched. Its encoder leaks an AVPacket
  // per packet: 232–243 bytes a packet (3 runs) against 25–38 patched.
  it.each([
    { mode: 'decode', what: 'an AVFrame per decoded frame (the decoder frees the spare frame it does not hand on)', filtered: 0, frames: 20000, below: 350 },
    // Filtering too, patched: 178–232 alone (3 runs), 351 and 378 in two full-suite runs on a loaded
    // machine; without the filterer's fix alone 805–826 (2 runs, 2026-12-02).
    { mode: 'filter', what: "an AVFrame per filter() call (the filterer frees the frame its sink had nothing for)", filtered: 20000, frames: 20000, below: 500 },
    { mode: 'encode', what: 'an AVPacket per encoded packet (the encoder allocates one packet per packet it hands on)', filtered: 0, frames: 60000, below: 130 },
  ])('does not grow by $what', ({ mode, filtered, frames, below }) => {
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD, loader, stream, mode], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { frames: number; filtered: number; packets?: number; samples: number; bytesPerFrame: number }
    expect(out).toMatchObject({ frames, filtered, samples: 18 })
    if (mode === 'encode') expect(out.packets).toBe(60000) // a packet per picture: nothing to leak would pass too easily
    expect(out.bytesPerFrame).toBeLessThan(below)
  }, 180_000) // 13–35 s each here (encode 10 s), alone or beside the rest of the suite
})
