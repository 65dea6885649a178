import { type FrameRate, type VideoCodec } from '@mqa/common'
import { type PublishedSegment } from './packager.js'
import { buildDashMpd, buildHlsMediaPlaylist, nextDiscontinuitySequence } from './playlist/index.js'

/** What the service knows when a playlist is asked for. */
export interface PlaylistInputs {
  readonly segments: readonly PublishedSegment[]
  readonly rate: FrameRate
  readonly segmentSeconds: number
  readonly window: number
  readonly ended: boolean
  readonly codec: VideoCodec
  readonly hasInit: boolean
  /** Discontinuities that have left the window so far (EXT-X-DISCONTINUITY-SEQUENCE). */
  readonly discontinuitySequence: number
  /** The CMAF video track for DASH, and the first full segment published (the DASH anchor). */
  readonly video?: { readonly codecs: string; readonly width: number; readonly height: number } | undefined
  readonly dashAnchor?: { readonly number: number; readonly startPtsTicks: number; readonly availableAtMs: number } | undefined
  readonly nowMs: number
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

export { nextDiscontinuitySequence }

/**
 * The HLS playlists and the DASH MPD of the window. EXT-X-PROGRAM-DATE-TIME is the frame index on
 * the shared clock read as time of day (what `mqa source` stamps), so A and B name the same
 * frames with the same dates.
 */
export function renderPlaylist(kind: PlaylistKind, inputs: PlaylistInputs, options: { timeUrl: string }): string | undefined {
  const segs = inputs.segments
  const first = segs[0]!
  const day = utcDayStart(first.availableAtMs)
  const segmentTicks = Math.round((inputs.segmentSeconds * 90000))
  if (kind === 'dash') {
    if (!inputs.video || !inputs.dashAnchor) return undefined
    const maxBytes = Math.max(...segs.map((s) => s.cmaf?.length ?? s.ts.length))
    return buildDashMpd({
      startNumber: inputs.dashAnchor.number,
      startTicks: inputs.dashAnchor.startPtsTicks,
      startAvailableAtMs: inputs.dashAnchor.availableAtMs,
      segmentDurationTicks: segmentTicks,
      publishTimeMs: inputs.nowMs,
      windowSegments: inputs.window,
      utcTimingUrl: options.timeUrl,
      video: { codecs: inputs.video.codecs, width: inputs.video.width, height: inputs.video.height, frameRate: inputs.rate, bandwidthBps: Math.round((maxBytes * 8) / inputs.segmentSeconds) },
      ...(inputs.ended ? { endNumber: segs.at(-1)!.number } : {}),
    })
  }
  return buildHlsMediaPlaylist({
    segments: segs.map((s) => ({
      number: s.number,
      durationMs: s.durationMs,
      uri: kind === 'hls-cmaf' ? `../cmaf/${s.number}.m4s` : `${s.number}.ts`,
      programDateTimeMs: programDateTimeMs(s.firstFrameIndex, inputs.rate, day),
      discontinuity: s.discontinuity,
    })),
    targetDurationS: Math.round(inputs.segmentSeconds),
    discontinuitySequence: inputs.discontinuitySequence,
    ...(kind === 'hls-cmaf' ? { map: { uri: '../cmaf/init.mp4' } } : {}),
    ended: inputs.ended,
  })
}
