import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { VideoCodec } from '@mqa/common'
import { encode, TimecodeMode } from '@mqa/encoder'
import { helpText, parseFlags, parseSize, type FlagTable } from '../flags.js'
import { jsonLogger } from '../log.js'
import { statusLine } from '../status.js'
import { runInspect } from './inspect.js'
import { patternGraph } from './source.js'

export const demoFlags = {
  duration: { names: ['--duration'], type: 'number', default: 10, min: 1, max: 3600, description: 'seconds of generated source to encode' },
  size: { names: ['--size'], type: 'string', default: '640x360', description: 'picture size' },
  outDir: { names: ['--out-dir'], type: 'string', default: 'demo-out', description: 'where the encode and its report go' },
  realtime: { names: ['--realtime'], type: 'boolean', description: 'run at the source frame rate, as live' },
} as const satisfies FlagTable

/**
 * The main job, for now: encode a generated source with every frame measured, then read the
 * scores back out of the bitstream (per frame, per GOP, per segment). It grows into the A/B chain.
 */
export async function runDemo(argv: readonly string[]): Promise<number> {
  const f = parseFlags('demo', demoFlags, argv)
  if (f.help) {
    process.stdout.write(`${helpText('demo', 'encode a generated source and show the scores carried in its SEI', demoFlags)}\n`)
    return 0
  }
  const size = parseSize('demo', f.size ?? '640x360')!
  const dir = resolve(f.outDir ?? 'demo-out')
  mkdirSync(dir, { recursive: true })
  const output = join(dir, 'demo.ts')
  const report = join(dir, 'demo-report.json')
  const fps = 25
  const frames = Math.round((f.duration ?? 10) * fps)
  const logger = jsonLogger().child({ component: 'demo' })
  const status = statusLine()
  process.stderr.write(`mqa demo: encoding ${f.duration ?? 10} s of ${size.width}x${size.height} testsrc2 with every frame measured → ${output}\n`)
  const summary = await encode({
    input: `lavfi:${patternGraph('testsrc2', size, String(fps))}`,
    output,
    codec: VideoCodec.H264,
    preset: 'veryfast',
    bitrateKbps: 1500,
    gopSeconds: 2,
    segmentSeconds: 2,
    timecode: TimecodeMode.WALLCLOCK,
    workers: 2,
    realtime: f.realtime ?? false,
    maxFrames: frames,
    report,
    logger,
    onProgress: (p) => status.update(p),
  })
  status.done()
  const m = summary.mean
  process.stdout.write(
    `\nencoded ${summary.frames} frames in ${(summary.wallMs / 1000).toFixed(1)} s (${(summary.mediaSeconds / (summary.wallMs / 1000)).toFixed(2)}× real time); ` +
      `${summary.measured} measured, ${summary.unmeasured} unmeasured\n` +
      `mean PSNR ${m.psnrDb?.toFixed(3) ?? '-'} dB, SSIM ${m.ssim?.toFixed(4) ?? '-'}, MQA-VIDEO ${m.mqa?.toFixed(1) ?? '-'}\n` +
      `per-frame records: ${report}\n\nthe scores as read back from the bitstream's SEI (mqa inspect ${output} --summary):\n\n`,
  )
  return runInspect([output, '--segment-seconds', '2', '--summary'])
}
