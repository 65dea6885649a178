import { describe, expect, it } from 'vitest'
import { ErrorWindow, recordingLogger } from '../src/index.js'

describe('ErrorWindow', () => {
  it('reports the first error of a code in each window, with the running total and how many it swallowed', () => {
    let now = 0
    const w = new ErrorWindow(10_000, () => now)
    expect(w.record('ERR_A')).toEqual({ total: 1, suppressed: 0 })
    now = 4000
    expect(w.record('ERR_A')).toBeUndefined()
    expect(w.record('ERR_A')).toBeUndefined()
    // Another code has its own window.
    expect(w.record('ERR_B')).toEqual({ total: 1, suppressed: 0 })
    now = 9999
    expect(w.record('ERR_A')).toBeUndefined()
    now = 10_000
    expect(w.record('ERR_A')).toEqual({ total: 5, suppressed: 3 })
    now = 25_000
    expect(w.record('ERR_A')).toEqual({ total: 6, suppressed: 0 })
    expect(w.totals()).toEqual({ ERR_A: 6, ERR_B: 1 })
  })
})

describe('recordingLogger', () => {
  it('keeps every line in order, with its level and fields; a child writes to the same lines', () => {
    const log = recordingLogger()
    log.info('started', { port: 8080 })
    log.child({ component: 'x' }).warn('late')
    log.error('failed', { code: 'ERR_X' })
    log.debug('detail')
    expect(log.lines).toEqual([
      { level: 'info', msg: 'started', fields: { port: 8080 } },
      { level: 'warn', msg: 'late', fields: {} },
      { level: 'error', msg: 'failed', fields: { code: 'ERR_X' } },
      { level: 'debug', msg: 'detail', fields: {} },
    ])
  })
})
