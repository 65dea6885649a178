import { type Logger } from '@mqa/common'

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const
export type LogLevel = keyof typeof LEVELS

/** Structured logs: one JSON object per line on stderr (stdout may carry media or --json output). */
export function jsonLogger(level: LogLevel = (process.env.MQA_LOG_LEVEL as LogLevel | undefined) ?? 'info', bindings: Record<string, unknown> = {}): Logger {
  const min = LEVELS[level] ?? LEVELS.info
  const write = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[lvl] < min) return
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, ...bindings, msg, ...fields })}\n`)
  }
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (b) => jsonLogger(level, { ...bindings, ...b }),
  }
}
