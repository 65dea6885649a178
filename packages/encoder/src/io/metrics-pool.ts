import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Piscina } from 'piscina'
import { type MetricsResult, type MetricsTask, type MetricsWorkerData, type PictureSource, type PlaneRef, PictureSlab, slotBytes } from './metrics-task.js'

/** Why a frame was not handed to the pool. */
export type NotRun = 'full' | 'geometry'

/** A source picture copied into the pool's slab, waiting for its reconstructed frame. */
export interface HeldSource {
  readonly slot: number
  readonly planes: readonly PlaneRef[]
}

/**
 * The worker pool that measures frames off the main thread. Bounded: `tryRun` refuses a task when
 * `maxQueue` tasks are already in flight, so the caller can mark that frame unmeasured (live) or
 * wait (`whenReady`, file input) — never an unbounded queue. The pool owns the memory it measures
 * in: a slab of picture slots shared with its workers. A frame's source picture goes into a
 * slot when it is decoded (`hold`: the decoder's frame can then be released at once, not held
 * until its reconstruction comes out of the encoder and the second decoder), its reconstruction
 * into another when that comes (`tryRun`). So the slots cover the encoder's delay as well as the
 * tasks in flight: the slab starts with INITIAL_SLOTS and grows by GROW_SLOTS when a frame finds
 * none free, up to MAX_SLAB_BYTES (then `hold` says `full`). The workers start with the pool (one
 * at once, another, up to `workers`, when each has TASKS_PER_WORKER frames), each given the slab
 * as a growable SharedArrayBuffer, which the first frame sizes: a live input's first frames then
 * find a worker ready.
 *
 * A worker that dies holding no task (one that cannot load: a broken install; or a crash) is
 * piscina's 'error' event. Unheard, that event killed the process with a stack trace; and once a
 * worker has failed while starting, piscina 5 starts no more, so the tasks queued behind it never
 * settled and a file encode waited forever.
 * So the pool settles them itself: every task in flight is rejected with the worker's error,
 * tasks are refused (rejected at once) while the workers are down, and the workers are started
 * again after RESTART_MS (doubling up to RESTART_MAX_MS while they keep failing; back to the
 * start once a frame is measured). `onWorkerError` is told each time.
 */
export class MetricsPool {
  readonly #maxQueue: number
  readonly #options: { readonly workers: number; readonly workerFile: string; readonly onWorkerError: ((err: Error) => void) | undefined }
  #pool: Piscina
  readonly #buffer: SharedArrayBuffer
  #slab: PictureSlab | undefined
  #inFlight = 0
  #waiters: (() => void)[] = []
  /** How to reject each task (and warm-up) in flight, should its worker die. */
  readonly #running = new Set<(err: Error) => void>()
  /** Set while the workers are down (between a worker's death and their restart). */
  #down: Error | undefined
  #restartMs = RESTART_MS
  #restartTimer: NodeJS.Timeout | undefined
  #closed = false

  constructor(options: { workers: number; maxQueue?: number; onWorkerError?: (err: Error) => void; workerFile?: string }) {
    this.#maxQueue = options.maxQueue ?? Math.max(8, options.workers * TASKS_PER_WORKER)
    this.#options = { workers: options.workers, workerFile: options.workerFile ?? workerFile(), onWorkerError: options.onWorkerError }
    // Address space only, until the first frame grows it: 1 GiB holds about 70 4K pictures.
    this.#buffer = new SharedArrayBuffer(0, { maxByteLength: MAX_SLAB_BYTES })
    this.#pool = this.#startWorkers()
  }

