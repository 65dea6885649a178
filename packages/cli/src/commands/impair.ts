import { startImpair } from '@mqa/encoder'
import { helpText, parseFlags, type FlagTable } from '../flags.js'
import { jsonLogger } from '../log.js'

export const impairFlags = {
  from: { names: ['--from'], type: 'string', required: true, description: 'udp://host:port to listen on' },
  to: { names: ['--to'], type: 'string', required: true, description: 'udp://host:port to relay to' },
  loss: { names: ['--loss'], type: 'number', default: 0.02, min: 0, max: 1, description: 'fraction of datagrams dropped while impaired' },
  after: { names: ['--after'], type: 'number', default: 0, min: 0, description: 'seconds before the impairment starts' },
  for: { names: ['--for'], type: 'number', min: 0, description: 'seconds the impairment lasts (default: for ever)' },
  seed: { names: ['--seed'], type: 'number', default: 1, description: 'seed of the drop decisions (repeatable runs)' },
} as const satisfies FlagTable

export async function runImpair(argv: readonly string[]): Promise<number> {
  const f = parseFlags('impair', impairFlags, argv)
  if (f.help) {
    process.stdout.write(`${helpText('impair', 'a UDP relay that drops datagrams on a schedule (rain fade)', impairFlags)}\n`)
    return 0
  }
  const logger = jsonLogger().child({ component: 'impair' })
  const controller = new AbortController()
  const stop = () => controller.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    const relay = await startImpair({
      from: f.from!,
      to: f.to!,
      loss: f.loss ?? 0.02,
      afterMs: (f.after ?? 0) * 1000,
      forMs: f.for === undefined ? undefined : f.for * 1000,
      seed: f.seed ?? 1,
      logger,
      signal: controller.signal,
    })
    logger.info('relay running', { from: f.from, to: f.to, loss: f.loss ?? 0.02 })
    await relay.closed
    logger.info('relay stopped', { ...relay.stats() })
    return 0
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}
