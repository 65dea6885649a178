import { type FrameRate, type MqaRecord, ScoreScope, VideoCodec, readMqaRecords, splitAnnexB, splitLengthPrefixed } from '@mqa/common'
import { type InspectSummary, type InspectedFrame, summarizeInspection } from '../inspect-records.js'
import { loadBeamcoder } from './beamcoder.js'
import { openInput } from './input.js'

/** Read every access unit's MQA SEI from a media file (TS or MP4) and aggregate per segment. */
export async function inspectFile(path: string, options: { segmentSeconds: number; fps?: FrameRate | undefined }): Promise<InspectSummary & { rate: FrameRate }> {
  loadBeamcoder().logging('fatal')
  const input = await openInput(path, { fps: options.fps })
  const codecName = input.demuxer.streams[input.videoIndex]!.codecpar.name
  const codec = codecName === 'hevc' ? VideoCodec.H265 : VideoCodec.H264
  const frames: InspectedFrame[] = []
  const gopSummaries: MqaRecord[] = []
  try {
    for (;;) {
      const p = await input.demuxer.read()
      if (!p) break
      if (p.stream_index !== input.videoIndex) continue
      const data = new Uint8Array(p.data.buffer, p.data.byteOffset, p.size)
      const errors: string[] = []
      let record: MqaRecord | undefined
      try {
        const annexB = data.length > 4 && data[0] === 0 && data[1] === 0 && (data[2] === 1 || (data[2] === 0 && data[3] === 1))
        const found = readMqaRecords(codec, annexB ? splitAnnexB(data, codec) : splitLengthPrefixed(data, codec))
        for (const r of found.records) {
          if (r.scope === ScoreScope.GOP) gopSummaries.push(r)
          else record ??= r
        }
        for (const e of found.errors) errors.push(`${e.code}: ${e.message}`)
      } catch (err) {
        errors.push((err as Error).message)
      }
      frames.push({ index: frames.length, ptsTicks: typeof p.pts === 'number' ? p.pts : undefined, keyFrame: Boolean(p.flags?.KEY), record, errors })
    }
  } finally {
    await input.close()
  }
  return { ...summarizeInspection(frames, gopSummaries, input.rate, options.segmentSeconds), rate: input.rate }
}
