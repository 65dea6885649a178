import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Piscina } from 'piscina'
import { type MetricsResult, type MetricsTask } from './metrics-task.js'

/**
 * The worker pool that measures frames off the main thread. Bounded: `tryRun` refuses a task when
 * `maxQueue` tasks are already waiting, so the caller can mark that frame unmeasured (live) or
 * wait (`whenReady`, file input) — never an unbounded queue.
 */
export class MetricsPool {
  readonly #pool: Piscina
  readonly #maxQueue: number
  #inFlight = 0
  #waiters: (() => void)[] = []

  constructor(options: { workers: number; maxQueue?: number }) {
    this.#maxQueue = options.maxQueue ?? Math.max(8, options.workers * 4)
    this.#pool = new Piscina({
      filename: workerFile(),
      minThreads: options.workers,
      maxThreads: options.workers,
      idleTimeout: 60_000,
    })
  }

  get inFlight(): number {
    return this.#inFlight
  }

  get full(): boolean {
    return this.#inFlight >= this.#maxQueue
  }

  /** Resolves when a task can be added without passing the bound. */
  async whenReady(): Promise<void> {
    while (this.full) await new Promise<void>((resolve) => this.#waiters.push(resolve))
  }

  /** Runs the task, or returns undefined (without running it) when the pool is full. */
  tryRun(task: MetricsTask): Promise<MetricsResult> | undefined {
    if (this.full) return undefined
    this.#inFlight++
    const transfer = [...task.source, ...task.recon].map((p) => p.buffer)
    return (this.#pool.run(task, { transferList: transfer }) as Promise<MetricsResult>).finally(() => {
      this.#inFlight--
      this.#waiters.shift()?.()
    })
  }

  async close(): Promise<void> {
    await this.#pool.destroy()
  }
}

/** The compiled worker: next to this module in dist, or in dist when running from src (tests). */
function workerFile(): string {
  const here = new URL('./metrics-worker.js', import.meta.url)
  if (existsSync(here)) return fileURLToPath(here)
  const built = new URL('../../dist/io/metrics-worker.js', import.meta.url)
  if (existsSync(built)) return fileURLToPath(built)
  throw new Error('the metrics worker is not built: run `pnpm -s build` first (packages/encoder/dist/io/metrics-worker.js)')
}
