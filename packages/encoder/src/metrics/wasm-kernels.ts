/**
 * The plane kernels in WebAssembly SIMD128 (kernels.wat, assembled at build time into
 * dist/metrics/kernels.wasm): the same integer sums, the same float32 window formula and the same
 * order of double additions as the JavaScript kernels in plane.ts, so the same numbers bit for bit,
 * about an order of magnitude faster. This module only instantiates a compiled module it is given;
 * finding and reading the file is `io/metrics-wasm.ts`'s job.
 *
 * Memory: each call copies the plane pair into the instance's memory (one copy per plane, rows at
 * their own linesize, so one `set` each) after the block-sum scratch, and grows the memory when a
 * bigger picture comes. One instance per thread: calls are synchronous and share that memory.
 */
import { checkPlanePair, checkSsimPlane } from './plane.js'
import { KernelName, type Plane, type PlaneKernels, type PlaneSums } from './types.js'

/** The part of the WebAssembly JS API used here (@types/node 20 declares none of it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => { readonly exports: object }
}
const wasmApi = (): WasmApi => (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly

/** kernels.wasm, compiled: `compileWasmKernels` makes it, every `WasmKernels` instantiates it. */
export interface CompiledWasmKernels {
  readonly module: object
}

/**
 * Compiles kernels.wasm's bytes (synchronous: it is about 2.5 KB). Throws where the runtime has no
 * WebAssembly SIMD128 (Node before 16.4) or the bytes are not the kernels.
 */
export function compileWasmKernels(bytes: Uint8Array): CompiledWasmKernels {
  const module = new (wasmApi().Module)(bytes)
  return { module }
}

/** What kernels.wat exports. */
interface KernelExports {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number }
  readonly blockSse: { readonly value: number }
  ssimPlane(ra: number, rs: number, da: number, ds: number, width: number, height: number, sums: number): number
  sseRect(ra: number, rs: number, da: number, ds: number, width: number, height: number): number
}

/** Widest plane the kernels take: their per-lane row sums of squared differences stay below 2^31. */
export const WASM_MAX_WIDTH = 32768
/** Bytes the kernels may read past a plane's last pixel (masked or dropped), plus alignment room. */
const SLACK = 64
const PAGE = 65536
const SUMS_AT = 64

export class WasmKernels implements PlaneKernels {
  readonly name = KernelName.WASM_SIMD
  readonly #x: KernelExports
  #heap: Uint8Array

  /** A new instance (its own memory) of the compiled kernels.wasm. */
  constructor(compiled: CompiledWasmKernels) {
    const instance = new (wasmApi().Instance)(compiled.module, {})
    this.#x = instance.exports as KernelExports
    if (typeof this.#x.ssimPlane !== 'function' || typeof this.#x.sseRect !== 'function') {
      throw new TypeError('this WebAssembly module is not kernels.wasm: it exports no ssimPlane/sseRect')
    }
    this.#heap = new Uint8Array(this.#x.memory.buffer)
  }

  /** Bytes of memory the instance holds now (it grows to fit the largest plane pair seen). */
  get memoryBytes(): number {
    return this.#x.memory.buffer.byteLength
  }

  ssimSse(ref: Plane, dist: Plane, out: PlaneSums): void {
    checkPair(ref, dist)
    checkSsimPlane(ref)
    const groups = ((ref.width >> 2) + 3) >> 2
    const [ra, da] = this.#load(ref, dist, SUMS_AT + 2 * 64 * (groups + 1))
    const x = this.#x
    out.windowSum = x.ssimPlane(ra, ref.linesize, da, dist.linesize, ref.width, ref.height, SUMS_AT)
    // The right strip and the bottom rows beyond whole 4x4 blocks (none at 720p or 1080p).
    const w4 = ref.width & ~3
    const h4 = ref.height & ~3
    out.sse = x.blockSse.value
      + x.sseRect(ra + w4, ref.linesize, da + w4, dist.linesize, ref.width - w4, h4)
      + x.sseRect(ra + h4 * ref.linesize, ref.linesize, da + h4 * dist.linesize, dist.linesize, ref.width, ref.height - h4)
  }

  sse(ref: Plane, dist: Plane): number {
    checkPair(ref, dist)
    const [ra, da] = this.#load(ref, dist, SUMS_AT)
    return this.#x.sseRect(ra, ref.linesize, da, dist.linesize, ref.width, ref.height)
  }

  /** Copies both planes into memory from `from` on; returns where each starts. */
  #load(ref: Plane, dist: Plane, from: number): [number, number] {
    const refBytes = planeBytes(ref)
    const distBytes = planeBytes(dist)
    const ra = align64(from)
    const da = align64(ra + refBytes + SLACK)
    const end = da + distBytes + SLACK
    const memory = this.#x.memory
    if (end > memory.buffer.byteLength) {
      memory.grow(Math.ceil((end - memory.buffer.byteLength) / PAGE))
    }
    // A grown memory has a new buffer and detaches the old view.
    if (this.#heap.buffer !== memory.buffer) this.#heap = new Uint8Array(memory.buffer)
    this.#heap.set(ref.data.subarray(0, refBytes), ra)
    this.#heap.set(dist.data.subarray(0, distBytes), da)
    return [ra, da]
  }
}

function checkPair(ref: Plane, dist: Plane): void {
  checkPlanePair(ref, dist, 'plane')
  if (ref.width > WASM_MAX_WIDTH) throw new RangeError(`the WebAssembly kernels take planes up to ${WASM_MAX_WIDTH} pixels wide, not ${ref.width}`)
}

/** The bytes a plane's pixels span: every row at its linesize, the last one only to its width. */
function planeBytes(p: Plane): number {
  return (p.height - 1) * p.linesize + p.width
}

function align64(n: number): number {
  return (n + 63) & ~63
}
