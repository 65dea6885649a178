/**
 * Loads the WebAssembly SIMD metric kernels (dist/metrics/kernels.wasm, assembled from
 * src/metrics/kernels.wat by the build) and picks the kernels a thread measures with: those, or
 * the plain-JavaScript ones where the file is missing or this runtime has no SIMD128. Nothing
 * happens at import; the first call reads and compiles the file (about 2.5 KB, synchronous) and the
 * outcome is kept for the thread.
 */
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { KernelName, WasmKernels, compileWasmKernels, jsKernels, type CompiledWasmKernels, type PlaneKernels } from '../metrics/index.js'
import { ShellError } from './errors.js'

export const WasmLoadErrorCode = {
  MISSING: 'ERR_METRICS_WASM_MISSING',
  INVALID: 'ERR_METRICS_WASM_INVALID',
} as const
export type WasmLoadErrorCode = (typeof WasmLoadErrorCode)[keyof typeof WasmLoadErrorCode]

/** Fatal where it is thrown (`loadWasmKernels`); `bestKernels` catches it and falls back to the JS kernels. */
export class WasmLoadError extends ShellError<WasmLoadErrorCode> {}

let compiled: CompiledWasmKernels | WasmLoadError | undefined
let best: { kernels: PlaneKernels; fallbackReason?: string } | undefined

/** A new `WasmKernels` (its own memory); throws `WasmLoadError` when the module cannot load. */
export function loadWasmKernels(): WasmKernels {
  compiled ??= compile()
  if (compiled instanceof WasmLoadError) throw compiled
  return new WasmKernels(compiled)
}

/**
 * The kernels this thread measures with: WebAssembly SIMD when it loads, else plain JavaScript
 * (same numbers, slower) with the reason. One instance per thread, reused by every call.
 * `MQA_METRICS_KERNELS=js` in the environment picks the JavaScript ones (for A/B benchmarks).
 */
export function bestKernels(): { kernels: PlaneKernels; fallbackReason?: string } {
  if (!best) {
    if (process.env['MQA_METRICS_KERNELS'] === KernelName.JS) {
      best = { kernels: jsKernels(), fallbackReason: 'MQA_METRICS_KERNELS=js' }
      return best
    }
    try {
      best = { kernels: loadWasmKernels() }
    } catch (err) {
      best = { kernels: jsKernels(), fallbackReason: (err as Error).message }
    }
  }
  return best
}

function compile(): CompiledWasmKernels | WasmLoadError {
  const file = wasmFile()
  if (!file) {
    return new WasmLoadError(WasmLoadErrorCode.MISSING, 'the metrics kernels are not built: run `pnpm -s build` (packages/encoder/dist/metrics/kernels.wasm)')
  }
  const bytes = readFileSync(file)
  try {
    return compileWasmKernels(bytes)
  } catch (err) {
    return new WasmLoadError(WasmLoadErrorCode.INVALID, `${file} does not compile here (WebAssembly SIMD128 needs Node 16.4 or later): ${(err as Error).message}`, { cause: err })
  }
}

/** kernels.wasm next to the compiled metrics modules, or in dist when running from src (tests). */
function wasmFile(): string | undefined {
  for (const rel of ['../metrics/kernels.wasm', '../../dist/metrics/kernels.wasm']) {
    const url = new URL(rel, import.meta.url)
    if (existsSync(url)) return fileURLToPath(url)
  }
  return undefined
}
