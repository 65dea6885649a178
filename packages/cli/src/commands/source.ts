import { parseFrameRate, VideoCodec } from '@mqa/common'
import { encode, TimecodeMode } from '@mqa/encoder'
import { helpText, parseFlags, parseSize, UsageError, type FlagTable } from '../flags.js'
import { jsonLogger } from '../log.js'
import { parseBitrateKbps } from './encode.js'

export const sourceFlags = {
  output: { names: ['-o', '--output'], type: 'string', repeat: true, required: true, description: 'udp://host:port (or -); give several for a fan-out' },
  pattern: { names: ['--pattern'], type: 'string', choices: ['testsrc2', 'smptehdbars', 'mandelbrot', 'life'], default: 'testsrc2', description: 'generated picture' },
  input: { names: ['-i', '--input'], type: 'string', description: 'a file to send instead of a pattern (paced in real time)' },
  size: { names: ['--size'], type: 'string', default: '1280x720', description: 'picture size WxH' },
  fps: { names: ['--fps'], type: 'string', default: '25', description: 'frame rate' },
  bitrate: { names: ['--bitrate'], type: 'string', default: '8M', description: 'contribution bitrate' },
  gopSeconds: { names: ['--gop-seconds'], type: 'number', default: 1, min: 0.04, description: 'GOP length of the contribution feed' },
  duration: { names: ['--duration'], type: 'number', min: 0.04, description: 'stop after S seconds (default: run until stopped)' },
} as const satisfies FlagTable

/** The lavfi graph of a generated contribution picture. */
export function patternGraph(pattern: string, size: { width: number; height: number }, fps: string): string {
  const base = `${pattern}=size=${size.width}x${size.height}:rate=${fps}`
  // Patterns that barely move get a little noise so frames are never repeats (which would read as frozen).
  return pattern === 'smptehdbars' ? `${base},noise=alls=6:allf=t` : base
}

export async function runSource(argv: readonly string[]): Promise<number> {
  const f = parseFlags('source', sourceFlags, argv)
  if (f.help) {
    process.stdout.write(`${helpText('source', 'a real-time contribution feed stamping timecode SEI on every frame', sourceFlags)}\n`)
    return 0
  }
  const size = parseSize('source', f.size ?? '1280x720')!
  let fps
  try {
    fps = parseFrameRate(f.fps ?? '25')
  } catch {
    throw new UsageError(`mqa source: --fps must be a frame rate like 25 or 30000/1001, got ${JSON.stringify(f.fps)}`)
  }
  const logger = jsonLogger().child({ component: 'source' })
  const controller = new AbortController()
  const stop = () => controller.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  const timer = f.duration ? setTimeout(stop, f.duration * 1000) : undefined
  try {
    const input = f.input ?? `lavfi:${patternGraph(f.pattern ?? 'testsrc2', size, f.fps ?? '25')}`
    logger.info('source starting', { input, outputs: f.output })
    const summary = await encode({
      input,
      output: f.output,
      measure: false,
      codec: VideoCodec.H264,
      preset: 'ultrafast',
      bitrateKbps: parseBitrateKbps(f.bitrate ?? '8M'),
      size: f.input ? size : undefined,
      fps: f.input ? undefined : fps,
      gopSeconds: f.gopSeconds ?? 1,
      segmentSeconds: f.gopSeconds ?? 1,
      timecode: TimecodeMode.WALLCLOCK,
      workers: 1,
      realtime: true,
      bframes: 0,
      logger,
      signal: controller.signal,
    })
    logger.info('source stopped', { frames: summary.frames, seconds: summary.mediaSeconds })
    return 0
  } finally {
    if (timer) clearTimeout(timer)
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}
