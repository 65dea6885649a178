import { parseFrameRate } from '@mqa/common'
import { startPackager } from '@mqa/packager'
import { helpText, parseFlags, UsageError, type FlagTable } from '../flags.js'
import { jsonLogger } from '../log.js'

export const packageFlags = {
  input: { names: ['-i', '--input'], type: 'string', required: true, description: 'MPEG-TS from udp://host:port, a file, or - (stdin)' },
  listen: { names: ['--listen'], type: 'string', required: true, description: 'HOST:PORT to serve HTTP on' },
  name: { names: ['--name'], type: 'string', required: true, description: 'node name, in CMSD `n` and CMSD-Dynamic' },
  segmentSeconds: { names: ['--segment-seconds'], type: 'number', default: 2, min: 0.04, description: 'segment length (the encoder’s --segment-seconds)' },
  window: { names: ['--window'], type: 'number', default: 10, min: 1, max: 100_000, description: 'segments in the live window' },
  outDir: { names: ['--out-dir'], type: 'string', description: 'also keep the window on disk; a restart serves it again' },
  lowLatency: { names: ['--low-latency'], type: 'boolean', description: 'serve the segment being built with chunked transfer' },
  inputRate: { names: ['--input-rate'], type: 'string', choices: ['realtime', 'max'], default: 'realtime', description: 'pace a file input in real time, or read it as fast as possible' },
  fps: { names: ['--fps'], type: 'string', description: 'frame rate (default: from the input timestamps)' },
} as const satisfies FlagTable

export function parseListen(command: string, raw: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d{1,5})$/.exec(raw)
  const port = m ? Number(m[3]) : NaN
  if (!m || port > 65535) throw new UsageError(`mqa ${command}: --listen must be HOST:PORT like 127.0.0.1:8081, got ${JSON.stringify(raw)}`)
  return { host: m[1] ?? m[2]!, port }
}

export async function runPackage(argv: readonly string[]): Promise<number> {
  const f = parseFlags('package', packageFlags, argv)
  if (f.help) {
    process.stdout.write(`${helpText('package', 'segment on the timecode grid and serve HLS/DASH with CMSD-MQA', packageFlags)}\n`)
    return 0
  }
  const listen = parseListen('package', f.listen!)
  if (!/^[\x20-\x7e]{1,64}$/.test(f.name!) || f.name!.includes('"') || f.name!.includes('\\')) throw new UsageError('mqa package: --name must be 1 to 64 printable ASCII characters without quotes or backslashes')
  let rate
  try {
    rate = f.fps ? parseFrameRate(f.fps) : undefined
  } catch {
    throw new UsageError(`mqa package: --fps must be a frame rate like 25 or 30000/1001, got ${JSON.stringify(f.fps)}`)
  }
  const logger = jsonLogger().child({ component: 'packager', node: f.name })
  const handle = await startPackager({
    input: f.input!,
    host: listen.host,
    port: listen.port,
    name: f.name!,
    segmentSeconds: f.segmentSeconds ?? 2,
    window: f.window ?? 10,
    outDir: f.outDir,
    lowLatency: f.lowLatency ?? false,
    inputRate: (f.inputRate ?? 'realtime') as 'realtime' | 'max',
    rate,
    logger,
  })
  logger.info('serving', { url: handle.url, hls: `${handle.url}/hls/index.m3u8`, dash: `${handle.url}/dash/manifest.mpd` })
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await handle.close()
  return 0
}
