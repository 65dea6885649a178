import { type FrameRate, type VideoCodec } from '@mqa/common'
import { type PublishedSegment } from './packager.js'

export interface PlaylistInputs {
  readonly segments: readonly PublishedSegment[]
  readonly rate: FrameRate
  readonly segmentSeconds: number
  readonly window: number
  readonly ended: boolean
  readonly codec: VideoCodec
  readonly hasInit: boolean
}

export type PlaylistKind = 'hls-ts' | 'hls-cmaf' | 'dash'

/** Media time of a frame index on the shared clock as wall-clock ms of the day the stream runs. */
export function programDateTimeMs(frameIndex: number, rate: FrameRate, dayStartMs: number): number {
  return dayStartMs + Math.round((frameIndex * 1000 * rate.den) / rate.num)
}

/** UTC midnight of the day containing `ms`. */
export function utcDayStart(ms: number): number {
  return ms - (ms % 86_400_000)
}

export function renderPlaylist(kind: PlaylistKind, inputs: PlaylistInputs, _options: { timeUrl: string }): string {
  const segs = inputs.segments
  const first = segs[0]!
  const day = utcDayStart(first.availableAtMs)
  const target = Math.ceil(Math.max(...segs.map((s) => s.durationMs)) / 1000)
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${kind === 'hls-cmaf' ? 7 : 3}`, `#EXT-X-TARGETDURATION:${target}`, `#EXT-X-MEDIA-SEQUENCE:${first.number}`]
  if (kind === 'hls-cmaf') lines.push('#EXT-X-MAP:URI="../cmaf/init.mp4"')
  for (const s of segs) {
    if (s.discontinuity && s !== first) lines.push('#EXT-X-DISCONTINUITY')
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(programDateTimeMs(s.firstFrameIndex, inputs.rate, day)).toISOString()}`)
    lines.push(`#EXTINF:${(s.durationMs / 1000).toFixed(3)},`)
    lines.push(kind === 'hls-cmaf' ? `../cmaf/${s.number}.m4s` : `${s.number}.ts`)
  }
  if (inputs.ended) lines.push('#EXT-X-ENDLIST')
  return `${lines.join('\n')}\n`
}
