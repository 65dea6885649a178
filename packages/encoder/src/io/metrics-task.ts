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
 * Copy the three planes of a yuv420p frame into fresh ArrayBuffers (one copy per plane, padding
 * rows included, so it is one memcpy each). Beamcoder's plane Buffers are longer than
 * linesize × height; only that much is copied.
 */
export function copyPlanes(frame: FramePlanes): PlaneCopy[] {
  const out: PlaneCopy[] = []
  for (let i = 0; i < 3; i++) {
    const width = i === 0 ? frame.width : (frame.width + 1) >> 1
    const height = i === 0 ? frame.height : (frame.height + 1) >> 1
    const linesize = frame.linesize[i]!
    const bytes = linesize * height
    const buffer = new ArrayBuffer(bytes)
    new Uint8Array(buffer).set(frame.data[i]!.subarray(0, bytes))
    out.push({ buffer, linesize, width, height })
  }
  return out
}
