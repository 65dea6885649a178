import { Chain, startOrigin } from '@mqa/origin'
import { helpText, parseFlags, UsageError, type FlagTable } from '../flags.js'
import { jsonLogger } from '../log.js'
import { parseListen } from './package.js'

export const originFlags = {
  upstream: { names: ['--upstream'], type: 'string', repeat: true, required: true, description: 'a=<packager URL> and b=<packager URL>' },
  listen: { names: ['--listen'], type: 'string', required: true, description: 'HOST:PORT to serve on' },
  name: { names: ['--name'], type: 'string', default: 'origin-1', description: 'node name in CMSD-Dynamic' },
  prefer: { names: ['--prefer'], type: 'string', choices: ['a', 'b'], default: 'a', description: 'the preferred chain' },
  margin: { names: ['--margin'], type: 'number', default: 5, min: 0, max: 100, description: 'MQA-VIDEO points the other chain must be better by' },
  confirm: { names: ['--confirm'], type: 'number', default: 1, min: 1, max: 100, description: 'segments in a row it must be better for' },
  switchBackAfter: { names: ['--switch-back-after'], type: 'number', default: 5, min: 0, max: 1000, description: 'good segments in a row before going back to the preferred chain' },
  timeoutMs: { names: ['--timeout-ms'], type: 'number', default: 1500, min: 50, max: 60_000, description: 'per upstream request' },
  cacheMb: { names: ['--cache-mb'], type: 'number', default: 256, min: 0, max: 65_536, description: 'MiB of decided segments kept in memory (fetched ahead of the players)' },
} as const satisfies FlagTable

export async function runOrigin(argv: readonly string[]): Promise<number> {
  const f = parseFlags('origin', originFlags, argv)
  if (f.help) {
    process.stdout.write(`${helpText('origin', 'serve, segment by segment, the better of two chains (by CMSD MQA-VIDEO)', originFlags)}\n`)
    return 0
  }
  const upstreams: Partial<Record<Chain, string>> = {}
  for (const u of f.upstream) {
    const m = /^([ab])=(https?:\/\/[^\s]+?)\/?$/.exec(u)
    if (!m) throw new UsageError(`mqa origin: --upstream must be a=<http URL> or b=<http URL>, got ${JSON.stringify(u)}`)
    upstreams[m[1] as Chain] = m[2]!
  }
  if (!upstreams.a || !upstreams.b) throw new UsageError('mqa origin: give both --upstream a=<URL> and --upstream b=<URL>')
  const listen = parseListen('origin', f.listen!)
  const logger = jsonLogger().child({ component: 'origin', node: f.name })
  const handle = await startOrigin({
    upstreams: upstreams as Record<Chain, string>,
    host: listen.host,
    port: listen.port,
    name: f.name ?? 'origin-1',
    preferred: (f.prefer ?? 'a') as Chain,
    margin: f.margin ?? 5,
    confirm: f.confirm ?? 1,
    switchBackAfter: f.switchBackAfter ?? 5,
    timeoutMs: f.timeoutMs ?? 1500,
    cacheBytes: (f.cacheMb ?? 256) * 2 ** 20,
    logger,
  })
  logger.info('serving', { url: handle.url, hls: `${handle.url}/hls/index.m3u8` })
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await handle.close()
  return 0
}
