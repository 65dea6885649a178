/**
 * Per-frame fidelity kernels: PSNR and SSIM of 8-bit planar YUV pictures, computed exactly as
 * FFmpeg 5.1's `psnr` and `ssim` filters do. Pure and synchronous (no I/O), for the metrics
 * worker threads. Two implementations of the plane kernels give the same numbers bit for bit:
 * plain JavaScript (`jsKernels`, the reference and fallback) and WebAssembly SIMD (`WasmKernels`,
 * loaded by `io/metrics-wasm.ts`).
 */
export type { Picture, Plane, PlaneKernels, PlaneSums, PsnrResult, PsnrSsimResult, SsimResult } from './types.js'
export { KernelName } from './types.js'
export { MetricsScratch, defaultScratch } from './scratch.js'
export { computePsnr, computePsnrSsim, computeSsim, measurePsnr, measurePsnrSsim, psnrFromMse } from './picture.js'
export { SSIM_C1, SSIM_C2, edgeSse, jsKernels, planeSse, planeSsim, sseRect, ssimWindowCount } from './plane.js'
export { WASM_MAX_WIDTH, WasmKernels, compileWasmKernels, type CompiledWasmKernels } from './wasm-kernels.js'
