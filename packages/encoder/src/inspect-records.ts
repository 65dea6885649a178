import {
  type AggregateScore,
  type FrameRate,
  type MqaRecord,
  ScoreScope,
  aggregateScores,
  segmentGrid,
  segmentNumberOf,
  timecodeToFrameIndex,
} from '@mqa/common'

/** One access unit's records as `mqa inspect` reads them, in decode order. */
export interface InspectedFrame {
  /** Position of the access unit in the file, from 0 (decode order). */
  readonly index: number
  readonly ptsTicks?: number | undefined
  readonly keyFrame: boolean
  readonly record?: MqaRecord | undefined
  /** Errors met reading this access unit's SEI. */
  readonly errors: readonly string[]
}

export interface InspectSummary {
  readonly frames: readonly InspectedFrame[]
  /** GOP summaries the encoder wrote (s=g), in order. */
  readonly gopSummaries: readonly MqaRecord[]
  /** Aggregates per segment number of the timecode grid (from each frame's `tc`). */
  readonly segments: readonly ({ readonly segmentNumber: number } & AggregateScore)[]
  /** Access units without an MQA frame record. */
  readonly withoutRecord: number
}

/** Group the frame records of a file into segments of the grid. Pure. */
export function summarizeInspection(frames: readonly InspectedFrame[], gopSummaries: readonly MqaRecord[], rate: FrameRate, segmentSeconds: number): InspectSummary {
  const grid = segmentGrid({ rate, gopSeconds: segmentSeconds, segmentSeconds })
  const bySegment = new Map<number, MqaRecord[]>()
  let withoutRecord = 0
  for (const f of frames) {
    const r = f.record
    if (!r || r.scope !== ScoreScope.FRAME) {
      withoutRecord++
      continue
    }
    if (r.timecode === undefined) continue
    let frameIndex: number
    try {
      frameIndex = timecodeToFrameIndex(r.timecode, rate)
    } catch {
      continue
    }
    const n = segmentNumberOf(frameIndex, grid)
    let list = bySegment.get(n)
    if (!list) bySegment.set(n, (list = []))
    list.push(r)
  }
  const segments = [...bySegment.entries()].sort((a, b) => a[0] - b[0]).map(([segmentNumber, records]) => ({ segmentNumber, ...aggregateScores(records) }))
  return { frames, gopSummaries, segments, withoutRecord }
}
