/** The logging interface every package writes to; the CLI provides the sink (JSON lines on stderr). */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
  child(bindings: Record<string, unknown>): Logger
}

/** A logger that drops everything (for library use without a sink). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger
  },
}

/** A line a `recordingLogger` kept. */
export interface RecordedLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error'
  readonly msg: string
  readonly fields: Record<string, unknown>
}

/**
 * A logger that keeps every line it is given, in order, as data: for tests of what a stage logs,
 * and for a library user who wants the lines rather than a sink. Its children are itself (their
 * bindings are not recorded).
 */
export function recordingLogger(): Logger & { readonly lines: RecordedLine[] } {
  const lines: RecordedLine[] = []
  const at = (level: RecordedLine['level']) => (msg: string, fields: Record<string, unknown> = {}) => void lines.push({ level, msg, fields })
  const logger = { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (): Logger => logger }
  return logger
}

/**
 * Counts errors by code and says when to log: the first of a code in each window, with how many
 * were swallowed since. A stage calls `record` per error and logs only when it returns a report.
 * The clock is injected so tests are repeatable.
 */
export class ErrorWindow {
  readonly #windowMs: number
  readonly #now: () => number
  readonly #state = new Map<string, { total: number; sinceLog: number; lastLogMs: number }>()

  constructor(windowMs: number, now: () => number = Date.now) {
    this.#windowMs = windowMs
    this.#now = now
  }

  /** Returns `{ total, suppressed }` when this error should be logged now, else undefined. */
  record(code: string): { total: number; suppressed: number } | undefined {
    const t = this.#now()
    let s = this.#state.get(code)
    if (!s) {
      s = { total: 0, sinceLog: 0, lastLogMs: -Infinity }
      this.#state.set(code, s)
    }
    s.total++
    s.sinceLog++
    if (t - s.lastLogMs < this.#windowMs) return undefined
    const suppressed = s.sinceLog - 1
    s.sinceLog = 0
    s.lastLogMs = t
    return { total: s.total, suppressed }
  }

  /** Totals by code, for status and metrics. */
  totals(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [code, s] of this.#state) out[code] = s.total
    return out
  }
}
