import { execFileSync, spawnSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { cpSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { MQA_SEI_UUID, buildA53CaptionSei, buildSeiNal, insertSeiAnnexB, isSeiNal, parseSeiNal, readA53Captions, recordingLogger, type RecordedLine, VideoCodec, formatTimecode, frameIndexToTimecode, frameRate, groupAccessUnits, joinAnnexB, splitAnnexB, timecodeToFrameIndex } from '@mqa/common'
import { describe, expect, it } from 'vitest'
import { AudioMode, EncodeErrorCode, encode, type ReportFrame } from '../src/index.js'
import { inspectFile } from '../src/io/inspect.js'
import { stampAccessUnit } from '../src/stamp.js'
import { ffmpeg, ffmpegDecodeErrors, ffmpegScores, ffprobe, fixture, probeFrames, withTimecodeSei, workDir } from './helpers.js'

/** The fields of each recorded log line whose message matches. */
function fieldsOf(log: { readonly lines: readonly RecordedLine[] }, msg: RegExp): Record<string, unknown>[] {
  return log.lines.filter((l) => msg.test(l.msg)).map((l) => l.fields)
}

function readReport(file: string): ReportFrame[] {
  return (JSON.parse(readFileSync(file, 'utf8')) as { frames: ReportFrame[] }).frames.sort((a, b) => a.frameIndex - b.frameIndex)
}

describe.each([
  { clip: 'h264-320x180.ts', codec: VideoCodec.H264, bframes: 0, out: 'out.ts', fps: 25 },
  { clip: 'h264-bframes-320x180.ts', codec: VideoCodec.H265, bframes: 3, out: 'out.ts', fps: 25 },
  { clip: 'h265-320x180.ts', codec: VideoCodec.H264, bframes: 2, out: 'out.mp4', fps: 25 },
  { clip: 'h264-bframes-640x360.mp4', codec: VideoCodec.H265, bframes: 0, out: 'out.mp4', fps: 30 },
])('mqa encode $clip → $codec $out (B-frames: $bframes)', ({ clip, codec, bframes, out, fps }) => {
  const dir = workDir('encode')
  const output = join(dir, out)
  const reportFile = join(dir, 'report.json')
  let summary: Awaited<ReturnType<typeof encode>>

  it('encodes every frame, measured', async () => {
    summary = await encode({
      input: fixture(clip),
      output,
      codec,
      preset: 'veryfast',
      bitrateKbps: 300,
      gopSeconds: 1,
      segmentSeconds: 2,
      timecode: 'input',
      workers: 2,
      realtime: false,
      bframes,
      report: reportFile,
    })
    const expected = clip.endsWith('.mp4') ? 60 : 75
    expect(summary.frames).toBe(expected)
    expect(summary.measured).toBe(expected)
    expect(ffmpegDecodeErrors(output)).toBe('')
  })

  it('puts our SEI in every access unit, with fn, tc and IDRs on the grid', async () => {
    const report = readReport(reportFile)
    const inspected = await inspectFile(output, { segmentSeconds: 2 })
    expect(inspected.frames).toHaveLength(report.length)
    expect(inspected.frames.every((f) => f.record !== undefined && f.errors.length === 0)).toBe(true)
    // fn counts output frames from 0, tc names the frame index, each once.
    const rate = frameRate(fps)
    const byFn = [...inspected.frames.map((f) => f.record!)].sort((a, b) => a.frameNumber! - b.frameNumber!)
    expect(byFn.map((r) => r.frameNumber)).toEqual(report.map((_, i) => i))
    expect(byFn.map((r) => timecodeToFrameIndex(r.timecode!, rate))).toEqual(report.map((r) => r.frameIndex))
    // IDRs exactly on the GOP grid (G = 1 s), and on the first frame.
    const gop = fps
    const keys = report.filter((r) => r.keyFrame).map((r) => r.frameIndex)
    expect(keys).toEqual(report.filter((r, i) => i === 0 || r.frameIndex % gop === 0).map((r) => r.frameIndex))
    expect(probeFrames(output).filter((f) => f.key)).toHaveLength(keys.length)
    // A GOP summary for every GOP but the last.
    expect(inspected.gopSummaries.map((g) => g.frames)).toEqual(keys.slice(1).map((k, i) => k - keys[i]!))
  })

  it("agrees with FFmpeg's psnr and ssim filters on every frame", () => {
    const report = readReport(reportFile)
    const ref = ffmpegScores(output, fixture(clip))
    expect(ref.psnr).toHaveLength(report.length)
    let maxPsnr = 0
    let maxSsim = 0
    report.forEach((r, i) => {
      const cap = (x: number) => Math.min(x, 100)
      const f = ref.psnr[i]!
      const g = ref.ssim[i]!
      // Every plane: the mean and Y (in the SEI) and U and V (in the report only).
      maxPsnr = Math.max(maxPsnr, ...[[r.psnrDb, f.avg], [r.psnrYDb, f.y], [r.psnrUDb, f.u], [r.psnrVDb, f.v]].map(([ours, theirs]) => Math.abs(cap(ours!) - cap(theirs!))))
      maxSsim = Math.max(maxSsim, ...[[r.ssim, g.all], [r.ssimY, g.y], [r.ssimU, g.u], [r.ssimV, g.v]].map(([ours, theirs]) => Math.abs(ours! - theirs!)))
    })
    // The stats files print 2 (PSNR) and 6 (SSIM) decimals: the tolerance covers that rounding.
    expect(maxPsnr).toBeLessThan(0.02)
    expect(maxSsim).toBeLessThan(0.0005)
  })
})

describe('alignment', () => {
  it('two encodes of one source started at different frames cut IDRs and segments at the same frames', async () => {
    const dir = workDir('align')
    const run = async (start: number, name: string) => {
      const report = join(dir, `${name}.json`)
      await encode({
        input: `lavfi:testsrc2=size=160x90:rate=25,trim=start_frame=${start}`,
        output: join(dir, `${name}.ts`),
        codec: VideoCodec.H264,
        preset: 'ultrafast',
        bitrateKbps: 200,
        gopSeconds: 1,
        segmentSeconds: 2,
        timecode: 'input',
        workers: 1,
        realtime: false,
        maxFrames: 150 - start,
        report,
      })
      return readReport(report)
    }
    const a = await run(0, 'a')
    const b = await run(13, 'b')
    expect(b[0]!.frameIndex).toBe(13)
    const keysFrom = (r: ReportFrame[], from: number) => r.filter((f) => f.keyFrame && f.frameIndex >= from).map((f) => [f.frameIndex, f.timecode])
    expect(keysFrom(b, 25)).toEqual(keysFrom(a, 25))
    expect(keysFrom(a, 25).map(([f]) => f)).toEqual([25, 50, 75, 100, 125])
  })
})

describe('an input whose picture size changes mid-stream (a source switched upstream)', () => {
  it('is scaled to the size the encoder opened with: one size out, every frame measured against the picture it was made from', async () => {
    const dir = workDir('size-change')
    const [small, large, joined] = ['small.ts', 'large.ts', 'joined.ts'].map((f) => join(dir, f)) as [string, string, string]
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', small])
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-output_ts_offset', '2', large])
    writeFileSync(joined, Buffer.concat([readFileSync(small), readFileSync(large)]))
    const output = join(dir, 'out.ts')
    const report = join(dir, 'report.json')
    const summary = await encode({ input: joined, output, report, codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 1000, gopSeconds: 1, segmentSeconds: 1, timecode: 'pts', workers: 1, realtime: false })
    // Before: the 640x360 frames went to x264 unscaled (it read their top-left 320x180) and could
    // not be measured against their source (ERR_METRICS_GEOMETRY): half the frames unmeasured.
    expect(summary.frames).toBeGreaterThanOrEqual(95)
    expect(summary.measured).toBe(summary.frames)
    const decoded = JSON.parse(execFileSync(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=width,height', '-of', 'json', output], { encoding: 'utf8' })) as { frames: { width: number; height: number }[] }
    const sizes = decoded.frames.map((f) => `${f.width}x${f.height}`)
    expect(new Set(sizes)).toEqual(new Set(['320x180']))
    expect(sizes.length).toBe(summary.frames)
    const frames = (JSON.parse(readFileSync(report, 'utf8')) as { frames: ReportFrame[] }).frames
    const after = frames.slice(-40)
    expect(Math.min(...after.map((f) => f.psnrDb ?? 0))).toBeGreaterThan(35)
  })
})

describe('closed captions (CEA-608 in ATSC A/53 SEI, as contribution feeds carry them)', () => {
  const dir = workDir('captions')
  const input = join(dir, 'captioned.ts')
  // 50 frames, each with its own two caption bytes, in an A/53 SEI before its slice.
  const cc = (i: number) => Uint8Array.from([0xfc, 0x80 | (i >> 4), 0x80 | (i & 15), 0xfd, 0x80, 0x80 | i])
  const plain = execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25', '-frames:v', '50', '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0', '-f', 'h264', '-'], { maxBuffer: 1 << 26 })
  const aus = groupAccessUnits(VideoCodec.H264, splitAnnexB(new Uint8Array(plain), VideoCodec.H264))
  const captioned = Buffer.concat(aus.map((au, i) => insertSeiAnnexB(VideoCodec.H264, joinAnnexB(au.map((n) => n.data)), buildSeiNal(VideoCodec.H264, buildA53CaptionSei(cc(i))))))
  execFileSync(ffmpeg, ['-v', 'error', '-f', 'h264', '-r', '25', '-i', '-', '-c', 'copy', '-f', 'mpegts', input], { input: captioned })
  /** Every caption triple in a file's video SEI, in decode order (the frames' order here: no reordering in the input, and sorted below). */
  const captionsIn = (file: string, codec: VideoCodec) => {
    const annexB = execFileSync(ffmpeg, ['-v', 'error', '-i', file, '-map', '0:v', '-c', 'copy', '-f', codec === VideoCodec.H264 ? 'h264' : 'hevc', '-'], { maxBuffer: 1 << 26 })
    return splitAnnexB(new Uint8Array(annexB), codec)
      .filter((n) => isSeiNal(codec, n.type))
      .flatMap((n) => parseSeiNal(codec, n.data).map(readA53Captions))
      .filter((c): c is Uint8Array => c !== undefined)
      .map((c) => Buffer.from(c).toString('hex'))
  }
  const expected = Array.from({ length: 50 }, (_, i) => Buffer.from(cc(i)).toString('hex')).sort()

  // H.264: libx264's wrapper writes them from the frames' A53_CC side data. H.265: FFmpeg 5.1's
  // libx265 wrapper drops them (the ffmpeg CLI's H.265 output has none), so the stamp writes them;
  // before, an H.265 output had none either.
  it.each([
    { codec: VideoCodec.H264, name: 'out.ts' },
    { codec: VideoCodec.H265, name: 'out.ts' },
    { codec: VideoCodec.H265, name: 'out.mp4' },
  ])('every frame keeps its captions ($codec, $name), and FFmpeg reads them back', async ({ codec, name }) => {
    expect(captionsIn(input, VideoCodec.H264).sort()).toEqual(expected)
    const output = join(dir, `${codec}-${name}`)
    const summary = await encode({ input, output, codec, preset: 'ultrafast', bitrateKbps: 300, gopSeconds: 1, segmentSeconds: 1, timecode: 'pts', workers: 1, realtime: false })
    expect(summary.measured).toBe(50)
    expect(captionsIn(output, codec).sort()).toEqual(expected)
    const sideData = execFileSync(ffprobe, ['-v', 'error', '-select_streams', 'v', '-show_entries', 'frame_side_data=side_data_type', '-of', 'csv=p=0', output], { encoding: 'utf8' })
    expect(sideData.split('\n').filter((l) => l.includes('A53'))).toHaveLength(50)
    expect(ffmpegDecodeErrors(output)).toBe('')
  })
})

describe('an input whose video and audio come back on other PIDs (an upstream encoder reconfigured)', () => {
  // Before: FFmpeg's demuxer added the new streams, the encoder read only the first ones, and the
  // output stopped at the change (50 frames of 100), with nothing logged.
  it('follows them there: every frame but the old stream\'s last, audio to the end, a line for each move', async () => {
    const dir = workDir('pid-change')
    const [first, second, joined, output, report] = ['first.ts', 'second.ts', 'joined.ts', 'out.ts', 'report.json'].map((f) => join(dir, f)) as [string, string, string, string, string]
    const part = (tone: string, extra: string[], file: string) =>
      execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25', '-f', 'lavfi', '-i', tone, '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-c:a', 'aac', '-muxdelay', '0', '-muxpreload', '0', ...extra, file])
    part('sine=f=440:r=48000', [], first)
    part('sine=f=880:r=48000', ['-output_ts_offset', '2', '-streamid', '0:0x1e1', '-streamid', '1:0x1e2', '-mpegts_pmt_start_pid', '0x1500'], second)
    writeFileSync(joined, Buffer.concat([readFileSync(first), readFileSync(second)]))
    const log = recordingLogger()
    const summary = await encode({ input: joined, output, report, codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 300, gopSeconds: 1, segmentSeconds: 1, timecode: 'pts', workers: 1, realtime: false, logger: log })
    expect(log.lines.filter((l) => /moved to another stream/.test(l.msg)).map((l) => [l.msg.split(' moved')[0], l.fields])).toEqual([
      ['the input audio', { from: '#1 PID 0x101 aac', to: '#3 PID 0x1e2 aac' }],
      ['the input video', { from: '#0 PID 0x100 h264', to: '#2 PID 0x1e1 h264' }],
    ])
    // The old video stream's last picture stays in FFmpeg's demuxer (a PES is handed on when the
    // next one of its PID starts): it is the one frame lost.
    const frames = readReport(report)
    expect(frames.filter((f) => f.frameIndex >= 50)).toHaveLength(50)
    expect(summary.frames).toBeGreaterThanOrEqual(97)
    expect(summary.measured).toBe(summary.frames)
    const audio = JSON.parse(execFileSync(ffprobe, ['-v', 'error', '-select_streams', 'a', '-show_entries', 'stream=duration', '-of', 'json', output], { encoding: 'utf8' })) as { streams: { duration: string }[] }
    expect(Number(audio.streams[0]!.duration)).toBeGreaterThan(3.9)
    expect(ffmpegDecodeErrors(output)).toBe('')
  })
})

describe('an input picture x264 cannot take as it is (no --size)', () => {
  const base = { codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 300, gopSeconds: 1, segmentSeconds: 1, timecode: 'pts', workers: 1, realtime: false } as const
  /** The picture sizes of the decoded output's frames, each once. */
  const outputSize = (file: string) => {
    const probed = JSON.parse(execFileSync(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=width,height', '-of', 'json', file], { encoding: 'utf8' })) as { frames: { width: number; height: number }[] }
    return [...new Set(probed.frames.map((f) => `${f.width}x${f.height}`))].join(' ')
  }

  it('an odd side loses its last column and row (a crop, not a resample): every frame measured, as FFmpeg scores it against the cropped source', async () => {
    // Before: "cannot open the libx264 encoder for 321x181: Invalid argument", and no output.
    const dir = workDir('odd-size')
    const [odd, cropped, output, report] = ['odd.mkv', 'cropped.mkv', 'out.ts', 'report.json'].map((f) => join(dir, f)) as [string, string, string, string]
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-vf', 'scale=321:181', '-pix_fmt', 'yuv420p', '-frames:v', '25', '-c:v', 'ffv1', odd])
    execFileSync(ffmpeg, ['-v', 'error', '-i', odd, '-vf', 'crop=320:180:0:0', '-c:v', 'ffv1', cropped])
    const log = recordingLogger()
    const summary = await encode({ ...base, input: odd, output, report, logger: log })
    expect(summary.frames).toBe(25)
    expect(summary.measured).toBe(25)
    expect(outputSize(output)).toBe('320x180')
    expect(fieldsOf(log, /odd side/)).toEqual([{ input: '321x181', output: '320x180' }])
    // Cropped, the picture is untouched: FFmpeg scores it against the cropped source as we do.
    // (Scaled, every pixel would be resampled and the PSNR against the cropped source would fall.)
    const ref = ffmpegScores(output, cropped)
    const ours = readReport(report)
    expect(ref.psnr).toHaveLength(25)
    ours.forEach((r, i) => {
      expect(Math.abs(r.psnrDb! - ref.psnr[i]!.avg)).toBeLessThan(0.02)
      expect(Math.abs(r.ssim! - ref.ssim[i]!.all)).toBeLessThan(0.0005)
    })
  })

  it('10-bit (an HDR contribution) is converted to 8-bit 4:2:0 before it is encoded and measured, with a line saying so', async () => {
    const dir = workDir('ten-bit')
    const input = join(dir, 'in.ts')
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-frames:v', '10', '-pix_fmt', 'yuv420p10le', '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error', input])
    const log = recordingLogger()
    const summary = await encode({ ...base, input, output: join(dir, 'out.ts'), logger: log })
    expect(summary.measured).toBe(10)
    expect(fieldsOf(log, /not 8-bit 4:2:0/)).toEqual([{ input: 'yuv420p10le' }])
  })

  it('smaller than 16x16, the smallest picture mqa measures: scaled up to it, every frame measured', async () => {
    // Before: 12x12 went out with every frame unmeasured ("SSIM needs planes of at least 8x8 pixels").
    const dir = workDir('tiny-size')
    const output = join(dir, 'out.ts')
    const log = recordingLogger()
    const summary = await encode({ ...base, input: 'lavfi:testsrc2=size=12x12:rate=25', output, maxFrames: 25, logger: log })
    expect(summary.measured).toBe(25)
    expect(summary.metricsErrors).toBe(0)
    expect(outputSize(output)).toBe('16x16')
    expect(fieldsOf(log, /smaller than mqa measures \(16x16\): it is scaled up/)).toEqual([{ input: '12x12', output: '16x16' }])
  })
})

describe("what the input says about its picture: the pixels' shape (sample aspect ratio) and colour", () => {
  const base = { codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 500, gopSeconds: 1, segmentSeconds: 1, timecode: 'pts', workers: 1, realtime: false } as const
  const shape = (file: string) => {
    const probed = JSON.parse(execFileSync(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,sample_aspect_ratio,display_aspect_ratio', '-of', 'json', file], { encoding: 'utf8' })) as { streams: Record<string, unknown>[] }
    return probed.streams[0]
  }

  // Before: every output said nothing (N/A), so a 16:9 PAL picture showed squeezed to 5:4.
  it.each(['out.ts', 'out.mp4'])('is kept (%s): 720x576 16:9 PAL has 64:45 pixels', async (name) => {
    const dir = workDir('sar')
    const input = join(dir, 'pal.ts')
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=720x576:rate=25', '-vf', 'setsar=64/45', '-frames:v', '10', '-c:v', 'libx264', '-preset', 'ultrafast', input])
    const output = join(dir, name)
    expect((await encode({ ...base, input, output })).measured).toBe(10)
    expect(shape(output)).toEqual({ width: 720, height: 576, sample_aspect_ratio: '64:45', display_aspect_ratio: '16:9' })
  })

  // Before: the output said nothing (unknown), so a player guessed (BT.601 for SD, BT.709 for HD).
  it.each([
    { codec: VideoCodec.H264, name: 'out.ts', size: '640x360', tags: ['bt709', 'bt709', 'bt709'] },
    { codec: VideoCodec.H265, name: 'out.mp4', size: '720x576', tags: ['bt470bg', 'smpte170m', 'bt470bg'] },
  ])('its colour description is kept ($codec, $name: $tags)', async ({ codec, name, size, tags }) => {
    const [primaries, transfer, matrix] = tags as [string, string, string]
    const dir = workDir('colour')
    const input = join(dir, 'in.ts')
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=25`, '-frames:v', '5', '-c:v', 'libx264', '-preset', 'ultrafast', '-color_primaries', primaries, '-color_trc', transfer, '-colorspace', matrix, '-color_range', 'tv', input])
    const output = join(dir, name)
    expect((await encode({ ...base, codec, input, output })).measured).toBe(5)
    const probed = JSON.parse(execFileSync(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=color_range,color_space,color_transfer,color_primaries', '-of', 'json', output], { encoding: 'utf8' })) as { streams: Record<string, unknown>[] }
    expect(probed.streams[0]).toEqual({ color_range: 'tv', color_space: matrix, color_transfer: transfer, color_primaries: primaries })
  })

  it('an interlaced input is said to be one, once, with its field order (it is encoded as progressive pictures, fields woven)', async () => {
    const dir = workDir('interlaced')
    const input = join(dir, 'in.ts')
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x192:rate=50', '-vf', 'interlace', '-frames:v', '6', '-c:v', 'libx264', '-preset', 'ultrafast', '-flags', '+ildct+ilme', '-x264opts', 'tff=1', input])
    const log = recordingLogger()
    expect((await encode({ ...base, input, output: join(dir, 'out.ts'), logger: log })).measured).toBe(6)
    expect(fieldsOf(log, /interlaced/)).toEqual([{ fieldOrder: 'top field first' }])
  })

  it('scaled by --size, the picture keeps its shape (as FFmpeg\'s scale filter does): HDV 1440x1080 4:3 pixels to 640x360 square ones', async () => {
    const dir = workDir('sar-scaled')
    const input = join(dir, 'hdv.ts')
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1440x1080:rate=25', '-vf', 'setsar=4/3', '-frames:v', '5', '-c:v', 'libx264', '-preset', 'ultrafast', input])
    const output = join(dir, 'out.ts')
    expect((await encode({ ...base, input, output, size: { width: 640, height: 360 } })).measured).toBe(5)
    expect(shape(output)).toEqual({ width: 640, height: 360, sample_aspect_ratio: '1:1', display_aspect_ratio: '16:9' })
  })
})

describe('outputs that cannot be written', () => {
  const base = { input: 'lavfi:testsrc2=size=160x90:rate=25', codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 800, gopSeconds: 1, segmentSeconds: 1, timecode: 'pts', workers: 1, realtime: false } as const

  // A write error used to escape the write queue as an unhandled rejection: the process died with
  // beamcoder's message and a stack (and vitest would fail this file on the unhandled rejection).
  it.skipIf(!existsSync('/dev/full'))('a file on a full disk ends the encode with one error naming it', async () => {
    await expect(encode({ ...base, output: '/dev/full', maxFrames: 100 })).rejects.toMatchObject({ code: 'ERR_OUTPUT', message: 'cannot write output "/dev/full": No space left on device' })
  })

  it('a UDP output to port 0 is refused before the input opens, naming it', async () => {
    await expect(encode({ ...base, output: 'udp://127.0.0.1:0', maxFrames: 30 })).rejects.toMatchObject({ code: 'ERR_OUTPUT', message: 'output "udp://127.0.0.1:0": port 0 is not a destination (1-65535)' })
  })

  // `connect=1` (FFmpeg's udp option, passed on from the output's query) makes a send to a port
  // nobody listens on fail with ECONNREFUSED, all on 127.0.0.1. FFmpeg's I/O keeps its first write
  // error and writes nothing after it: before the beamcoder patch cleared it, one refused send
  // stopped the output for good (0 datagrams once the receiver was up, every packet an error).
  // With `bitrate=` FFmpeg paces the datagrams from a thread of its own, which ends at the first
  // failed send: before, that output sent nothing more (0 datagrams once the receiver was up); now
  // it is opened again a second later.
  it.each(['connect=1', 'connect=1&bitrate=2000000'])('a UDP output whose sends fail (?%s) does not stop the encode, and sends again once the receiver is back', async (query) => {
    const port = await freeUdpPort()
    const logger = recordingLogger()
    const output = `udp://127.0.0.1:${port}?${query}`
    // 75 frames paced at 25 fps: 3 s, the receiver starts after 1 s.
    const done = encode({ ...base, output, realtime: true, maxFrames: 75, logger })
    await new Promise((r) => setTimeout(r, 1000))
    const rx = createSocket('udp4')
    const datagrams: Buffer[] = []
    rx.on('message', (m) => datagrams.push(m))
    await new Promise<void>((r) => rx.bind(port, '127.0.0.1', r))
    try {
      const summary = await done
      expect(summary.frames).toBe(75)
      expect(summary.outputErrors).toBeGreaterThan(0)
      expect(logger.lines.find((l) => l.level === 'warn')?.fields).toMatchObject({ output, reason: 'Connection refused' })
      // After 1 s of a 3 s stream at 800 kb/s, most of 2 s of TS arrives (paced: from the reopening,
      // at most a second after the receiver is up): 7-packet datagrams, which FFmpeg decodes.
      expect(datagrams.length).toBeGreaterThan(20)
      expect(datagrams.every((d) => d.length % 188 === 0 && d[0] === 0x47)).toBe(true)
      const received = join(workDir('udp-back'), 'received.ts')
      writeFileSync(received, Buffer.concat(datagrams))
      const frames = execFileSync(ffprobe, ['-v', 'error', '-select_streams', 'v', '-count_frames', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', received], { encoding: 'utf8' })
      expect(Number(frames.trim().split('\n')[0])).toBeGreaterThan(20)
    } finally {
      rx.close()
    }
  })
})

/** A UDP port on 127.0.0.1 that nothing listens on (bound, read, released). */
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
  const { port } = s.address()
  await new Promise<void>((r) => s.close(r))
  return port
}

describe('a metrics worker that cannot load (a broken install)', () => {
  // A copy of the built package whose worker module throws when it loads, as one with its kernels
  // or its module missing would. Before, that killed the process with piscina's unheard 'error'
  // event (a stack trace), and with a listener the frames queued behind the dead worker never
  // settled: the encode hung (this test timed out). Now each frame fails at once, counted, and the
  // error is one line per window with the total.
  it('every frame goes out unmeasured and the encode finishes; one error line per window, with the total, and metricsErrors in the summary', async () => {
    const dir = workDir('broken-worker')
    cpSync(fileURLToPath(new URL('../dist', import.meta.url)), join(dir, 'dist'), { recursive: true })
    symlinkSync(fileURLToPath(new URL('../node_modules', import.meta.url)), join(dir, 'node_modules'))
    // The sources too, which the copied source maps point at (else vite prints a warning for each).
    symlinkSync(fileURLToPath(new URL('../src', import.meta.url)), join(dir, 'src'))
    writeFileSync(join(dir, 'dist/io/metrics-worker.js'), "throw new Error('no kernels here (a broken install, made by the test)')\n")
    const broken = (await import(pathToFileURL(join(dir, 'dist/index.js')).href)) as { encode: typeof encode }
    const logger = recordingLogger()
    const output = join(dir, 'out.ts')
    const summary = await broken.encode({ input: 'lavfi:testsrc2=size=160x90:rate=25', output, codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 300, gopSeconds: 1, segmentSeconds: 1, timecode: 'pts', workers: 1, realtime: false, maxFrames: 60, logger })
    expect(summary).toMatchObject({ frames: 60, measured: 0, unmeasured: 60, metricsErrors: 60, overload: 0 })
    // The worker's death or the first frame it failed, whichever came first; nothing more in the window.
    const errors = logger.lines.filter((l) => l.level === 'error')
    expect(errors).toHaveLength(1)
    expect(errors[0]!.msg).toMatch(/^metrics worker (stopped|failed)/)
    expect(errors[0]!.fields).toMatchObject({ total: 1, error: expect.stringContaining('no kernels here') })
    // The stream says so frame by frame: every record `um`, none with scores.
    const { frames } = await inspectFile(output, { segmentSeconds: 1 })
    expect(frames).toHaveLength(60)
    expect(frames.every((f) => f.record?.unmeasured === true && f.record.psnrDb === undefined && f.record.mqa === undefined && f.errors.length === 0)).toBe(true)
  })
})

describe('settings the encoder refuses', () => {
  const base = { input: 'lavfi:testsrc2=size=64x64:rate=25', codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 200, gopSeconds: 1, segmentSeconds: 1, timecode: 'pts', workers: 1, realtime: false, maxFrames: 3 } as const

  it('an unknown preset is a typed error before anything opens', async () => {
    const output = join(workDir('bad-preset'), 'out.ts')
    await expect(encode({ ...base, output, codec: VideoCodec.H265, preset: 'nosuch' })).rejects.toMatchObject({ code: EncodeErrorCode.PRESET, message: expect.stringMatching(/^preset "nosuch" is not one of ultrafast, /) })
  })

  it('a codec that will not open is a typed error naming the encoder, not a native one', async () => {
    // libx264 refuses a negative bitrate only when beamcoder opens it, at the first encode().
    // Unpatched beamcoder rejected that encode() in some runs and in others lost the error and
    // took every frame, giving nothing (the race the patch fixes): now it is rejected every time.
    const output = join(workDir('bad-open'), 'out.ts')
    const err = (await encode({ ...base, output, bitrateKbps: -5 }).then(
      () => undefined,
      (e: unknown) => e,
    )) as { code?: string; message?: string } | undefined
    expect(err?.code).toBe(EncodeErrorCode.ENCODER_OPEN)
    expect(err?.message).toMatch(/^cannot open the libx264 encoder for 64x64 \(preset ultrafast, -5 kb\/s\)/)
  })
})

describe('audio', () => {
  const dir = workDir('audio')
  const pcmMkv = join(dir, 'pcm.mkv')
  const aacMp4 = join(dir, 'aac.mp4')
  // 2 s of 160x90 video and a 440 Hz tone: PCM in Matroska (must be encoded), AAC in MP4 (copied).
  execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25', '-f', 'lavfi', '-i', 'sine=f=440:r=48000', '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'pcm_s16le', pcmMkv])
  execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25', '-f', 'lavfi', '-i', 'sine=f=440:r=44100', '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-ac', '2', aacMp4])
  const base = { codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 200, gopSeconds: 1, segmentSeconds: 1, timecode: 'pts', workers: 1, realtime: false } as const
  const audioStream = (file: string) => JSON.parse(execFileSync(ffprobe, ['-v', 'error', '-select_streams', 'a', '-show_entries', 'stream=codec_name,sample_rate,channels,duration', '-of', 'json', file], { encoding: 'utf8' })).streams as { codec_name: string; sample_rate: string; channels: number; duration?: string }[]
  /** MD5 of every audio packet's payload (ffmpeg's framemd5 muxer, stream copy; ADTS headers taken off). */
  const audioPacketMd5s = (file: string) => execFileSync(ffmpeg, ['-v', 'error', '-i', file, '-map', '0:a', '-c', 'copy', ...(file.endsWith('.ts') ? ['-bsf:a', 'aac_adtstoasc'] : []), '-f', 'framemd5', '-'], { encoding: 'utf8' }).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',')[5]!.trim()) // stream, dts, pts, duration, size, md5[, side data]

  it.each(['out.ts', 'out.mp4'])('PCM audio is encoded to AAC, muxed alongside (%s), and measured', async (name) => {
    const output = join(dir, name)
    const reportFile = join(dir, `${name}.json`)
    const summary = await encode({ ...base, input: pcmMkv, output, report: reportFile })
    expect(summary.audio).toBe('aac')
    expect(summary.audioPackets).toBeGreaterThan(85) // 2 s at 48 kHz is 93.75 frames of 1024 samples
    const [a, ...more] = audioStream(output)
    expect(more).toHaveLength(0)
    expect(a).toMatchObject({ codec_name: 'aac', sample_rate: '48000', channels: 1 })
    const durationS = a!.duration ? Number(a!.duration) : Number(execFileSync(ffprobe, ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', output], { encoding: 'utf8' }))
    expect(durationS).toBeGreaterThan(1.85)
    expect(durationS).toBeLessThan(2.1)
    expect(ffmpegDecodeErrors(output)).toBe('')
    // The tone starts with the first video frame, as in the input: the AAC priming frame just
    // before it is kept (in MP4 an edit list hides it). Without it the first frame decoded without
    // its overlap, and the tone began 466 samples (9.7 ms) late.
    const starts = JSON.parse(execFileSync(ffprobe, ['-v', 'error', '-show_entries', 'stream=codec_type,start_time', '-of', 'json', output], { encoding: 'utf8' })).streams as { codec_type: string; start_time: string }[]
    const startOf = (type: string) => Number(starts.find((s) => s.codec_type === type)!.start_time)
    const pcm = execFileSync(ffmpeg, ['-v', 'error', '-i', output, '-map', '0:a', '-f', 'f32le', '-ac', '1', '-'], { maxBuffer: 1 << 24 })
    const samples = new Float32Array(pcm.buffer, pcm.byteOffset, pcm.length >> 2)
    const toneStartS = startOf('audio') + samples.findIndex((v) => Math.abs(v) > 0.01) / 48000
    expect(Math.abs(toneStartS - startOf('video'))).toBeLessThan(0.001)
    // MQA-AUDIO in the frames' SEI: every frame once the first 400 ms loudness window is full.
    const frames = readReport(reportFile)
    expect(frames.filter((f) => typeof f.audio === 'number').length).toBeGreaterThanOrEqual(frames.length - 12)
    const inspected = await inspectFile(output, { segmentSeconds: 1 })
    expect(inspected.frames.filter((f) => typeof f.record?.audio === 'number').length).toBeGreaterThanOrEqual(frames.length - 12)
  })

  it('the last samples of the input, less than an AAC frame, are encoded too (padded with silence to a whole frame)', async () => {
    // 1.3 s at 44.1 kHz: 57 330 samples, 55 whole frames of 1024 and 1010 over; as u8 PCM, whose silence is 0x80.
    const input = join(dir, 'tail.mkv')
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25', '-f', 'lavfi', '-i', 'sine=f=440:r=44100', '-t', '1.3', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'pcm_u8', input])
    const output = join(dir, 'tail.ts')
    const summary = await encode({ ...base, input, output })
    expect(summary.audio).toBe('aac')
    const durations = execFileSync(ffprobe, ['-v', 'error', '-select_streams', 'a', '-show_entries', 'packet=duration_time', '-of', 'csv=p=0', output], { encoding: 'utf8' }).split('\n').filter((l) => l.trim() !== '').map((l) => Number(l.split(',')[0])) // each line ends in a comma, blank lines between
    // Every input sample is in a frame (without the padding the stream stopped 1010 samples short, at
    // 1.277 s). The first packet is the encoder's priming frame, before the first video frame.
    expect(durations.slice(1).reduce((t, d) => t + d, 0)).toBeGreaterThan(1.299) // (durations in 90 kHz ticks, rounded)
    expect(durations.length).toBe(1 + Math.ceil((1.3 * 44100) / 1024))
    // The padding is silence: the decoded tail past the tone is quiet (the tone's peak is 1/8).
    const pcm = execFileSync(ffmpeg, ['-v', 'error', '-i', output, '-map', '0:a', '-f', 'f32le', '-ac', '1', '-'], { maxBuffer: 1 << 24 })
    const samples = new Float32Array(pcm.buffer, pcm.byteOffset, pcm.length >> 2)
    expect(Math.max(...Array.from(samples.subarray(-8), Math.abs))).toBeLessThan(0.05)
    expect(ffmpegDecodeErrors(output)).toBe('')
  })

  // Before: every input was mixed down to stereo (or mono), silently.
  it('5.1 audio is encoded as 5.1 (5.1(side) carried as 5.1), each channel at its own level; 6.1 is mixed down to 5.1, with a line saying so', async () => {
    const tone = (v: number, i: number) => `sine=f=100:r=48000,volume=${v}[a${i}]`
    const make = (layout: string, volumes: number[], file: string) =>
      execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25', '-filter_complex', `${volumes.map(tone).join(';')};${volumes.map((_, i) => `[a${i}]`).join('')}join=inputs=${volumes.length}:channel_layout=${layout}[a]`, '-map', '0:v', '-map', '[a]', '-t', '1', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'pcm_s16le', file])
    /** Each channel's RMS level in dB, from FFmpeg's astats. */
    const levels = (file: string) => [...spawnSync(ffmpeg, ['-i', file, '-map', '0:a', '-af', 'astats=measure_overall=none:measure_perchannel=RMS_level', '-f', 'null', '-'], { encoding: 'utf8' }).stderr.matchAll(/RMS level dB: (-?[\d.]+)/g)].map((m) => Number(m[1]))
    const side = join(dir, 'side.mov')
    make('5.1(side)', [1, 0.8, 0.6, 0.5, 0.4, 0.3], side)
    const output = join(dir, 'surround.ts')
    await encode({ ...base, input: side, output, audio: AudioMode.AAC })
    expect(audioStream(output)).toMatchObject([{ codec_name: 'aac', channels: 6 }])
    const [inLevels, outLevels] = [levels(side), levels(output)]
    expect(inLevels).toHaveLength(6)
    expect(outLevels).toHaveLength(6)
    outLevels.forEach((l, c) => expect(Math.abs(l - inLevels[c]!), `channel ${c}: ${l} dB out, ${inLevels[c]} dB in`).toBeLessThan(0.5))

    const s61 = join(dir, '6.1.mov')
    make('6.1', [1, 1, 1, 1, 1, 1, 1], s61)
    const log = recordingLogger()
    await encode({ ...base, input: s61, output: join(dir, 'from-6.1.ts'), audio: AudioMode.AAC, logger: log })
    expect(audioStream(join(dir, 'from-6.1.ts'))).toMatchObject([{ codec_name: 'aac', channels: 6 }])
    expect(fieldsOf(log, /mixed down/)).toEqual([{ input: '7 channels', output: '5.1' }])
  })

  // Before: FFmpeg's buffer source refused the first 5.1 frame, beamcoder's filterer gave nothing
  // back, and the output's audio stopped at the switch, with no line said.
  it('an input whose audio changes format upstream (stereo 48 kHz to 5.1 44.1 kHz) is encoded on, on time, in the format the output opened with', async () => {
    const [first, second, joined] = ['switch-stereo.ts', 'switch-5.1.ts', 'switched.ts'].map((f) => join(dir, f)) as [string, string, string]
    const part = (tone: string, offset: string, file: string) =>
      execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25', '-f', 'lavfi', '-i', tone, '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-muxdelay', '0', '-muxpreload', '0', '-output_ts_offset', offset, file])
    part('sine=f=440:r=48000,aformat=channel_layouts=stereo', '0', first)
    part('sine=f=880:r=44100,aformat=channel_layouts=5.1', '2', second)
    writeFileSync(joined, Buffer.concat([readFileSync(first), readFileSync(second)]))
    const output = join(dir, 'switched-out.ts')
    const reportFile = join(dir, 'switched.json')
    const log = recordingLogger()
    const summary = await encode({ ...base, input: joined, output, report: reportFile, audio: AudioMode.AAC, logger: log })
    expect(fieldsOf(log, /input audio changed/)).toEqual([{ from: '48000 Hz fltp stereo', to: '44100 Hz fltp 5.1', output: '48000 Hz stereo' }])
    expect(log.lines.filter((l) => l.level === 'warn' && /audio/.test(l.msg))).toEqual([])
    expect(audioStream(output)).toMatchObject([{ codec_name: 'aac', sample_rate: '48000', channels: 2 }])
    expect(ffmpegDecodeErrors(output)).toBe('')
    // The 880 Hz tone of the second part starts where the second part's video does (2 s in), within
    // a few milliseconds: zero crossings in 10 ms windows tell 440 Hz (about 9) from 880 (about 18).
    const starts = JSON.parse(execFileSync(ffprobe, ['-v', 'error', '-show_entries', 'stream=codec_type,start_time', '-of', 'json', output], { encoding: 'utf8' })).streams as { codec_type: string; start_time: string }[]
    const startOf = (type: string) => Number(starts.find((s) => s.codec_type === type)!.start_time)
    const pcm = execFileSync(ffmpeg, ['-v', 'error', '-i', output, '-map', '0:a', '-f', 'f32le', '-ac', '1', '-'], { maxBuffer: 1 << 24 })
    const samples = new Float32Array(pcm.buffer, pcm.byteOffset, pcm.length >> 2)
    const crossings = (from: number) => {
      let n = 0
      for (let i = from + 1; i < from + 480; i++) if (samples[i - 1]! < 0 !== samples[i]! < 0) n++
      return n
    }
    let at = 48000
    while (at + 480 < samples.length && crossings(at) < 14) at += 48
    const switchS = startOf('audio') + at / 48000 - startOf('video')
    expect(Math.abs(switchS - 2), `880 Hz from ${switchS.toFixed(4)} s`).toBeLessThan(0.02) // 1.9943 s here
    // ... and lasts to the end: audio for the whole 4 s, not 2.
    const lastS = samples.length / 48000 + startOf('audio') - startOf('video')
    expect(lastS).toBeGreaterThan(3.95)
    expect(crossings(samples.length - 48000)).toBeGreaterThanOrEqual(14)
    // MQA-AUDIO goes on after the switch (the loudness measurement starts again at the new format).
    expect(summary.frames).toBeGreaterThanOrEqual(98) // (a frame at the join may time in the past: dropped)
    const late = readReport(reportFile).filter((f) => f.frameIndex >= 70)
    expect(late.length).toBeGreaterThan(25)
    expect(late.filter((f) => typeof f.audio !== 'number')).toEqual([])
  })

  // Before: the second track went without a word, and the first lost its language.
  /** 1 s with two audio streams: eng (mono, 440 Hz) and fra (stereo, 880 Hz). Made once. */
  const twoLanguages = () => {
    const input = join(dir, 'two-languages.ts')
    if (!existsSync(input)) {
      execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25', '-f', 'lavfi', '-i', 'sine=f=440', '-f', 'lavfi', '-i', 'sine=f=880:r=48000,aformat=channel_layouts=stereo', '-map', '0', '-map', '1', '-map', '2', '-t', '1', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=fra', input])
    }
    return input
  }

  it.each(['out.ts', 'out.mp4'])('of two audio streams (eng, fra) the first is carried with its language (%s), and a line names the one left out', async (name) => {
    const input = twoLanguages()
    const output = join(dir, `two-languages-${name}`)
    const log = recordingLogger()
    await encode({ ...base, input, output, logger: log })
    const probed = JSON.parse(execFileSync(ffprobe, ['-v', 'error', '-select_streams', 'a', '-show_entries', 'stream=codec_name:stream_tags=language', '-of', 'json', output], { encoding: 'utf8' })) as { streams: { codec_name: string; tags?: { language?: string } }[] }
    expect(probed.streams.map((st) => [st.codec_name, st.tags?.language])).toEqual([['aac', 'eng']])
    expect(fieldsOf(log, /more than one audio stream/)).toEqual([{ carried: '#1 aac mono eng', leftOut: ['#2 aac stereo fra'] }])
  })

  it.each([1, 'fra'])('audioStream %j carries the second (fra), its own audio; one the input does not have is a typed error listing those it has', async (audioStream) => {
    const input = twoLanguages()
    const output = join(dir, `fra-${audioStream}.ts`)
    const log = recordingLogger()
    await encode({ ...base, input, output, logger: log, audioStream })
    const probed = JSON.parse(execFileSync(ffprobe, ['-v', 'error', '-select_streams', 'a', '-show_entries', 'stream=channels:stream_tags=language', '-of', 'json', output], { encoding: 'utf8' })) as { streams: { channels: number; tags?: { language?: string } }[] }
    expect(probed.streams.map((st) => [st.channels, st.tags?.language])).toEqual([[2, 'fra']]) // the fra track is the stereo one
    expect(fieldsOf(log, /more than one audio stream/)).toEqual([{ carried: '#2 aac stereo fra', leftOut: ['#1 aac mono eng'] }])
    const missing = await encode({ ...base, input, output: join(dir, 'none.ts'), audioStream: typeof audioStream === 'number' ? 2 : 'deu' }).catch((err: unknown) => err as Error & { code: string })
    expect(missing).toMatchObject({ code: EncodeErrorCode.AUDIO_STREAM, message: expect.stringMatching(/^the input has no audio stream (number 2 \(counting from 0\)|in "deu"); its audio streams: #1 aac mono eng, #2 aac stereo fra$/) })
  })

  it('AAC is copied, not encoded again: every output audio packet is an input packet, byte for byte', async () => {
    const output = join(dir, 'copy.ts')
    const summary = await encode({ ...base, input: aacMp4, output })
    expect(summary.audio).toBe('copy')
    expect(audioStream(output)[0]).toMatchObject({ codec_name: 'aac', sample_rate: '44100', channels: 2 })
    const inputMd5s = new Set(audioPacketMd5s(aacMp4))
    const outputMd5s = audioPacketMd5s(output)
    expect(outputMd5s.length).toBeGreaterThan(80) // 2 s at 44.1 kHz: 86 frames
    expect(outputMd5s.filter((m) => !inputMd5s.has(m))).toEqual([])
  })

  it('a gap in the input audio stays a gap in time when encoded to AAC (filled with silence), so audio and video stay together', async () => {
    // 4 s of video, and audio with the second from 1 s to 2 s taken out (its timestamps keep the hole).
    const gapTs = join(dir, 'gap.ts')
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25', '-f', 'lavfi', '-i', 'sine=f=440:r=48000', '-t', '4', '-filter_complex', "[1:a]aselect='not(between(t,1,2))',asetpts=PTS[a]", '-map', '0:v', '-map', '[a]', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-f', 'mpegts', gapTs])
    const ptsOf = (file: string, type: string) =>
      (JSON.parse(execFileSync(ffprobe, ['-v', 'error', '-show_entries', 'packet=pts_time,codec_type', '-of', 'json', file], { encoding: 'utf8' })).packets as { codec_type: string; pts_time: string }[])
        .filter((p) => p.codec_type === type)
        .map((p) => Number(p.pts_time))
        .sort((x, y) => x - y)
    const inAudio = ptsOf(gapTs, 'audio')
    expect(inAudio.some((t, i) => i > 0 && t - inAudio[i - 1]! > 0.9)).toBe(true) // the test input has its hole
    const output = join(dir, 'gap-out.ts')
    await encode({ ...base, input: gapTs, output, audio: AudioMode.AAC })
    const audio = ptsOf(output, 'audio')
    const video = ptsOf(output, 'video')
    // Audio runs to the end of the video (without the fill it ended a second early), with no hole.
    expect(Math.abs(audio.at(-1)! - video.at(-1)!)).toBeLessThan(0.1)
    expect(audio.every((t, i) => i === 0 || t - audio[i - 1]! < 0.05)).toBe(true)
    expect(ffmpegDecodeErrors(output)).toBe('')
  })

  it('audio "aac" encodes AAC input again; "copy" of PCM is a typed error', async () => {
    const summary = await encode({ ...base, input: aacMp4, output: join(dir, 'again.ts'), audio: AudioMode.AAC, maxFrames: 25 })
    expect(summary.audio).toBe('aac')
    await expect(encode({ ...base, input: pcmMkv, output: join(dir, 'no.ts'), audio: AudioMode.COPY })).rejects.toMatchObject({ code: EncodeErrorCode.AUDIO_COPY, message: expect.stringMatching(/^the input audio is pcm_s16le, which cannot be copied/) })
  })
})

describe('an input whose SEI cannot be read (damaged upstream)', () => {
  const dir = workDir('bad-sei')
  const plain = join(dir, 'plain.h264')
  execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25', '-frames:v', '50', '-c:v', 'libx264', '-preset', 'ultrafast', '-x264-params', 'bframes=0:keyint=25', '-f', 'h264', plain])
  it('frames whose tc SEI is damaged are timed on from the last timecode; each is counted, each kind logged once per window, and the encode goes on', async () => {
    const fr = frameRate(25)
    const start = timecodeToFrameIndex('10:00:00:00', fr)
    const want = Array.from({ length: 50 }, (_, i) => start + i)
    // Our SEI with tc in every access unit, as `mqa source` writes it; then damage: frames 10-14
    // get a payload that is not printable ASCII (ERR_PAYLOAD_SYNTAX), frame 30 an SEI whose
    // payload size runs past its NAL (ERR_SEI_TRUNCATED).
    const aus = groupAccessUnits(VideoCodec.H264, splitAnnexB(new Uint8Array(readFileSync(plain)), VideoCodec.H264))
    expect(aus).toHaveLength(50)
    const stamped = aus.map((au, i) => Buffer.from(stampAccessUnit(VideoCodec.H264, joinAnnexB(au.map((n) => n.data)), [{ timecode: formatTimecode(frameIndexToTimecode(want[i]!, fr)) }])))
    for (const i of [10, 11, 12, 13, 14]) {
      const at = stamped[i]!.indexOf('v=1,tc="')
      expect(at).toBeGreaterThan(0)
      stamped[i]![at + 2] = 0x7f
    }
    const uuidAt = stamped[30]!.indexOf(Buffer.from(MQA_SEI_UUID))
    expect(stamped[30]![uuidAt - 1]).toBeLessThan(0xff) // the payload size, in one byte
    stamped[30]![uuidAt - 1] = 0xfe
    const tagged = join(dir, 'tagged.h264')
    writeFileSync(tagged, Buffer.concat(stamped))
    const input = join(dir, 'tagged.mp4')
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'h264', '-r', '25', '-i', tagged, '-c', 'copy', input])
    const logger = recordingLogger()
    const reportFile = join(dir, 'report.json')
    const summary = await encode({ input, output: join(dir, 'out.ts'), codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 200, gopSeconds: 1, segmentSeconds: 1, timecode: 'input', workers: 1, realtime: false, report: reportFile, logger })
    expect(summary).toMatchObject({ frames: 50, measured: 50, inputSeiErrors: 6, inputErrors: 0, decodeErrors: 0 })
    expect(readReport(reportFile).map((f) => f.frameIndex)).toEqual(want)
    const seiWarns = logger.lines.filter((l) => l.level === 'warn' && l.msg.startsWith("an input access unit's SEI could not be read"))
    expect(seiWarns.map((w) => [w.fields.code, w.fields.total])).toEqual([
      ['ERR_PAYLOAD_SYNTAX', 1],
      ['ERR_SEI_TRUNCATED', 6],
    ])
    expect(seiWarns[1]!.fields.error).toMatch(/^SEI message type 5 says 254 payload bytes but \d+ are left/)
  })

  it("a broken SEI in a stream that never carried our tc (another encoder's) is not reported", async () => {
    // x264's own user-data SEI (its settings) in the first access unit, with its size byte broken.
    // Its payload size is over 510 bytes (0xFF 0xFF, then the rest), then the 16-byte UUID.
    const bytes = readFileSync(plain)
    const at = bytes.indexOf('x264 - core')
    expect([bytes[at - 19], bytes[at - 18]]).toEqual([0xff, 0xff])
    bytes[at - 17] = 0xfe // 764 bytes: past the end of its NAL
    const foreign = join(dir, 'foreign.h264')
    writeFileSync(foreign, bytes)
    const input = join(dir, 'foreign.mp4')
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'h264', '-r', '25', '-i', foreign, '-c', 'copy', input])
    const logger = recordingLogger()
    const summary = await encode({ input, output: join(dir, 'foreign.ts'), codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 200, gopSeconds: 1, segmentSeconds: 1, timecode: 'input', workers: 1, realtime: false, logger })
    expect(summary).toMatchObject({ frames: 50, inputSeiErrors: 0 })
    expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([])
  })

  it('an input that is not H.264 or H.265 (raw video from lavfi) is not read for SEI: no errors counted, no warning', async () => {
    const logger = recordingLogger()
    const summary = await encode({ input: 'lavfi:testsrc2=size=160x90:rate=25', output: join(dir, 'lavfi.ts'), codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 200, gopSeconds: 1, segmentSeconds: 1, timecode: 'input', workers: 1, realtime: false, maxFrames: 10, logger })
    expect(summary).toMatchObject({ frames: 10, inputSeiErrors: 0 })
    expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([])
  })
})

describe('SMPTE timecode of the input', () => {
  const dir = workDir('smpte')
  it.each([
    { name: '25 fps, 10:00:00:00', rate: '25', start: '10:00:00:00', gopSeconds: 1, segmentSeconds: 1, first: '10:00:00:00', last: '10:00:00:24', frames: 25 },
    { name: '29.97 drop-frame, 00:09:59;28', rate: '30000/1001', start: '00:09:59;28', gopSeconds: 1.001, segmentSeconds: 1.001, first: '00:09:59;28', last: '00:10:00;27', frames: 30 },
    // Non-drop-frame at 29.97 stays so: 00:01:00:00 and :01 are written (drop-frame has no such labels).
    { name: '29.97 non-drop-frame, 00:00:59:28', rate: '30000/1001', start: '00:00:59:28', gopSeconds: 1.001, segmentSeconds: 1.001, first: '00:00:59:28', last: '00:01:00:27', frames: 30 },
  ])('an MP4 with a timecode track ($name) is encoded on that timecode, counting on', async ({ rate, start, gopSeconds, segmentSeconds, first, last, frames }) => {
    const input = join(dir, `${first.replace(/\W/g, '')}.mp4`)
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=160x90:rate=${rate}`, '-frames:v', String(frames), '-c:v', 'libx264', '-preset', 'ultrafast', '-timecode', start, input])
    const output = join(dir, `${first.replace(/\W/g, '')}.ts`)
    const reportFile = join(dir, `${first.replace(/\W/g, '')}.json`)
    await encode({ input, output, codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 200, gopSeconds, segmentSeconds, timecode: 'input', workers: 1, realtime: false, report: reportFile })
    const report = readReport(reportFile)
    expect(report).toHaveLength(frames)
    expect(report[0]!.timecode).toBe(first)
    expect(report.at(-1)!.timecode).toBe(last)
    const fr = rate === '25' ? frameRate(25) : frameRate(30000, 1001)
    expect(report.map((f) => f.frameIndex)).toEqual(report.map((_, i) => timecodeToFrameIndex(first, fr) + i))
    // What a reader of the output sees: the SEI tc of every access unit.
    const inspected = await inspectFile(output, { segmentSeconds })
    expect(inspected.frames.map((f) => f.record?.timecode).sort()).toEqual(report.map((f) => f.timecode).sort())
  })

  /**
   * 50 pictures carrying frame i's timecode as index want[i] (H.265: a time_code SEI; H.264: a
   * pic_timing SEI), in an MP4 with a timecode track of 01:00:00:00 (which the frames' own
   * timecode must win over), encoded; the report.
   */
  async function encodeWithFrameTimecodes(name: string, want: readonly number[], codec: VideoCodec = VideoCodec.H265): Promise<{ report: ReportFrame[]; output: string; summary: Awaited<ReturnType<typeof encode>> }> {
    const fr = frameRate(25)
    const format = codec === VideoCodec.H265 ? 'hevc' : 'h264'
    const plain = join(dir, `${name}-plain.${format}`)
    const encoder = codec === VideoCodec.H265 ? ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:bframes=0:keyint=25'] : ['-c:v', 'libx264', '-preset', 'ultrafast', '-x264-params', 'pic-struct=1:bframes=0:keyint=25']
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25', '-frames:v', String(want.length), ...encoder, '-f', format, plain])
    const tagged = join(dir, `${name}.${format}`)
    writeFileSync(tagged, withTimecodeSei(codec, new Uint8Array(readFileSync(plain)), want.map((f) => frameIndexToTimecode(f, fr))))
    const input = join(dir, `${name}.mp4`)
    execFileSync(ffmpeg, ['-v', 'error', '-f', format, '-r', '25', '-i', tagged, '-c', 'copy', '-timecode', '01:00:00:00', input])
    const output = join(dir, `${name}-out.ts`)
    const reportFile = join(dir, `${name}.json`)
    const summary = await encode({ input, output, codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 200, gopSeconds: 1, segmentSeconds: 1, timecode: 'input', workers: 1, realtime: false, report: reportFile })
    return { report: readReport(reportFile), output, summary }
  }

  it.each([
    { codec: VideoCodec.H265, sei: 'H.265 time_code SEI' },
    { codec: VideoCodec.H264, sei: 'H.264 pic_timing SEI' },
  ])("indexes every frame by its own SMPTE timecode ($sei, FFmpeg's S12M side data) over the timecode track, and follows a jump", async ({ codec }) => {
    const fr = frameRate(25)
    // 10:59:58:10 on, then a jump to 12:00:00:00 at picture 30 (a new source upstream).
    const want = Array.from({ length: 50 }, (_, i) => (i < 30 ? timecodeToFrameIndex('10:59:58:10', fr) + i : timecodeToFrameIndex('12:00:00:00', fr) + i - 30))
    const { report, output } = await encodeWithFrameTimecodes(`jump-${codec}`, want, codec)
    expect(report.map((f) => f.frameIndex)).toEqual(want)
    expect(report[0]!.timecode).toBe('10:59:58:10')
    expect(report[30]!.timecode).toBe('12:00:00:00')
    // IDRs on the grid of those indices: the first frame, F = 10:59:59:00, and the jump.
    expect(report.flatMap((f, i) => (f.keyFrame ? [i] : []))).toEqual([0, 15, 30])
    const inspected = await inspectFile(output, { segmentSeconds: 1 })
    expect(inspected.frames.map((f) => f.record?.timecode).sort()).toEqual(want.map((f) => formatTimecode(frameIndexToTimecode(f, fr))).sort())
  })

  it('keeps every frame when the timecode goes back (a restart upstream): the SEI follows it, a GOP starts there, the output timestamps count on', async () => {
    const fr = frameRate(25)
    // 10:59:58:10 on, then back to 09:00:00:00 at picture 30 (the source upstream restarted).
    const want = Array.from({ length: 50 }, (_, i) => (i < 30 ? timecodeToFrameIndex('10:59:58:10', fr) + i : timecodeToFrameIndex('09:00:00:00', fr) + i - 30))
    const { report, output, summary } = await encodeWithFrameTimecodes('restart', want)
    const inOrder = [...report].sort((a, b) => a.frameNumber! - b.frameNumber!)
    expect(inOrder.map((f) => f.frameIndex)).toEqual(want)
    expect(inOrder[30]!.timecode).toBe('09:00:00:00')
    expect(inOrder.flatMap((f, i) => (f.keyFrame ? [i] : []))).toEqual([0, 15, 30])
    expect(summary).toMatchObject({ frames: 50, timecodeRestarts: 1, inputErrors: 0 })
    // The output's timestamps: one frame apart all through, the restart included.
    const pts = probeFrames(output).map((f) => f.pts)
    expect(pts).toHaveLength(50)
    expect(pts.slice(1).map((p, i) => p - pts[i]!)).toEqual(Array.from({ length: 49 }, () => 90_000 / 25))
    const inspected = await inspectFile(output, { segmentSeconds: 1 })
    // What a reader sees, in frame order (the file is in decode order: B-frames).
    const byNumber = [...inspected.frames].sort((a, b) => (a.record?.frameNumber ?? -1) - (b.record?.frameNumber ?? -1))
    expect(byNumber.map((f) => f.record?.timecode)).toEqual(want.map((f) => formatTimecode(frameIndexToTimecode(f, fr))))
  })

  it('encodes through midnight: every frame kept, the timecode wraps to 00:00:00:00, IDRs on the time-of-day grid', async () => {
    const fr = frameRate(25)
    const start = timecodeToFrameIndex('23:59:59:15', fr)
    const day = 24 * 3600 * 25
    const { report } = await encodeWithFrameTimecodes('midnight', Array.from({ length: 50 }, (_, i) => (start + i) % day))
    expect(report).toHaveLength(50)
    expect(report.map((f) => f.frameIndex)).toEqual(Array.from({ length: 50 }, (_, i) => start + i))
    expect(report[9]!.timecode).toBe('23:59:59:24')
    expect(report[10]!.timecode).toBe('00:00:00:00')
    expect(report.flatMap((f) => (f.keyFrame ? [f.timecode] : []))).toEqual(['23:59:59:15', '00:00:00:00', '00:00:01:00'])
  })
})
