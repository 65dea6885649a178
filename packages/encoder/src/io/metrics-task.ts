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

/** A frame that copies its own planes out (beamcoder's, as patched: `Frame.copyPlane`). */
export interface CopyingFrame {
  readonly linesize: readonly number[]
  readonly width: number
  readonly height: number
  copyPlane(plane: number, target: Uint8Array, offset: number, bytes: number): void
}

/** A picture to copy into a slab: its planes as arrays, or a frame that copies them itself. */
export type PictureSource = FramePlanes | CopyingFrame

/** The three planes of a beamcoder frame, its `data` read once. */
export function framePlanes(frame: FramePlanes): FramePlanes {
  return { data: frame.data, linesize: frame.linesize, width: frame.width, height: frame.height }
}

/**
 * A beamcoder frame as a picture source, its geometry read once (each read of a property is a
 * native call, `linesize` a new array): copied by the frame itself when it can (no Buffer holding
 * its picture, so `release()` gives the picture back to its decoder at once), else by `data`.
 */
export function framePicture(frame: FramePlanes & Partial<Pick<CopyingFrame, 'copyPlane'>>): PictureSource {
  if (typeof frame.copyPlane !== 'function') return framePlanes(frame)
  const copyPlane = frame.copyPlane.bind(frame)
  return { linesize: frame.linesize, width: frame.width, height: frame.height, copyPlane }
}

/** Bytes of plane `i` of a yuv420p frame as stored: linesize × rows, padding included. */
function planeGeometry(frame: PictureSource, i: number): { linesize: number; width: number; height: number; bytes: number } {
  const width = i === 0 ? frame.width : (frame.width + 1) >> 1
  const height = i === 0 ? frame.height : (frame.height + 1) >> 1
  const linesize = frame.linesize[i]!
  return { linesize, width, height, bytes: linesize * height }
}

/** Bytes a picture takes in a slab slot: its three planes, each starting on 64 bytes. */
export function pictureBytes(frame: PictureSource): number {
  let total = 0
  for (let i = 0; i < 3; i++) total += align64(planeGeometry(frame, i).bytes)
  return total
}

const align64 = (n: number) => (n + 63) & ~63

/**
 * Bytes of a slab slot for pictures like `frame`: its planes' bytes with each linesize at least
 * the plane's width rounded up to 128 (what FFmpeg's decoders give: a 160-pixel-wide picture has
 * rows of 256 bytes from the H.264 and HEVC decoders, 128 for its chroma, where a raw source
 * gives 160 and 80, beamcoder's `alloc()` 160 and 96), and a quarter more for padding wider
 * still. The slab is sized from the first source frame, before any reconstruction has come out
 * of the decoder, so this must hold the decoder's pictures too. Only the bytes a picture fills
 * are ever touched.
 */
export function slotBytes(frame: PictureSource): number {
  let total = 0
  for (let i = 0; i < 3; i++) {
    const g = planeGeometry(frame, i)
    total += align64(Math.max(g.linesize, (g.width + 127) & ~127) * g.height)
  }
  return Math.ceil(total * 1.25)
}

/**
 * Slots in one SharedArrayBuffer, each holding one picture (a source waiting for its
 * reconstruction, or either picture of a task), given to every worker when it starts; `grow` adds
 * slots while the buffer can grow. A task then carries only where its planes are. Transferring
 * fresh plane buffers with every task instead made V8 count about 2.8 MB of new external memory
 * per frame on the main thread, and every 64 MB of that starts a garbage collection.
 */
export class PictureSlab {
  readonly buffer: SharedArrayBuffer
  #slots: number
  /** Bytes of a slot: one picture. */
  readonly pictureBytes: number
  readonly #bytes: Uint8Array
  readonly #free: number[] = []

  /**
   * In `buffer` when given (a growable SharedArrayBuffer, grown here to size: the workers can be
   * handed it before the picture size is known, and `grow` adds slots later), else in a new one.
   */
  constructor(slots: number, pictureBytes: number, buffer?: SharedArrayBuffer) {
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`slots must be a positive integer, got ${slots}`)
    this.#slots = slots
    this.pictureBytes = align64(pictureBytes)
    const bytes = slots * this.pictureBytes
    if (buffer) {
      if (bytes > buffer.maxByteLength) throw new RangeError(`${slots} slots of ${this.pictureBytes}-byte pictures need ${bytes} bytes, more than the slab's ${buffer.maxByteLength}`)
      if (buffer.byteLength < bytes) buffer.grow(bytes)
    }
    this.buffer = buffer ?? new SharedArrayBuffer(bytes)
    // Length-tracking over a growable buffer: it covers the slots `grow` adds.
    this.#bytes = new Uint8Array(this.buffer)
    for (let s = slots - 1; s >= 0; s--) this.#free.push(s)
  }

  get slots(): number {
    return this.#slots
  }

  /**
   * Adds up to `more` slots, as many as the buffer can still grow by (a growable
   * SharedArrayBuffer; a fixed one cannot). Returns how many it added.
   */
  grow(more: number): number {
    const room = this.buffer.growable ? Math.floor((this.buffer.maxByteLength - this.#slots * this.pictureBytes) / this.pictureBytes) : 0
    const added = Math.max(0, Math.min(more, room))
    if (added === 0) return 0
    const bytes = (this.#slots + added) * this.pictureBytes
    if (this.buffer.byteLength < bytes) this.buffer.grow(bytes)
    for (let s = this.#slots + added - 1; s >= this.#slots; s--) this.#free.push(s)
    this.#slots += added
    return added
  }

  /** Slots in use. */
  get inUse(): number {
    return this.#slots - this.#free.length
  }

  /** A view of `bytes` bytes at `offset` (where `copyIn` put a plane). */
  view(offset: number, bytes: number): Uint8Array {
    return this.#bytes.subarray(offset, offset + bytes)
  }

  /** A free slot, or undefined when every slot holds a frame being measured. */
  acquire(): number | undefined {
    return this.#free.pop()
  }

  release(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.#slots || this.#free.includes(slot)) throw new RangeError(`slot ${slot} is not in use`)
    this.#free.push(slot)
  }

  /**
   * Copies a picture's three planes into `slot`, one copy per plane, padding rows included.
   * Returns where they are, or undefined when the picture is larger than the slab was made for
   * (or its planes are shorter than its geometry says).
   */
  copyIn(slot: number, frame: PictureSource): PlaneRef[] | undefined {
    if (pictureBytes(frame) > this.pictureBytes) return undefined
    let offset = slot * this.pictureBytes
    const refs: PlaneRef[] = []
    for (let i = 0; i < 3; i++) {
      const g = planeGeometry(frame, i)
      if ('copyPlane' in frame) {
        try {
          frame.copyPlane(i, this.#bytes, offset, g.bytes)
        } catch (err) {
          // The frame's plane is shorter than its geometry says (or gone): as a short `data` plane.
          if (err instanceof RangeError) return undefined
          throw err
        }
      } else {
        const src = frame.data[i]!
        if (src.length < g.bytes) return undefined
        this.#bytes.set(src.length === g.bytes ? src : src.subarray(0, g.bytes), offset)
      }
      refs.push({ offset, linesize: g.linesize, width: g.width, height: g.height })
      offset += align64(g.bytes)
    }
    return refs
  }
}
