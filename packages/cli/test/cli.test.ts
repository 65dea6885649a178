import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { fixture, workDir } from '../../encoder/test/helpers.js'

/** The built CLI, as a user runs it (`pnpm -s mqa` runs the same file). */
const main = new URL('../dist/main.js', import.meta.url).pathname
function mqa(args: string[], input?: Buffer) {
  const r = spawnSync('node', [main, ...args], { input, encoding: input ? undefined : 'utf8', maxBuffer: 64 << 20, timeout: 60_000 })
  return { status: r.status, stdout: r.stdout as unknown as string | Buffer, stderr: String(r.stderr) }
}

describe('mqa command line', () => {
  it.each([
    [['encode', '-i', 'x.ts'], /mqa encode: --output is required/],
    [['encode', '-i', 'x.ts', '-o', 'y.ts', '--codec', 'vp9'], /--codec must be one of h264, h265, got "vp9"/],
    [['encode', '-i', 'x.ts', '-o', 'y.ts', '--bitrate', 'fast'], /--bitrate must be like 3000k or 3M/],
    [['encode', '-i', 'x.ts', '-o', 'y.ts', '--size', '1281x720'], /--size must be WxH with even numbers/],
    [['encode', '-i', 'x.ts', '-o', 'y.ts', '--workers', '0'], /--workers must be at least 1/],
    [['encode', '-i', 'x.ts', '-o', 'y.ts', '--frobnicate'], /unknown flag --frobnicate/],
    [['encode', '-i', 'x.ts', '-o', 'y.ts', '--gop-seconds', '2', '--segment-seconds', '3'], /not a whole number of GOPs/],
    [['impair', '--from', 'udp://127.0.0.1:5000', '--to', 'http://x', '--loss', '0.1'], /--to must be udp:\/\/host:port/],
    [['impair', '--from', 'udp://127.0.0.1:5000', '--to', 'udp://127.0.0.1:5001', '--loss', '2'], /--loss must be at most 1/],
    [['bogus'], /unknown command "bogus"/],
  ])('mqa %j fails with one clear line', (args, message) => {
    const r = mqa(args)
    expect(r.status).not.toBe(0)
    expect(r.stderr).toMatch(message)
    expect(r.stderr).not.toMatch(/\n\s+at /) // no stack trace
  })

  it('names a missing or unreadable input without crashing', () => {
    const dir = workDir('cli')
    const garbage = join(dir, 'garbage.mp4')
    writeFileSync(garbage, Buffer.from('this is not a video file at all, just text'))
    for (const input of [join(dir, 'missing.ts'), garbage, dir]) {
      const r = mqa(['encode', '-i', input, '-o', join(dir, 'out.ts')])
      expect(r.status, r.stderr).toBe(1)
      expect(r.stderr).toMatch(/cannot open input/)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
  })

  it('encodes stdin to stdout, with clean stdout (no banner) and the scores in the stream', () => {
    const r = mqa(['encode', '-i', '-', '-o', '-', '--bitrate', '300k', '--gop-seconds', '1'], readFileSync(fixture('h264-320x180.ts')))
    expect(r.status, r.stderr).toBe(0)
    const out = r.stdout as Buffer
    expect(out[0]).toBe(0x47)
    expect(out.length % 188).toBe(0)
    const dir = workDir('cli-stdout')
    writeFileSync(join(dir, 'out.ts'), out)
    const inspect = mqa(['inspect', join(dir, 'out.ts'), '--json'])
    expect(inspect.status, inspect.stderr).toBe(0)
    const parsed = JSON.parse(inspect.stdout as string) as { frames: { record?: { mqa?: number } }[]; withoutRecord: number }
    expect(parsed.frames.length).toBe(75)
    expect(parsed.withoutRecord).toBe(0)
    expect(parsed.frames.every((f) => typeof f.record?.mqa === 'number')).toBe(true)
  })

  it('inspect <playlist URL> decodes the CMSD of every segment', async () => {
    const { startPackager } = await import('@mqa/packager')
    const pkg = await startPackager({ input: fixture('h264-320x180.ts'), host: '127.0.0.1', port: 0, name: 'pkg-cli', segmentSeconds: 1, window: 10, inputRate: 'max' })
    await pkg.inputDone
    try {
      // Asynchronously: the packager answering it lives in this process.
      const r = await promisify(execFile)('node', [main, 'inspect', `${pkg.url}/hls/index.m3u8`, '--json'], { encoding: 'utf8', timeout: 30_000 })
      const out = JSON.parse(r.stdout) as { segments: { uri: string; status: number; cmsdStatic?: { node: string; quality?: { segmentNumber: number } } }[] }
      expect(out.segments.length).toBeGreaterThan(0)
      for (const s of out.segments) {
        expect(s.status).toBe(200)
        expect(s.cmsdStatic?.node).toBe('pkg-cli')
        expect(s.cmsdStatic?.quality?.segmentNumber).toBe(Number(s.uri.replace('.ts', '')))
      }
    } finally {
      await pkg.close()
    }
  })

  it('inspect <URL> with nothing listening is one line naming the URL', async () => {
    const { createServer } = await import('node:net')
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as { port: number }).port
    await new Promise<void>((resolve) => probe.close(() => resolve())) // now surely closed
    const r = mqa(['inspect', `http://127.0.0.1:${port}/x.m3u8`])
    expect(r.status).toBe(1)
    expect(r.stderr).toBe(`mqa inspect: cannot GET http://127.0.0.1:${port}/x.m3u8: ECONNREFUSED\n`)
  })

  it('names a port that is already taken, in one line, and leaves nothing running', async () => {
    const { createServer } = await import('node:net')
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as { port: number }).port
    try {
      const runs = [
        ['origin', '--upstream', 'a=http://127.0.0.1:9', '--upstream', 'b=http://127.0.0.1:9', '--listen', `127.0.0.1:${port}`],
        ['package', '-i', fixture('h264-320x180.ts'), '--listen', `127.0.0.1:${port}`, '--name', 'p'],
        ['demo', '--listen-base', String(port)],
      ]
      for (const args of runs) {
        // execFile, not spawnSync: the port's owner is this process and must keep answering.
        const r = await promisify(execFile)('node', [main, ...args], { encoding: 'utf8', timeout: 30_000 }).then(
          () => ({ code: 0, stderr: '' }),
          (e: { code?: number; stderr?: string; killed?: boolean }) => ({ code: e.killed ? 'timeout' : e.code, stderr: e.stderr ?? '' }),
        )
        expect(r.code, `${args[0]}: ${r.stderr}`).toBe(1)
        expect(r.stderr).toMatch(new RegExp(`mqa ${args[0]}: cannot listen on 127.0.0.1:${port}: the address is already in use`))
        expect(r.stderr).not.toMatch(/\n\s+at /)
      }
    } finally {
      taken.close()
    }
  })

  it('prints help for every command', () => {
    for (const c of ['encode', 'source', 'impair', 'inspect', 'package', 'demo']) {
      const r = mqa([c, '--help'])
      expect(r.status).toBe(0)
      expect(r.stdout).toMatch(new RegExp(`^mqa ${c}: `))
    }
  })
})
