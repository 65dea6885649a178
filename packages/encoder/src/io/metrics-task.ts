/** What crosses the thread boundary between the encoder and its metrics workers. */

/** One plane copied out of a beamcoder frame into memory the pool owns. */
export interface PlaneCopy {
  readonly buffer: ArrayBuffer
  readonly linesize: number
  readonly width: number
  readonly height: number
}

export interface MetricsTask {
  /** The frame's index on the shared clock: pairs the result with its packet. */
  readonly key: number
  readonly source: readonly PlaneCopy[]
  readonly recon: readonly PlaneCopy[]
}

export interface MetricsResult {
  readonly key: number
  /** The task's plane buffers, handed back (transferred) so the next frames reuse them. */
  readonly buffers?: readonly ArrayBuffer[]
  readonly psnr: { readonly y: number; readonly u: number; readonly v: number; readonly average: number }
  readonly ssim: { readonly y: number; readonly u: number; readonly v: number; readonly all: number }
  readonly workerMs: number
}

/** Plane geometry of a frame as beamcoder gives it. */
export interface FramePlanes {
  readonly data: readonly Uint8Array[]
  readonly linesize: readonly number[]
  readonly width: number
  readonly height: number
}

/**
 * Plane buffers for reuse, by size: two full-frame copies per measured frame were the largest
 * allocation on the main thread and most of its garbage collection. Bounded.
 */
export class PlaneBufferPool {
  readonly #free = new Map<number, ArrayBuffer[]>()
  readonly #max: number
  #count = 0

  constructor(max = 96) {
    this.#max = max
  }

  get(bytes: number): ArrayBuffer {
    const list = this.#free.get(bytes)
    const b = list?.pop()
    if (b) {
      this.#count--
      return b
    }
    return new ArrayBuffer(bytes)
  }

  put(buffers: readonly ArrayBuffer[]): void {
    for (const b of buffers) {
      if (this.#count >= this.#max || b.byteLength === 0) continue
      let list = this.#free.get(b.byteLength)
      if (!list) this.#free.set(b.byteLength, (list = []))
      list.push(b)
      this.#count++
    }
  }
}

/**
 * Copy the three planes of a yuv420p frame into buffers the pool owns (one copy per plane,
 * padding rows included, so it is one memcpy each). Beamcoder's plane Buffers are longer than
 * linesize × height; only that much is copied.
 */
export function copyPlanes(frame: FramePlanes, pool?: PlaneBufferPool): PlaneCopy[] {
  const out: PlaneCopy[] = []
  for (let i = 0; i < 3; i++) {
    const width = i === 0 ? frame.width : (frame.width + 1) >> 1
    const height = i === 0 ? frame.height : (frame.height + 1) >> 1
    const linesize = frame.linesize[i]!
    const bytes = linesize * height
    const buffer = pool ? pool.get(bytes) : new ArrayBuffer(bytes)
    new Uint8Array(buffer).set(frame.data[i]!.subarray(0, bytes))
    out.push({ buffer, linesize, width, height })
  }
  return out
}
