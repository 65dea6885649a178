/** What crosses the thread boundary between the encoder and its metrics workers. */

/** Where one plane of a picture sits in the pool's slab. */
export interface PlaneRef {
  readonly offset: number
  readonly linesize: number
  readonly width: number
  readonly height: number
}

export interface MetricsTask {
  /** The frame's index on the shared clock: pairs the result with its packet. */
  readonly key: number
  readonly source: readonly PlaneRef[]
  readonly recon: readonly PlaneRef[]
}

export interface MetricsResult {
  readonly key: number
  readonly psnr: { readonly y: number; readonly u: number; readonly v: number; readonly average: number }
  readonly ssim: { readonly y: number; readonly u: number; readonly v: number; readonly all: number }
  readonly workerMs: number
}

/** What every worker is started with: the slab the tasks' planes are in. */
export interface MetricsWorkerData {
  readonly slab: SharedArrayBuffer
}

/** Plane geometry of a yuv420p frame as beamcoder gives it (read `frame.data` once: each read makes new Buffers). */
export interface FramePlanes {
  readonly data: readonly Uint8Array[]
  readonly linesize: readonly number[]
  readonly width: number
  readonly height: number
}

/** The three planes of a beamcoder frame, its `data` read once. */
export function framePlanes(frame: FramePlanes): FramePlanes {
  return { data: frame.data, linesize: frame.linesize, width: frame.width, height: frame.height }
}

/** Bytes of plane `i` of a yuv420p frame as stored: linesize × rows, padding included. */
function planeGeometry(frame: FramePlanes, i: number): { linesize: number; width: number; height: number; bytes: number } {
  const width = i === 0 ? frame.width : (frame.width + 1) >> 1
  const height = i === 0 ? frame.height : (frame.height + 1) >> 1
  const linesize = frame.linesize[i]!
  return { linesize, width, height, bytes: linesize * height }
}

/** Bytes a picture takes in a slab half: its three planes, each starting on 64 bytes. */
export function pictureBytes(frame: FramePlanes): number {
  let total = 0
  for (let i = 0; i < 3; i++) total += align64(planeGeometry(frame, i).bytes)
  return total
}

const align64 = (n: number) => (n + 63) & ~63

/**
 * A fixed number of slots in one SharedArrayBuffer, each holding a measured frame's two pictures
 * (source, then reconstructed), given to every worker when it starts. A task then
 * carries only where its planes are. Transferring fresh plane buffers with every task instead made
 * V8 count about 2.8 MB of new external memory per frame on the main thread, and every 64 MB of
 * that starts a garbage collection.
 */
export class PictureSlab {
  readonly buffer: SharedArrayBuffer
  readonly slots: number
  /** Bytes for one picture; a slot holds two. */
  readonly pictureBytes: number
  readonly #bytes: Uint8Array
  readonly #free: number[] = []

  /**
   * In `buffer` when given (a growable SharedArrayBuffer, grown here to size: the workers can be
   * handed it before the picture size is known), else in a new one.
   */
  constructor(slots: number, pictureBytes: number, buffer?: SharedArrayBuffer) {
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`slots must be a positive integer, got ${slots}`)
    this.slots = slots
    this.pictureBytes = align64(pictureBytes)
    const bytes = slots * 2 * this.pictureBytes
    if (buffer) {
      if (bytes > buffer.maxByteLength) throw new RangeError(`${slots} slots of ${this.pictureBytes}-byte picture pairs need ${bytes} bytes, more than the slab's ${buffer.maxByteLength}`)
      if (buffer.byteLength < bytes) buffer.grow(bytes)
    }
    this.buffer = buffer ?? new SharedArrayBuffer(bytes)
    this.#bytes = new Uint8Array(this.buffer)
    for (let s = slots - 1; s >= 0; s--) this.#free.push(s)
  }

  /** A free slot, or undefined when every slot holds a frame being measured. */
  acquire(): number | undefined {
    return this.#free.pop()
  }

  release(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.slots || this.#free.includes(slot)) throw new RangeError(`slot ${slot} is not in use`)
    this.#free.push(slot)
  }

  /**
   * Copies a picture's three planes into half `half` of `slot` (0: source, 1: reconstructed), one
   * copy per plane, padding rows included. Returns where they are, or undefined when the picture
   * is larger than the slab was made for.
   */
  copyIn(slot: number, half: 0 | 1, frame: FramePlanes): PlaneRef[] | undefined {
    if (pictureBytes(frame) > this.pictureBytes) return undefined
    let offset = (slot * 2 + half) * this.pictureBytes
    const refs: PlaneRef[] = []
    for (let i = 0; i < 3; i++) {
      const g = planeGeometry(frame, i)
      const src = frame.data[i]!
      if (src.length < g.bytes) return undefined
      this.#bytes.set(src.length === g.bytes ? src : src.subarray(0, g.bytes), offset)
      refs.push({ offset, linesize: g.linesize, width: g.width, height: g.height })
      offset += align64(g.bytes)
    }
    return refs
  }
}
