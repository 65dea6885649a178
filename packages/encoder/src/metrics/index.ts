/**
 * Per-frame fidelity kernels: PSNR and SSIM of 8-bit planar YUV pictures, computed exactly as
 * FFmpeg 5.1's `psnr` and `ssim` filters do. Pure and synchronous (no I/O), for the metrics
 * worker threads.
 */
export type { Picture, Plane, PsnrResult, PsnrSsimResult, SsimResult } from './types.js'
export { MetricsScratch, defaultScratch } from './scratch.js'
export { computePsnr, computePsnrSsim, computeSsim, psnrFromMse } from './picture.js'
export { SSIM_C1, SSIM_C2, planeSse, planeSsim, sseRect, ssimWindowCount } from './plane.js'