  #startWorkers(): Piscina {
    const workerData: MetricsWorkerData = { slab: this.#buffer }
    const pool = new Piscina({ filename: this.#options.workerFile, minThreads: 1, maxThreads: this.#options.workers, concurrentTasksPerWorker: TASKS_PER_WORKER, idleTimeout: 60_000, workerData })
    pool.on('error', (err: unknown) => this.#workerDied(pool, err instanceof Error ? err : new Error(String(err))))
    return pool
  }

  #workerDied(pool: Piscina, err: Error): void {
    if (pool !== this.#pool || this.#closed) return
    this.#down = err
    for (const reject of this.#running) reject(err)
    this.#running.clear()
    pool.destroy().catch(() => undefined)
    this.#options.onWorkerError?.(err)
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined
      if (this.#closed) return
      this.#pool = this.#startWorkers()
      this.#down = undefined
    }, this.#restartMs)
    this.#restartTimer.unref()
    this.#restartMs = Math.min(this.#restartMs * 2, RESTART_MAX_MS)
  }

  /** A piscina task, settled by the pool itself if its worker dies; refused at once while the workers are down. */
  #run<T>(task: unknown, options?: { name: string }): Promise<T> {
    if (this.#down) return Promise.reject(this.#down)
    return new Promise<T>((resolve, reject) => {
      this.#running.add(reject)
      ;(this.#pool.run(task, options) as Promise<T>).then(
        (value) => {
          this.#restartMs = RESTART_MS
          resolve(value)
        },
        reject,
      ).finally(() => this.#running.delete(reject))
    })
  }

  /** The error the workers died of, while they are down (tasks are refused until they restart). */
  get down(): Error | undefined {
    return this.#down
  }

  /**
   * Resolves once a worker has started and compiled its kernels (a task that measures nothing):
   * what the first frame would otherwise wait for, under load for seconds (the start of a node
   * thread, the modules, the wasm compile). Says which kernels the worker uses.
   */
  async warm(): Promise<string> {
    return this.#run<string>(null, { name: 'warm' })
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

  /** Slots holding a picture: sources waiting for their reconstruction, and tasks in flight. */
  get held(): number {
    return this.#slab?.inUse ?? 0
  }

  /** Slots the slab has now (it grows while frames wait in the encoder). */
  get slots(): number {
    return this.#slab?.slots ?? 0
  }

  /**
   * Copies a frame's source picture into a free slot (growing the slab when none is free), to
   * wait there for its reconstruction; or says why not: `geometry` (larger than the first frame
   * the slab was sized for), `full` (the slab cannot grow further). Pass what it returns to
   * `tryRun`, or to `drop` if the reconstruction never comes.
   */
  hold(source: PictureSource): HeldSource | NotRun {
    if (!this.#slab) {
      // Room for the recon decoder's wider rows, and for a later frame with wider padding still.
      const bytes = slotBytes(source)
      const slots = slabSlots(INITIAL_SLOTS, bytes, MAX_SLAB_BYTES)
      if (slots < 1) return 'geometry'
      this.#slab = new PictureSlab(slots, bytes, this.#buffer)
    }
    const slab = this.#slab
    const slot = this.#acquire(slab)
    if (slot === undefined) return 'full'
    const planes = slab.copyIn(slot, source)
    if (!planes) {
      slab.release(slot)
      return 'geometry'
    }
    return { slot, planes }
  }

  /** Plane `i` of a held source picture, in the slab (valid until the slot is given back). */
  view(held: HeldSource, i: number): Uint8Array {
    const p = held.planes[i]!
    return this.#slab!.view(p.offset, p.linesize * p.height)
  }

  /** Gives back a held source's slot without measuring it. */
  drop(held: HeldSource): void {
    this.#slab?.release(held.slot)
  }

  /**
   * Copies the reconstructed picture into a slot of its own and measures it against its held
   * source; or says why not, without running: `full` (the bound), `geometry` (larger than the
   * slab's pictures). It takes `held` over either way: its slot is given back when the task ends,
   * or at once.
   */
  tryRun(key: number, held: HeldSource, recon: PictureSource): Promise<MetricsResult> | NotRun {
    const slab = this.#slab!
    const slot = this.full ? undefined : this.#acquire(slab)
    if (slot === undefined) {
      slab.release(held.slot)
      return 'full'
    }
    const r = slab.copyIn(slot, recon)
    if (!r) {
      slab.release(slot)
      slab.release(held.slot)
      return 'geometry'
    }
    this.#inFlight++
    const task: MetricsTask = { key, source: held.planes, recon: r }
    return this.#run<MetricsResult>(task).finally(() => {
      slab.release(slot)
      slab.release(held.slot)
      this.#inFlight--
      this.#waiters.shift()?.()
    })
  }

  /** A free slot, the slab grown by GROW_SLOTS when none is; undefined when it cannot grow. */
  #acquire(slab: PictureSlab): number | undefined {
    const slot = slab.acquire()
    if (slot !== undefined || slab.grow(GROW_SLOTS) === 0) return slot
    return slab.acquire()
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#restartTimer)
    await this.#pool.destroy()
  }
}

const MAX_SLAB_BYTES = 1 << 30

/** The workers start again this long after one died, twice as long each time they die again, up to RESTART_MAX_MS. */
const RESTART_MS = 1000
const RESTART_MAX_MS = 30_000

/**
 * Slots the slab starts with, and adds at a time: libx264 veryfast holds about 16 frames between a
 * source frame and its packet (lookahead, B-frames, frame threads), slower presets and x265 up to
 * 60 or more, and each task in flight holds two. A slot is one picture, 1.4 MB at 720p, and only
 * slots that have been used take memory (the buffer's pages are touched on first use).
 */
const INITIAL_SLOTS = 32
const GROW_SLOTS = 16

/**
 * Frames a worker is handed before piscina starts another (it measures them one after the other).
 * The own-output decoder gives frames in bursts (a B-frame group at a time), and with one task per
 * worker each burst started the second worker, whose start-up (node, modules, the wasm compile)
 * cost more than the frames it then measured: at 720p a frame takes a worker about 1 ms, so four
 * waiting add at most 3 ms. `perf` shares of a 720p encode (BENCHMARKS.md): 0.297 → 0.285.
 */
const TASKS_PER_WORKER = 4

/** Slots of pictures of `pictureBytes` each that fit `maxBytes`, at most `wanted`. */
export function slabSlots(wanted: number, pictureBytes: number, maxBytes: number): number {
  return Math.min(wanted, Math.floor(maxBytes / (Math.ceil(pictureBytes / 64) * 64)))
}

/** The compiled worker: next to this module in dist, or in dist when running from src (tests). */
function workerFile(): string {
  const here = new URL('./metrics-worker.js', import.meta.url)
  if (existsSync(here)) return fileURLToPath(here)
  const built = new URL('../../dist/io/metrics-worker.js', import.meta.url)
  if (existsSync(built)) return fileURLToPath(built)
  throw new Error('the metrics worker is not built: run `pnpm -s build` first (packages/encoder/dist/io/metrics-worker.js)')
}
