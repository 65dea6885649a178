/**
 * Buffers the kernels reuse from call to call, so measuring a frame allocates nothing but its
 * result objects. One per thread: the kernels are synchronous, so a worker can share one across
 * all its calls; `defaultScratch` is the one used when the caller passes none.
 */
export class MetricsScratch {
  /**
   * Two rows of 4x4-block sums (s1, s2, ss, s12 per block): the block row being summed and the one
   * above it, which together give a row of 8x8 windows.
   */
  blockSums: Int32Array = new Int32Array(0)
  /** Outputs of `planeSsim`, kept here rather than in a returned object. */
  windowSum = 0
  blockSse = 0

  /** The block-sum buffer for a plane `blocksPerRow` 4x4 blocks wide, grown when too small. */
  blockSumsFor(blocksPerRow: number): Int32Array {
    const needed = 8 * blocksPerRow
    if (this.blockSums.length < needed) this.blockSums = new Int32Array(needed)
    return this.blockSums
  }
}

/** Module-level: each worker thread loads its own copy of this module, so this is per thread. */
export const defaultScratch = new MetricsScratch()
