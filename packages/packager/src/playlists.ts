import { type FrameRate, type VideoCodec } from '@mqa/common'
import { type PublishedSegment } from './packager.js'
import { type DashPeriod, buildDashMpd, buildHlsMediaPlaylist, nextDiscontinuitySequence } from './playlist/index.js'
import { segmentsPerDay } from './segmenter.js'

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
  readonly dashAnchor?: DashAnchor | undefined
  /** DASH Periods (a new one after each break in the timestamps), oldest first; absent: one from dashAnchor. */
  readonly dashPeriods?: readonly DashPeriodState[] | undefined
  /**
   * UTC midnight of epoch 0's day (EXT-X-PROGRAM-DATE-TIME), fixed for the packager's life so
   * dates never move when the window slides past midnight; default from the first segment.
   */
  readonly dayStartMs?: number | undefined
  readonly nowMs: number
  /**
   * Low latency: the number of the segment being built, served with chunked transfer while it is
   * cut. The TS playlist hints it (EXT-X-PRELOAD-HINT TYPE=PART, the whole segment as its one part).
   */
  readonly openSegment?: number | undefined
}

export interface DashAnchor {
  readonly number: number
  readonly startPtsTicks: number
  readonly availableAtMs: number
}

/** A DASH Period as the service tracks it: the Period, and the last number published in it so far. */
export interface DashPeriodState extends DashPeriod {
  readonly lastNumber: number
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

function roundS(s: number): number {
  return Math.round(s * 1000) / 1000
}

/** D: frames per segment. */
export function segmentFramesOf(segmentSeconds: number, rate: FrameRate): number {
  return Math.max(1, Math.round((segmentSeconds * rate.num) / rate.den))
}

/** D in 90 kHz ticks: 180000 for 2 s at 25 fps, 180180 for 60 frames at 29.97. */
export function segmentTicksOf(segmentSeconds: number, rate: FrameRate): number {
  return Math.round((segmentFramesOf(segmentSeconds, rate) * 90000 * rate.den) / rate.num)
}

/**
 * UTC midnight of epoch 0's day for a segment: the latest day that puts its first frame's time of
 * day (epoch k adding k days) no later than an hour after it became available. A segment
 * published just after midnight with a timecode of 23:59:58 belongs to the day before, and clocks
 * may disagree by up to an hour.
 */
export function nearestDayStartMs(segment: Pick<PublishedSegment, 'number' | 'firstFrameIndex' | 'availableAtMs'>, rate: FrameRate, segmentSeconds: number): number {
  const epoch = Math.floor(segment.number / segmentsPerDay(rate, segmentFramesOf(segmentSeconds, rate)))
  const mediaMs = programDateTimeMs(segment.firstFrameIndex, rate, epoch * 86_400_000)
  return Math.floor((segment.availableAtMs - mediaMs + 3_600_000) / 86_400_000) * 86_400_000
}

export { nextDiscontinuitySequence }

/**
 * The HLS playlists and the DASH MPD of the window. EXT-X-PROGRAM-DATE-TIME is the frame index on
 * the shared clock read as time of day (what `mqa source` stamps), so A and B name the same
 * frames with the same dates.
 */
export function renderPlaylist(kind: PlaylistKind, inputs: PlaylistInputs, options: { timeUrl: string }): string | undefined {
  // Numbers only increase (the segmenter's epochs, the store); should a window ever go back, its
  // newest run is published rather than nothing.
  let from = 0
  inputs.segments.forEach((s, i) => {
    if (i > 0 && s.number <= inputs.segments[i - 1]!.number) from = i
  })
  const segs = inputs.segments.slice(from)
  const first = segs[0]
  if (!first) return undefined
  const day = inputs.dayStartMs ?? nearestDayStartMs(first, inputs.rate, inputs.segmentSeconds)
  const perDay = segmentsPerDay(inputs.rate, segmentFramesOf(inputs.segmentSeconds, inputs.rate))
  const segmentTicks = segmentTicksOf(inputs.segmentSeconds, inputs.rate)
  if (kind === 'dash') {
    if (!inputs.video || !inputs.dashAnchor) return undefined
    const maxBytes = Math.max(...segs.map((s) => s.cmaf?.length ?? s.ts.length))
    // Periods that still have a segment in the window (the last one always).
    const periods = inputs.dashPeriods?.filter((p, i, all) => i === all.length - 1 || p.lastNumber >= first.number)
    return buildDashMpd({
      ...(periods && periods.length ? { periods } : {}),
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
      // Epoch k (midnight wraps and restarts, see segmentsPerDay) is k days on from epoch 0's day.
      programDateTimeMs: programDateTimeMs(s.firstFrameIndex, inputs.rate, day + Math.floor(s.number / perDay) * 86_400_000),
      discontinuity: s.discontinuity,
    })),
    targetDurationS: Math.round(inputs.segmentSeconds),
    discontinuitySequence: inputs.discontinuitySequence,
    ...(kind === 'hls-cmaf' ? { map: { uri: '../cmaf/init.mp4' } } : {}),
    // No EXT-X-PART yet (each part is a whole segment); blocking reload (_HLS_msn) is served.
    ...(kind === 'hls-ts' && inputs.openSegment !== undefined && inputs.openSegment > segs.at(-1)!.number && !inputs.ended
      ? { lowLatency: { partTargetS: roundS(segmentTicks / 90000), parts: [], preloadHint: `${inputs.openSegment}.ts`, canBlockReload: true } }
      : {}),
    ended: inputs.ended,
  })
}
