import { parseFrameRate, VideoCodec } from '@mqa/common'
import { AudioMode, encode, ENCODER_PRESETS, TimecodeMode } from '@mqa/encoder'
import { helpText, parseFlags, parseSize, UsageError, type FlagTable } from '../flags.js'
import { jsonLogger } from '../log.js'
import { statusLine } from '../status.js'

export const encodeFlags = {
  input: { names: ['-i', '--input'], type: 'string', required: true, description: 'a file, udp://host:port, srt://..., - (stdin) or lavfi:<graph>' },
  output: { names: ['-o', '--output'], type: 'string', required: true, description: 'a .ts/.mp4 file, udp://host:port or - (stdout, MPEG-TS)' },
  codec: { names: ['--codec'], type: 'string', choices: ['h264', 'h265'], default: 'h264', description: 'video codec' },
  preset: { names: ['--preset'], type: 'string', choices: ENCODER_PRESETS, default: 'veryfast', description: 'x264/x265 preset' },
  bitrate: { names: ['--bitrate'], type: 'string', default: '3M', description: 'video bitrate, e.g. 3000k or 3M' },
  size: { names: ['--size'], type: 'string', description: 'output WxH, even, at least 16x16 (default: the first frame\'s size, an odd side cropped by one, a side under 16 scaled up; a later change of the input\'s size is scaled to it)' },
  fps: { names: ['--fps'], type: 'string', description: 'the input\'s frame rate, when it does not say or says wrongly, e.g. 25 or 30000/1001 (it relabels, it does not convert)' },
  gopSeconds: { names: ['--gop-seconds'], type: 'number', default: 2, min: 0.04, description: 'GOP length; IDRs on this grid' },
  segmentSeconds: { names: ['--segment-seconds'], type: 'number', default: 2, min: 0.04, description: 'segment length, a whole number of GOPs' },
  timecode: { names: ['--timecode'], type: 'string', choices: ['input', 'pts', 'wallclock'], default: 'input', description: 'where frame indices come from: input (our SEI tc, else the frames\' SMPTE timecode, else a SMPTE start tag, else PTS), pts, wallclock' },
  workers: { names: ['--workers'], type: 'number', default: 2, min: 1, max: 64, description: 'metrics worker threads, at most (one starts; more while frames wait for it)' },
  report: { names: ['--report'], type: 'string', description: 'write per-frame records to this JSON file' },
  realtime: { names: ['--realtime'], type: 'boolean', description: 'pace file and lavfi inputs at their frame rate' },
  frames: { names: ['--frames'], type: 'number', min: 1, description: 'stop after this many frames' },
  bframes: { names: ['--bframes'], type: 'number', default: 3, min: 0, max: 16, description: 'B-frames between references' },
  audio: { names: ['--audio'], type: 'string', choices: ['auto', 'copy', 'aac', 'none'], default: 'auto', description: 'input audio: copy AAC/MP2/MP3/AC-3 and encode the rest to AAC (auto), copy or fail, always AAC, or leave it out' },
  audioStream: { names: ['--audio-stream'], type: 'string', description: "which input audio stream is carried: its number among the audio streams (0, the first, by default) or its language (e.g. fra)" },
  audioBitrate: { names: ['--audio-bitrate'], type: 'string', description: 'AAC bitrate when audio is encoded (default 128k for mono and stereo, 64k a channel above: 384k for 5.1)' },
  keepSei: { names: ['--keep-sei'], type: 'boolean', description: "keep user-data SEI that is not ours (input's, encoder info)" },
} as const satisfies FlagTable

/** `--audio-stream`: a number among the input's audio streams, or a 3-letter language. */
function parseAudioStream(raw: string | undefined): number | string | undefined {
  if (raw === undefined) return undefined
  if (/^\d+$/.test(raw)) return Number(raw)
  if (/^[a-z]{3}$/i.test(raw)) return raw.toLowerCase()
  throw new UsageError(`mqa encode: --audio-stream must be a number (0, the first audio stream) or a 3-letter language like fra, got ${JSON.stringify(raw)}`)
}

export function parseBitrateKbps(raw: string, flag = '--bitrate'): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(raw)
  if (!m) throw new UsageError(`mqa encode: ${flag} must be like 3000k or 3M, got ${JSON.stringify(raw)}`)
  const n = Number(m[1]) * (m[2]?.toLowerCase() === 'm' ? 1000 : m[2]?.toLowerCase() === 'k' ? 1 : 0.001)
  if (n < 10 || n > 1_000_000) throw new UsageError(`mqa encode: ${flag} ${raw} is out of range (10k to 1000M)`)
  return Math.round(n)
}

export async function runEncode(argv: readonly string[]): Promise<number> {
  const f = parseFlags('encode', encodeFlags, argv)
  if (f.help) {
    process.stdout.write(`${helpText('encode', 'encode with every frame measured and its scores written as SEI', encodeFlags)}\n`)
    return 0
  }
  let fps
  try {
    fps = f.fps === undefined ? undefined : parseFrameRate(f.fps)
  } catch {
    throw new UsageError(`mqa encode: --fps must be a frame rate like 25 or 30000/1001, got ${JSON.stringify(f.fps)}`)
  }
  const gopSeconds = f.gopSeconds ?? 2
  const segmentSeconds = f.segmentSeconds ?? 2
  const gops = segmentSeconds / gopSeconds
  if (Math.abs(gops - Math.round(gops)) > 1e-9 || gops < 1) {
    throw new UsageError(`mqa encode: --segment-seconds ${segmentSeconds} is not a whole number of GOPs of --gop-seconds ${gopSeconds}`)
  }
  const logger = jsonLogger().child({ component: 'encoder' })
  const status = statusLine()
  const controller = new AbortController()
  const onSignal = () => controller.abort()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const summary = await encode({
      input: f.input!,
      output: f.output!,
      codec: (f.codec ?? 'h264') as VideoCodec,
      preset: f.preset ?? 'veryfast',
      bitrateKbps: parseBitrateKbps(f.bitrate ?? '3M'),
      size: parseSize('encode', f.size),
      fps,
      gopSeconds,
      segmentSeconds,
      timecode: (f.timecode ?? TimecodeMode.INPUT) as TimecodeMode,
      workers: f.workers ?? 2,
      realtime: f.realtime ?? false,
      maxFrames: f.frames,
      report: f.report,
      bframes: f.bframes ?? 3,
      keepForeignSei: f.keepSei ?? false,
      audio: (f.audio ?? AudioMode.AUTO) as AudioMode,
      audioBitrateKbps: f.audioBitrate === undefined ? undefined : parseBitrateKbps(f.audioBitrate, '--audio-bitrate'),
      audioStream: parseAudioStream(f.audioStream),
      logger,
      signal: controller.signal,
      onProgress: (p) => status.update(p),
    })
    status.done()
    logger.info('encode done', { ...summary })
    return 0
  } finally {
    status.done()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
