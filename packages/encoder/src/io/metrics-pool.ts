import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Piscina } from 'piscina'
import { type FramePlanes, type MetricsResult, type MetricsTask, type MetricsWorkerData, PictureSlab, pictureBytes } from './metrics-task.js'

/** Why a frame was not handed to the pool. */
export type NotRun = 'full' | 'geometry'

/**
 * The worker pool that measures frames off the main thread. Bounded: `tryRun` refuses a task when
 * `maxQueue` tasks are already in flight, so the caller can mark that frame unmeasured (live) or
 * wait (`whenReady`, file input) — never an unbounded queue. The pool owns the memory it measures
 * in: a slab of `maxQueue` picture-pair slots shared with its workers, made (and the workers
 * started) on the first frame, when the picture size is known.
 */
export class MetricsPool {
  readonly #workers: number
  readonly #maxQueue: number
  #pool: Piscina | undefined
  #slab: PictureSlab | undefined
  #inFlight = 0
  #waiters: (() => void)[] = []

  constructor(options: { workers: number; maxQueue?: number }) {
    this.#workers = options.workers
    this.#maxQueue = options.maxQueue ?? Math.max(8, options.workers * 4)
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

  /**
   * Copies both pictures into a slot and measures them; or says why not, without running:
   * `full` (the bound), `geometry` (larger than the first frame the slab was sized for).
   */
  tryRun(key: number, source: FramePlanes, recon: FramePlanes): Promise<MetricsResult> | NotRun {
    if (this.full) return 'full'
    if (!this.#slab) {
      // Headroom for a later frame with wider padding than the first.
      this.#slab = new PictureSlab(this.#maxQueue, Math.max(pictureBytes(source), pictureBytes(recon)) * 1.25)
      const workerData: MetricsWorkerData = { slab: this.#slab.buffer }
      this.#pool = new Piscina({ filename: workerFile(), minThreads: 1, maxThreads: this.#workers, idleTimeout: 60_000, workerData })
    }
    const slab = this.#slab
    const slot = slab.acquire()
    if (slot === undefined) return 'full'
    const s = slab.copyIn(slot, 0, source)
    const r = s && slab.copyIn(slot, 1, recon)
    if (!s || !r) {
      slab.release(slot)
      return 'geometry'
    }
    this.#inFlight++
    const task: MetricsTask = { key, source: s, recon: r }
    return (this.#pool!.run(task) as Promise<MetricsResult>).finally(() => {
      slab.release(slot)
      this.#inFlight--
      this.#waiters.shift()?.()
    })
  }

  async close(): Promise<void> {
    await this.#pool?.destroy()
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
