import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { copyFileSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ffmpeg, fixture, workDir } from '../../encoder/test/helpers.js'

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
    [['encode', '-i', 'x.ts', '-o', 'y.ts', '--size', '1281x720'], /--size 1281x720 has an odd side; 4:2:0 video needs even ones/],
    [['encode', '-i', 'x.ts', '-o', 'y.ts', '--size', '1280'], /--size must be WxH, like 1280x720; got "1280"/],
    [['encode', '-i', 'x.ts', '-o', 'y.ts', '--size', '14x720'], /--size 14x720 is too small; the smallest picture mqa measures is 16x16/],
    [['source', '-o', 'udp://127.0.0.1:5000', '--size', '8x8'], /mqa source: --size 8x8 is too small/],
    [['encode', '-i', 'x.ts', '-o', 'y.ts', '--workers', '0'], /--workers must be at least 1/],
    [['encode', '-i', 'x.ts', '-o', 'y.ts', '--frobnicate'], /unknown flag --frobnicate/],
    [['encode', '-i', 'x.ts', '-o', 'y.ts', '-o', 'z.ts'], /mqa encode: -o is given twice; it takes one value/],
    [['encode', '-i', 'x.ts', '-o', 'y.ts', '--gop-seconds', '2', '--segment-seconds', '3'], /not a whole number of GOPs/],
    [['impair', '--from', 'udp://127.0.0.1:5000', '--to', 'http://x', '--loss', '0.1'], /--to must be udp:\/\/host:port/],
    [['impair', '--from', 'udp://127.0.0.1:5000', '--to', 'udp://127.0.0.1:5001', '--loss', '2'], /--loss must be at most 1/],
    [['impair', '--from', 'udp://127.0.0.1', '--to', 'udp://127.0.0.1:5001', '--loss', '0.1'], /mqa impair: --from: input "udp:\/\/127\.0\.0\.1" has no port/],
    [['impair', '--from', 'udp://127.0.0.1:5000', '--to', 'udp://127.0.0.1:5001?ttl=300', '--loss', '0.1'], /mqa impair: --to: ttl must be 0-255, got "300"/],
    [['impair', '--from', 'udp://127.0.0.1:5000', '--to', 'udp://127.0.0.1:5001?ttl=', '--loss', '0.1'], /mqa impair: --to: ttl must be 0-255, got ""/],
    [['encode', '-i', 'udp://127.0.0.1:0', '-o', 'y.ts'], /mqa encode: input "udp:\/\/127\.0\.0\.1:0": port 0 is not a port to receive on/],
    // Before: "it is not MPEG-TS, MP4/MOV, Matroska or an H.264/H.265 elementary stream", as if a file.
    [['encode', '-i', 'http://127.0.0.1:9/live.m3u8', '-o', 'y.ts'], /mqa encode: cannot open input "http:\/\/127\.0\.0\.1:9\/live\.m3u8": mqa reads a file, udp:\/\/, srt:\/\/, - \(stdin\) or lavfi:<graph>, not http:\/\//],
    [['encode', '-i', 'rtmp://127.0.0.1/live', '-o', 'y.ts'], /not rtmp:\/\/ \(relay it/],
    [['encode', '-i', 'x.ts', '-o', 'y.ts', '--audio-stream', 'french'], /--audio-stream must be a number \(0, the first audio stream\) or a 3-letter language like fra, got "french"/],
    [['encode', '-i', 'lavfi:testsrc2', '-o', 'udp://127.0.0.1:0'], /mqa encode: output "udp:\/\/127\.0\.0\.1:0": port 0 is not a destination/],
    [['bogus'], /unknown command "bogus"/],
    [['encode', '-i', fixture('h264-320x180.ts'), '-o', '/tmp/mqa-cli-out.mkv'], /output "\/tmp\/mqa-cli-out.mkv": mqa writes MPEG-TS \(\.ts\) or MP4 \(\.mp4\), not \.mkv/],
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

  describe('bad input and bad settings: one line, a non-zero exit, no crash', () => {
    const dir = workDir('cli-bad')
    /** Repeatable junk (a 32-bit LCG), so a failure can be replayed byte for byte. */
    const junk = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, () => ((seed = (seed * 1664525 + 1013904223) >>> 0) >>> 24)))
    // An MP4 `ftyp` box, then junk: beamcoder 0.7.1 segfaulted after failing to open it (about 4 runs in 10, before the patch).
    const ftypJunk = join(dir, 'ftyp-junk.mp4')
    writeFileSync(ftypJunk, Buffer.concat([Buffer.from('000000186674797069736f6d0000020069736f6d69736f32', 'hex'), junk(5000)]))
    // Sync bytes every 188 bytes and junk between them: FFmpeg finds no stream and beamcoder used to printf DEBUG onto stdout.
    const junkTs = join(dir, 'junk.ts')
    writeFileSync(junkTs, Buffer.concat(Array.from({ length: 300 }, (_, i) => Buffer.concat([Buffer.from([0x47]), junk(187, i + 1)]))))
    // Start codes with SPS and IDR-slice NAL types, junk after each: FFmpeg probes it as H.264, and it decodes to nothing.
    const junk264 = join(dir, 'junk.264')
    writeFileSync(junk264, Buffer.concat([Buffer.from('0000000167', 'hex'), junk(3000), ...[7, 8, 9, 10, 11].flatMap((seed) => [Buffer.from('0000000165', 'hex'), junk(600, seed)])]))
    // A good file with no video: FFmpeg opens it, and the encoder says what it has instead.
    const audioOnly = join(dir, 'audio-only.mp4')
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'sine=duration=1', '-c:a', 'aac', audioOnly])
    // An empty file: before, "it is not MPEG-TS, MP4/MOV, Matroska or an H.264/H.265 elementary stream".
    const empty = join(dir, 'empty.ts')
    writeFileSync(empty, Buffer.alloc(0))
    const out = join(dir, 'out.ts')

    it.each([
      ['encode, an empty file', ['encode', '-i', empty, '-o', out], 1, /^mqa encode: cannot open input ".*empty\.ts": it is empty \(0 bytes\)$/],
      ['encode, MP4 ftyp + junk', ['encode', '-i', ftypJunk, '-o', out], 1, /^mqa encode: cannot open input ".*ftyp-junk\.mp4": Invalid data found when processing input \(moov atom not found\)$/],
      ['inspect, MP4 ftyp + junk', ['inspect', ftypJunk], 1, /^mqa inspect: cannot open input ".*ftyp-junk\.mp4": Invalid data found when processing input \(moov atom not found\)$/],
      ['encode, TS of junk', ['encode', '-i', junkTs, '-o', out], 1, /^mqa encode: cannot open input ".*junk\.ts": no stream could be found in it$/],
      ['inspect, TS of junk', ['inspect', junkTs], 1, /^mqa inspect: cannot open input ".*junk\.ts": no stream could be found in it$/],
      ['encode, MP4 with audio only', ['encode', '-i', audioOnly, '-o', out], 1, /^mqa encode: input ".*audio-only\.mp4" has no video stream \(streams: audio\)$/],
      ['encode, H.264 elementary stream of junk', ['encode', '-i', junk264, '-o', out, '--fps', '25'], 1, /^mqa encode: no video frame could be decoded from ".*junk\.264"/],
      ['encode, lavfi graph with an unknown filter', ['encode', '-i', 'lavfi:nosuchsrc=size=64x64', '-o', out], 1, /^mqa encode: cannot open input "lavfi:nosuchsrc=size=64x64": .*No such filter: 'nosuchsrc'/],
      ['encode, x264 preset unknown', ['encode', '-i', fixture('h264-320x180.ts'), '-o', out, '--preset', 'nosuch'], 2, /^mqa encode: --preset must be one of ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow, placebo, got "nosuch"$/],
      ['encode, x265 preset unknown', ['encode', '-i', fixture('h264-320x180.ts'), '-o', out, '--codec', 'h265', '--preset', 'nosuch'], 2, /^mqa encode: --preset must be one of .*got "nosuch"$/],
      ['encode, output folder missing', ['encode', '-i', fixture('h264-320x180.ts'), '-o', '/nonexistent-mqa-dir/x.ts'], 1, /^mqa encode: cannot write output "\/nonexistent-mqa-dir\/x\.ts": folder \/nonexistent-mqa-dir does not exist$/],
      // Before: the whole encode ran, then Node's stack trace for ENOENT, and the report was lost.
      ['encode, report folder missing', ['encode', '-i', fixture('h264-320x180.ts'), '-o', out, '--report', '/nonexistent-mqa-dir/r.json'], 1, /^mqa encode: cannot write report "\/nonexistent-mqa-dir\/r\.json": folder \/nonexistent-mqa-dir does not exist$/],
    ])('%s', (_name, args, status, message) => {
      const r = mqa(args)
      expect(r.status, r.stderr).toBe(status)
      expect(r.stderr.trimEnd()).toMatch(message)
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1) // one line: no stack, no native DEBUG or log lines
      expect(r.stdout).toBe('') // beamcoder's printf goes to stdout, where media may be
    })
  })

  it.skipIf(!existsSync('/dev/full'))('a report that cannot be written at the end (a full disk) is one line, exit 1, and the output is whole', () => {
    const dir = workDir('cli-report-full')
    const out = join(dir, 'out.ts')
    const r = mqa(['encode', '-i', fixture('h264-320x180.ts'), '-o', out, '--report', '/dev/full'])
    expect(r.status, r.stderr).toBe(1)
    expect(r.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('{'))).toEqual(['mqa encode: cannot write report "/dev/full": ENOSPC: no space left on device, write'])
    expect(execFileSync(ffmpeg, ['-v', 'error', '-i', out, '-f', 'null', '-'], { encoding: 'utf8' })).toBe('')
  })

  it('an output that is the input, by its name or a link to it, is refused before either opens, and the input is left as it was', () => {
    // Before: the output truncated the file being read (a small one had been read whole by then; a long recording was lost).
    const dir = workDir('cli-same')
    const input = join(dir, 'in.ts')
    copyFileSync(fixture('h264-320x180.ts'), input)
    const before = readFileSync(input)
    symlinkSync(input, join(dir, 'link.ts'))
    for (const output of [input, join(dir, 'link.ts'), join(dir, '.', 'in.ts')]) {
      const r = mqa(['encode', '-i', input, '-o', output])
      expect(r.status, r.stderr).toBe(1)
      expect(r.stderr.trimEnd()).toBe(`mqa encode: cannot write output ${JSON.stringify(output)}: it is the input, which writing would overwrite while it is read`)
    }
    expect(readFileSync(input).equals(before)).toBe(true)
  })

  describe('stdin that is not MPEG-TS: one line, before beamcoder is given a byte', () => {
    const junk = (n: number, seed = 7) => Buffer.from(Array.from({ length: n }, () => ((seed = (seed * 1664525 + 1013904223) >>> 0) >>> 24)))
    it.each([
      ['junk', junk(200_000), /^mqa encode: input "-" is not MPEG-TS: no packets \(sync byte 0x47 every 188 bytes\) in its first \d+ bytes$/],
      ['a few bytes of text', Buffer.from('hello\n'), /^mqa encode: input "-" is not MPEG-TS: it ended after 6 bytes without a packet \(sync byte 0x47 every 188 bytes\)$/],
      ['nothing', Buffer.alloc(0), /^mqa encode: input "-" ended before any byte arrived$/],
    ])('%s', (_name, input, message) => {
      const r = mqa(['encode', '-i', '-', '-o', join(workDir('cli-stdin'), 'out.ts')], input)
      expect(r.status, r.stderr).toBe(1)
      expect(r.stderr.trimEnd()).toMatch(message)
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
      expect(String(r.stdout)).toBe('') // no native DEBUG line: beamcoder never opened it
    })

    it('takes a TS that starts after junk (a pipe joined mid-stream): the monitor finds the packets', () => {
      const out = join(workDir('cli-stdin'), 'out.ts')
      const r = mqa(['encode', '-i', '-', '-o', out, '--bitrate', '300k'], Buffer.concat([junk(5000), readFileSync(fixture('h264-320x180.ts'))]))
      expect(r.status, r.stderr).toBe(0)
      expect(JSON.parse(r.stderr.trim().split('\n').at(-1)!)).toMatchObject({ msg: 'encode done', frames: 75, measured: 75 })
    })
  })

  it('an encode killed with SIGKILL while its SRT listener waits leaves no relay holding the port', async () => {
    const port = 43_000 + Math.floor(Math.random() * 4000)
    const bound = () => readFileSync('/proc/net/udp', 'utf8').split('\n').some((l) => Number.parseInt(/^\s*\d+:\s+[0-9A-F]+:([0-9A-F]{4})\s/.exec(l)?.[1] ?? '', 16) === port)
    const until = async (want: boolean, ms: number) => {
      const deadline = Date.now() + ms
      while (bound() !== want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      return bound()
    }
    const child = spawn('node', [main, 'encode', '-i', `srt://127.0.0.1:${port}?mode=listener`, '-o', join(workDir('cli-srt-kill'), 'out.ts')], { stdio: 'ignore' })
    try {
      expect(await until(true, 15_000)).toBe(true) // the relay listens
      child.kill('SIGKILL')
      expect(await until(false, 5000)).toBe(false) // and is gone with the encoder
    } finally {
      child.kill('SIGKILL')
    }
  }, 30_000)

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
    // Every frame measured (stdin is a live input: a frame refused by a pool still starting was
    // left unmeasured under load); the encoder's last line says why when one is not.
    const unscored = parsed.frames.flatMap((f, i) => (typeof f.record?.mqa === 'number' ? [] : [i]))
    expect(unscored, r.stderr.trim().split('\n').at(-1)).toEqual([])
  })

  it('ends with one line when the reader of its stdout goes away (a closed pipe), no stack', async () => {
    // `mqa encode -o - | head -c ...`: used to die of an unhandled rejection with beamcoder's message.
    const child = spawn('node', [main, 'encode', '-i', 'lavfi:testsrc2=size=320x180:rate=25', '-o', '-', '--frames', '300'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.stdout.once('data', () => child.stdout.destroy())
    const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    expect(status, stderr).toBe(1)
    expect(stderr.trimEnd()).toBe('mqa encode: cannot write output "-": Broken pipe')
  }, 30_000)

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

  it('says so when --fps relabels an input that states another rate (it does not convert)', () => {
    const dir = workDir('cli-fps')
    const r = mqa(['encode', '-i', fixture('h264-320x180.ts'), '-o', join(dir, 'out.ts'), '--fps', '30', '--frames', '10'])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/--fps differs from the rate the input states: frames are timed at --fps, not converted","stated":"25\/1","fps":"30\/1"/)
    const same = mqa(['encode', '-i', fixture('h264-320x180.ts'), '-o', join(dir, 'out2.ts'), '--fps', '25', '--frames', '10'])
    expect(same.status, same.stderr).toBe(0)
    expect(same.stderr).not.toMatch(/--fps differs/)
  })

  it('prints help for every command', () => {
    for (const c of ['encode', 'source', 'impair', 'inspect', 'package', 'demo']) {
      const r = mqa([c, '--help'])
      expect(r.status).toBe(0)
      expect(r.stdout).toMatch(new RegExp(`^mqa ${c}: `))
    }
  })
})
