import { parseFrameRate } from '@mqa/common'
import { inspectFile } from '@mqa/encoder'
import { inspectPlaylistUrl } from '@mqa/packager'
import { helpText, parseFlags, type FlagTable } from '../flags.js'

export const inspectFlags = {
  target: { names: ['file|url'], positional: true, type: 'string', required: true, description: 'a .ts/.mp4 file (its SEI), or an HLS playlist URL (the CMSD of every segment)' },
  json: { names: ['--json'], type: 'boolean', description: 'print JSON instead of tables' },
  summary: { names: ['--summary'], type: 'boolean', description: 'only the GOP and segment tables, not every frame' },
  segmentSeconds: { names: ['--segment-seconds'], type: 'number', default: 2, min: 0.04, description: 'segment length for the per-segment aggregates' },
  fps: { names: ['--fps'], type: 'string', description: 'frame rate when the file does not say' },
} as const satisfies FlagTable

const num = (v: number | undefined, digits: number) => (v === undefined ? '-' : v.toFixed(digits))

export async function runInspect(argv: readonly string[]): Promise<number> {
  const f = parseFlags('inspect', inspectFlags, argv)
  if (f.help) {
    process.stdout.write(`${helpText('inspect', 'per-frame SEI records and per-GOP/segment aggregates of a file', inspectFlags)}\n`)
    return 0
  }
  if (/^https?:\/\//.test(f.target!)) return inspectUrl(f.target!, f.json ?? false)
  const result = await inspectFile(f.target!, { segmentSeconds: f.segmentSeconds ?? 2, fps: f.fps ? parseFrameRate(f.fps) : undefined })
  if (f.json) {
    process.stdout.write(`${JSON.stringify({ frames: result.frames, gopSummaries: result.gopSummaries, segments: result.segments, withoutRecord: result.withoutRecord }, replacer)}\n`)
    return 0
  }
  const out: string[] = []
  if (!f.summary) out.push('  au  key  fn      tc            psnr    ssim     mqa  err drp flags')
  for (const fr of f.summary ? [] : result.frames) {
    const r = fr.record
    const flags = [r?.frozen ? 'frz' : '', r?.black ? 'blk' : '', r?.unmeasured ? 'um' : '', fr.errors.length ? 'SEI-ERROR' : '', r ? '' : 'no-record'].filter(Boolean).join(',')
    out.push(
      `${String(fr.index).padStart(4)}  ${fr.keyFrame ? 'K' : ' '}  ${String(r?.frameNumber ?? '-').padStart(6)}  ${(r?.timecode ?? '-').padEnd(12)}  ${num(r?.psnrDb, 3).padStart(7)}  ${num(r?.ssim, 4).padStart(6)}  ${String(r?.mqa ?? '-').padStart(4)}  ${String(r?.errors ?? '-').padStart(3)} ${String(r?.dropped ?? '-').padStart(3)} ${flags}`,
    )
  }
  out.push('', 'GOP summaries (s=g):', '  frames  psnr     ssim    mqa  err drp')
  for (const g of result.gopSummaries) out.push(`  ${String(g.frames ?? '-').padStart(6)}  ${num(g.psnrDb, 3).padStart(7)}  ${num(g.ssim, 4)}  ${String(g.mqa ?? '-').padStart(4)}  ${String(g.errors).padStart(3)} ${String(g.dropped).padStart(3)}`)
  out.push('', `segments of ${f.segmentSeconds ?? 2} s (from each frame's tc):`, '  segment   frames  measured  mqa    min  psnr     ssim    err')
  for (const s of result.segments) {
    out.push(`  ${String(s.segmentNumber).padStart(7)}  ${String(s.frames).padStart(7)}  ${String(s.measured).padStart(8)}  ${num(s.mqa, 1).padStart(5)}  ${String(s.mqaMin ?? '-').padStart(4)}  ${num(s.psnrDb, 3).padStart(7)}  ${num(s.ssim, 4)}  ${String(s.errors + s.dropped).padStart(4)}`)
  }
  out.push('', `${result.frames.length} access units, ${result.withoutRecord} without an MQA frame record`)
  process.stdout.write(`${out.join('\n')}\n`)
  return 0
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Map) return Object.fromEntries(value)
  return value
}

async function inspectUrl(url: string, json: boolean): Promise<number> {
  const r = await inspectPlaylistUrl(url)
  if (json) {
    process.stdout.write(`${JSON.stringify(r, replacer)}\n`)
    return 0
  }
  const out = ['  segment                  status  sn        mqa  min  psnr     ssim     err  node      chain']
  for (const s of r.segments) {
    const q = s.cmsdStatic?.quality
    const hops = s.cmsdDynamic?.map((d) => d.node + (d.mqaSource ? `(${d.mqaSource})` : '')).join(' > ') ?? '-'
    out.push(
      `  ${s.uri.padEnd(24)} ${String(s.status).padStart(6)}  ${String(q?.segmentNumber ?? '-').padEnd(8)} ${String(q?.video?.score ?? '-').padStart(4)}  ${String(q?.video?.min ?? '-').padStart(3)}  ${num(q?.psnrDb, 3).padStart(7)}  ${num(q?.ssimPercent, 3).padStart(7)}  ${String(q?.errors ?? '-').padStart(3)}  ${(s.cmsdStatic?.node ?? '-').padEnd(8)}  ${hops}${s.error ? `  ERROR ${s.error}` : ''}`,
    )
  }
  process.stdout.write(`${out.join('\n')}\n`)
  return 0
}
