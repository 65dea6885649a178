import { readFileSync, realpathSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { describe, expect, it, vi } from 'vitest'
import { MediaInputError, loadBeamcoder, probeAndDecode } from '../src/io/beamcoder.js'

/** beamcoder loads quietly, in the main thread and in workers, and decodes the committed fixtures. */
interface Clip {
  file: string
  codec: string
  width: number
  height: number
  frames: number
  gop: number
  has_bframes: boolean
}

const fixturesDir = fileURLToPath(new URL('../../../fixtures/', import.meta.url))
const clips = (JSON.parse(readFileSync(join(fixturesDir, 'fixtures.json'), 'utf8')) as { clips: Clip[] }).clips
const clip = (file: string): Clip => {
  const found = clips.find((c) => c.file === file)
  if (found === undefined) throw new Error(`${file} is not in fixtures/fixtures.json`)
  return found
}
// beamcoder as the encoder package resolves it (the same path src/io/beamcoder.ts gets).
const requireFromEncoder = createRequire(fileURLToPath(new URL('../src/io/beamcoder.ts', import.meta.url)))
const beamcoderPath = requireFromEncoder.resolve('beamcoder')

describe('loadBeamcoder', () => {
  it('keeps the GPL banner off stdout and returns one module', () => {
    // vitest runs each test file in a fresh process (pool: forks), so this is the first require.
    const firstLoad = requireFromEncoder.cache[beamcoderPath] === undefined
    const log = vi.spyOn(console, 'log')
    const write = vi.spyOn(process.stdout, 'write')
    try {
      const bc = loadBeamcoder()
      expect(typeof bc.demuxer).toBe('function')
      expect(bc.avVersionInfo()).toMatch(/\d+\.\d+/)
      expect(loadBeamcoder()).toBe(bc)
      expect(console.log, 'console.log is put back after loading').toBe(log)
      if (firstLoad) {
        expect(requireFromEncoder.cache[beamcoderPath]).toBeDefined()
        expect(log).not.toHaveBeenCalled()
        const written = write.mock.calls.map(([chunk]) => String(chunk)).join('')
        expect(written).not.toMatch(/Aerostat|Using FFmpeg/)
      }
    } finally {
      log.mockRestore()
      write.mockRestore()
    }
  })

  it('gets the no-op segfault-handler stub, not the native one', () => {
    const fromBeamcoder = createRequire(beamcoderPath)
    expect(realpathSync(fromBeamcoder.resolve('segfault-handler'))).toMatch(/scripts\/stubs\/segfault-handler\/index\.js$/)
  })

  it('loads in a worker thread after the main thread has loaded it', async () => {
    loadBeamcoder()
    // A non-context-aware addon fails here with "Module did not self-register".
    const code = `
      const { parentPort, workerData } = require('node:worker_threads')
      const log = console.log
      console.log = () => undefined
      let bc
      try { bc = require(workerData.beamcoderPath) } finally { console.log = log }
      bc.demuxer(workerData.file).then(
        (d) => { parentPort.postMessage({ version: bc.avVersionInfo(), streams: d.streams.length }); d.forceClose() },
        (err) => { parentPort.postMessage({ error: String(err) }) },
      )
    `
    const worker = new Worker(code, { eval: true, workerData: { beamcoderPath, file: join(fixturesDir, 'h264-320x180.ts') } })
    try {
      const reply = await new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no reply from the worker within 20 s')), 20_000)
        worker.once('message', (m) => {
          clearTimeout(timer)
          resolve(m)
        })
        worker.once('error', (err) => {
          clearTimeout(timer)
          reject(err)
        })
      })
      expect(reply).toEqual({ version: loadBeamcoder().avVersionInfo(), streams: 2 })
    } finally {
      await worker.terminate()
    }
  })
})

describe('probeAndDecode', () => {
  it.each(['h264-320x180.ts', 'h265-640x360.mp4', 'h264-bframes-320x180.ts'])('decodes every frame of %s', async (file) => {
    const expected = clip(file)
    const got = await probeAndDecode(join(fixturesDir, file))
    expect(got).toMatchObject({ codec: expected.codec, width: expected.width, height: expected.height, pixFmt: 'yuv420p' })
    expect(got.timeBase).toEqual(file.endsWith('.ts') ? [1, 90_000] : [1, expect.any(Number)])
    expect(got.frames).toHaveLength(expected.frames)
    for (const frame of got.frames) expect([frame.width, frame.height]).toEqual([expected.width, expected.height])
    const keyIndexes = got.frames.flatMap((f, i) => (f.keyFrame ? [i] : []))
    expect(keyIndexes).toEqual(Array.from({ length: Math.ceil(expected.frames / expected.gop) }, (_, i) => i * expected.gop))
    expect(got.frames.some((f) => f.pictType === 'B')).toBe(expected.has_bframes)
    // Output order is presentation order, one frame duration apart.
    const steps = new Set(got.frames.slice(1).map((f, i) => f.pts - got.frames[i]!.pts))
    expect(steps.size).toBe(1)
    expect([...steps][0]).toBeGreaterThan(0)
  })

  it('stops after maxFrames', async () => {
    const got = await probeAndDecode(join(fixturesDir, 'h264-bframes-640x360.mp4'), { maxFrames: 7 })
    expect(got.frames).toHaveLength(7)
    expect(got.frames[0]?.keyFrame).toBe(true)
  })

  // Checked before beamcoder sees them: a failed beamcoder open can crash the process later.
  it.each([
    ['a missing file', join(dirname(fixturesDir), 'no-such-clip.ts')],
    ['a directory', fixturesDir],
  ])('says which input it cannot open: %s', async (_what, path) => {
    const err = await probeAndDecode(path).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MediaInputError)
    expect(err).toMatchObject({ code: 'ERR_INPUT_OPEN_FAILED', fatal: true })
    expect((err as Error).message).toContain(path)
  })
})
