/**
 * The piscina worker that measures one frame: PSNR and SSIM of the reconstructed picture against
 * its source. Both pictures arrive as plane copies the pool owns (transferred, not shared); the
 * WebAssembly kernels copy each plane once more, into their memory (the JavaScript fallback reads
 * them where they are).
 */
import { Piscina } from 'piscina'
import { measurePsnrSsim, type Picture } from '../metrics/index.js'
import { type MetricsResult, type MetricsTask, type PlaneCopy } from './metrics-task.js'
import { bestKernels } from './metrics-wasm.js'

function picture(planes: readonly PlaneCopy[]): Picture {
  const p = planes.map((c) => ({ data: new Uint8Array(c.buffer, 0, c.linesize * c.height), linesize: c.linesize, width: c.width, height: c.height }))
  return { planes: [p[0]!, p[1]!, p[2]!] }
}

export default function measure(task: MetricsTask): unknown {
  const started = performance.now()
  const { psnr, ssim } = measurePsnrSsim(picture(task.source), picture(task.recon), bestKernels().kernels)
  const buffers = [...task.source, ...task.recon].map((p) => p.buffer)
  const result: MetricsResult = {
    key: task.key,
    psnr: { y: psnr.y, u: psnr.u, v: psnr.v, average: psnr.average },
    ssim: { y: ssim.y, u: ssim.u, v: ssim.v, all: ssim.all },
    workerMs: performance.now() - started,
    buffers,
  }
  // Hand the plane buffers back (transferred, not copied) for the encoder to reuse.
  return Piscina.move({ [Piscina.transferableSymbol]: buffers, [Piscina.valueSymbol]: result } as never)
}
