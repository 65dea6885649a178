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
 * in: a slab of `maxQueue` picture-pair slots shared with its workers. The workers start with the
 * pool (one at once, another, up to `workers`, when each has TASKS_PER_WORKER frames), each given
 * the slab as a growable SharedArrayBuffer, which the first frame sizes: a live input's first
 * frames then find a worker ready.
 */
export class MetricsPool {
  #maxQueue: number
  readonly #pool: Piscina
  readonly #buffer: SharedArrayBuffer
  #slab: PictureSlab | undefined
  #inFlight = 0
  #waiters: (() => void)[] = []

  constructor(options: { workers: number; maxQueue?: number }) {
    this.#maxQueue = options.maxQueue ?? Math.max(8, options.workers * TASKS_PER_WORKER)
    // Address space only, until the first frame grows it: 1 GiB holds 8 slots of 4K picture pairs four times over.
    this.#buffer = new SharedArrayBuffer(0, { maxByteLength: MAX_SLAB_BYTES })
    const workerData: MetricsWorkerData = { slab: this.#buffer }
    this.#pool = new Piscina({ filename: workerFile(), minThreads: 1, maxThreads: options.workers, concurrentTasksPerWorker: TASKS_PER_WORKER, idleTimeout: 60_000, workerData })
  }

  get inFlight(): number {
    return this.#inFlight
  }

  /** Worker threads started so far. */
  get workers(): number {
    return this.#pool.threads.length
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
      const bytes = Math.max(pictureBytes(source), pictureBytes(recon)) * 1.25
      const slots = slabSlots(this.#maxQueue, bytes, MAX_SLAB_BYTES)
      if (slots < 1) return 'geometry'
      // Fewer slots than tasks allowed (huge pictures, many workers): the bound follows the slots.
      this.#maxQueue = slots
      this.#slab = new PictureSlab(slots, bytes, this.#buffer)
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
    return (this.#pool.run(task) as Promise<MetricsResult>).finally(() => {
      slab.release(slot)
      this.#inFlight--
      this.#waiters.shift()?.()
    })
  }

  async close(): Promise<void> {
    await this.#pool.destroy()
  }
}

const MAX_SLAB_BYTES = 1 << 30

/**
 * Frames a worker is handed before piscina starts another (it measures them one after the other).
 * The own-output decoder gives frames in bursts (a B-frame group at a time), and with one task per
 * worker each burst started the second worker, whose start-up (node, modules, the wasm compile)
 * cost more than the frames it then measured: at 720p a frame takes a worker about 1 ms, so four
 * waiting add at most 3 ms. `perf` shares of a 720p encode (BENCHMARKS.md): 0.297 → 0.285.
 */
const TASKS_PER_WORKER = 4

/** Slots of picture pairs of `pictureBytes` each that fit `maxBytes`, at most `wanted`. */
export function slabSlots(wanted: number, pictureBytes: number, maxBytes: number): number {
  const pair = 2 * (Math.ceil(pictureBytes / 64) * 64)
  return Math.min(wanted, Math.floor(maxBytes / pair))
}

/** The compiled worker: next to this module in dist, or in dist when running from src (tests). */
function workerFile(): string {
  const here = new URL('./metrics-worker.js', import.meta.url)
  if (existsSync(here)) return fileURLToPath(here)
  const built = new URL('../../dist/io/metrics-worker.js', import.meta.url)
  if (existsSync(built)) return fileURLToPath(built)
  throw new Error('the metrics worker is not built: run `pnpm -s build` first (packages/encoder/dist/io/metrics-worker.js)')
}
