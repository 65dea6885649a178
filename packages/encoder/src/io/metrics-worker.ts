/**
 * The piscina worker that measures one frame: PSNR and SSIM of the reconstructed picture against
 * its source. Both pictures are in the pool's slab (a SharedArrayBuffer every worker gets once,
 * at start); a task says where their planes are. The WebAssembly kernels copy each plane into
 * their memory; the JavaScript fallback reads them where they are.
 */
import { workerData } from 'piscina'
import { measurePsnrSsim, type Picture } from '../metrics/index.js'
import { type MetricsResult, type MetricsTask, type MetricsWorkerData, type PlaneRef } from './metrics-task.js'
import { bestKernels } from './metrics-wasm.js'

const { slab } = workerData as MetricsWorkerData

function picture(planes: readonly PlaneRef[]): Picture {
  const p = planes.map((r) => ({ data: new Uint8Array(slab, r.offset, r.linesize * r.height), linesize: r.linesize, width: r.width, height: r.height }))
  return { planes: [p[0]!, p[1]!, p[2]!] }
}

/**
 * Run once by `MetricsPool.warm`: the worker has started and loaded its module, and the kernels
 * (the WebAssembly compile) are ready, before the first frame is handed over.
 */
export function warm(): string {
  return bestKernels().fallbackReason ?? 'wasm'
}

export default function measure(task: MetricsTask): MetricsResult {
  const started = performance.now()
  const { psnr, ssim } = measurePsnrSsim(picture(task.source), picture(task.recon), bestKernels().kernels)
  return {
    key: task.key,
    psnr: { y: psnr.y, u: psnr.u, v: psnr.v, average: psnr.average },
    ssim: { y: ssim.y, u: ssim.u, v: ssim.v, all: ssim.all },
    workerMs: performance.now() - started,
  }
}
