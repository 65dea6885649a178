import { ErrorCode, MqaError } from '@mqa/common'
import HLS from 'hls-parser'

type Segment = InstanceType<typeof HLS.types.Segment>
type MediaInitializationSection = InstanceType<typeof HLS.types.MediaInitializationSection>
type LowLatencyCompatibility = NonNullable<InstanceType<typeof HLS.types.MediaPlaylist>['lowLatencyCompatibility']>

/**
 * The HLS media playlist of a live sliding window (RFC 8216, LL-HLS from RFC 8216bis), built
 * with `hls-parser`'s object model and serializer. Pure: every time is passed in.
 *
 * Numbering (WIRE-FORMAT.md §4): EXT-X-MEDIA-SEQUENCE is the first segment's number n on the
 * timecode grid, and HLS numbers the rest by position. Numbers therefore have to be consecutive;
 * a hole (a segment that was never cut, e.g. while the input was lost) is filled with EXT-X-GAP
 * placeholders so that position and n keep agreeing after the hole has left the window.
 *
 * EXT-X-PROGRAM-DATE-TIME goes on every segment, not only after discontinuities: hls.js maps
 * each fragment to wall-clock time from it, an A and a B playlist can be compared segment by
 * segment, and a gap or discontinuity never leaves a segment without a date. It costs ~40 bytes
 * a segment.
 *
 * EXT-X-TARGETDURATION is the longest EXTINF rounded to the nearest second (RFC 8216
 * §4.3.3.1), not rounded up: 29.97 fps segments of 60 frames last 2.002 s, and a target of 3
 * would make hls.js hold back 9 s instead of 6 s and reload less often. Pass `targetDurationS`
 * (the nominal segment length) so the value stays the same across reloads, as the RFC asks.
 */

/** One segment of the window, oldest first. */
export interface HlsSegmentInput {
  /** n on the segment grid (WIRE-FORMAT.md §4). */
  readonly number: number
  readonly durationMs: number
  /** Relative to the playlist, e.g. `12.ts` or `../cmaf/12.m4s`. */
  readonly uri: string
  /** Wall-clock (shared clock) time of the segment's first frame, ms since the epoch. */
  readonly programDateTimeMs: number
  /** The segment does not continue the previous one (timestamps, encoder or parameter sets changed). */
  readonly discontinuity: boolean
  /** fMP4: this segment's init segment when it differs from `map` (a new one after a change of parameter sets). */
  readonly mapUri?: string | undefined
}

/** One LL-HLS partial segment (EXT-X-PART). */
export interface HlsPartInput {
  readonly uri: string
  readonly durationMs: number
  /** The part starts with an IDR (INDEPENDENT=YES). */
  readonly independent: boolean
}

export interface HlsLowLatencyOptions {
  /** EXT-X-PART-INF PART-TARGET: no part may be longer. Keep it the same across reloads. */
  readonly partTargetS: number
  /**
   * Parts per segment, aligned with `segments` by index (`parts[i]` are the parts of
   * `segments[i]`, an empty or missing entry lists none). One more entry, `parts[segments.length]`,
   * lists the parts of the segment being cut, which is not in `segments` yet. Only the last three
   * segments' parts are written (RFC 8216bis: remove parts older than three target durations).
   */
  readonly parts: readonly (readonly HlsPartInput[])[]
  /** URI of the next part, not yet complete (EXT-X-PRELOAD-HINT TYPE=PART). */
  readonly preloadHint?: string | undefined
  /**
   * The server answers _HLS_msn/_HLS_part blocking reloads (EXT-X-SERVER-CONTROL CAN-BLOCK-RELOAD).
   * LL-HLS requires YES (hls-parser's strict mode rejects NO); false is for a server still without it.
   */
  readonly canBlockReload: boolean
  /** PART-HOLD-BACK in seconds (default 3 × partTargetS, the RFC's recommended minimum). */
  readonly partHoldBackS?: number | undefined
  /** The segment being cut starts a discontinuity: EXT-X-DISCONTINUITY goes before its first part. */
  readonly pendingDiscontinuity?: boolean | undefined
}

export interface HlsMediaPlaylistOptions {
  /** The live window, oldest first, numbers increasing. */
  readonly segments: readonly HlsSegmentInput[]
  /** Lower bound of EXT-X-TARGETDURATION in whole seconds (the nominal segment length); required when `segments` is empty. */
  readonly targetDurationS?: number | undefined
  /**
   * EXT-X-DISCONTINUITY-SEQUENCE: how many segments with `discontinuity` have left the window so
   * far (see nextDiscontinuitySequence). The first segment keeps its own EXT-X-DISCONTINUITY while
   * it is in the window, so every segment's discontinuity sequence number stays the same.
   */
  readonly discontinuitySequence: number
  /** fMP4: the init segment (EXT-X-MAP, version 6). Absent for MPEG-TS. */
  readonly map?: { readonly uri: string } | undefined
  /** The input has ended: EXT-X-ENDLIST (and no more parts or preload hint). */
  readonly ended?: boolean | undefined
  /** Every segment starts with an IDR (EXT-X-INDEPENDENT-SEGMENTS). */
  readonly independentSegments?: boolean | undefined
  /** URI written for a missing segment number (an EXT-X-GAP placeholder, never loaded); default `gap-<n>`. */
  readonly gapUri?: ((segmentNumber: number) => string) | undefined
  /**
   * Longest hole filled with EXT-X-GAP (default: the number of segments in the window). Before a
   * longer hole the segments are older than a whole window: the playlist starts after the hole
   * and counts their discontinuities as gone, which keeps every discontinuity sequence number
   * what it becomes once the caller's window has slid past them.
   */
  readonly maxGapSegments?: number | undefined
  /** LL-HLS partial segments; omit for plain live HLS. */
  readonly lowLatency?: HlsLowLatencyOptions | undefined
}

/** Parts are listed for this many segments at the end of the playlist (the one being cut included). */
const PART_SEGMENTS = 3

/**
 * The discontinuity sequence after `removed` (oldest first) have slid out of the window: each
 * removed segment that carried EXT-X-DISCONTINUITY adds one (RFC 8216 §6.2.2).
 */
export function nextDiscontinuitySequence(current: number, removed: readonly Pick<HlsSegmentInput, 'discontinuity'>[]): number {
  return current + removed.filter((s) => s.discontinuity).length
}

/** The media playlist text (LF line ends, a final LF). */
export function buildHlsMediaPlaylist(options: HlsMediaPlaylistOptions): string {
  const { segments, lowLatency } = options
  const ended = options.ended ?? false
  checkSegments(segments)
  if (segments.length === 0 && options.targetDurationS === undefined) {
    throw new MqaError(ErrorCode.VALUE_RANGE, 'HLS playlist: no segments and no targetDurationS')
  }
  if (lowLatency && lowLatency.parts.length > segments.length + 1) {
    throw new MqaError(ErrorCode.VALUE_RANGE, `HLS playlist: parts for ${lowLatency.parts.length} segments but the window has ${segments.length} (+1 being cut)`)
  }

  // A hole longer than the window itself: what came before it is older than a whole window, so
  // the playlist starts after it (GAP lines stay bounded). Their discontinuities count as gone.
  const maxGap = options.maxGapSegments ?? segments.length
  let from = 0
  segments.forEach((s, i) => {
    const previous = segments[i - 1]
    if (previous !== undefined && s.number - previous.number - 1 > maxGap) from = i
  })
  const discontinuitySequence = nextDiscontinuitySequence(options.discontinuitySequence, segments.slice(0, from))
  const first = segments[from]

  const map = options.map ? new HLS.types.MediaInitializationSection({ uri: options.map.uri }) : undefined
  const gapUri = options.gapUri ?? ((n: number) => `gap-${n}`)
  const entries: { segment: Segment; gap: boolean; parts: readonly HlsPartInput[] }[] = []
  segments.forEach((s, i) => {
    if (i < from) return
    const previous = segments[i - 1]
    if (previous !== undefined && i > from && s.number > previous.number + 1) {
      for (const gap of gapSegments(previous, s)) {
        entries.push({ segment: toSegment({ ...gap, uri: gapUri(gap.number), discontinuity: false }, map), gap: true, parts: [] })
      }
    }
    entries.push({ segment: toSegment(s, map), gap: false, parts: lowLatency?.parts[i] ?? [] })
  })

  if (lowLatency && !ended) {
    const pending = lowLatency.parts[segments.length] ?? []
    if (pending.length > 0 || lowLatency.preloadHint !== undefined) {
      // The segment being cut: parts only, no EXTINF; stringify drops its empty URI line.
      const segment = new HLS.types.Segment({ uri: '', discontinuity: lowLatency.pendingDiscontinuity ?? false, map: entries.at(-1)?.segment.map ?? map })
      entries.push({ segment, gap: false, parts: pending })
    }
    entries.forEach((e, i) => {
      if (i < entries.length - PART_SEGMENTS) return
      e.segment.parts = e.parts.map((p) => new HLS.types.PartialSegment({ hint: false, uri: p.uri, duration: msToS(p.durationMs), independent: p.independent }))
    })
    const last = entries.at(-1)
    if (lowLatency.preloadHint !== undefined && last !== undefined) {
      last.segment.parts.push(new HLS.types.PartialSegment({ hint: true, uri: lowLatency.preloadHint }))
    }
  }

  const longestS = Math.max(0, ...segments.slice(from).map((s) => msToS(s.durationMs)))
  const targetDuration = Math.max(1, options.targetDurationS ?? 0, Math.round(longestS))
  const playlist = new HLS.types.MediaPlaylist({
    version: protocolVersion(entries.some((e) => e.gap), Boolean(map || lowLatency || segments.slice(from).some((s) => s.mapUri !== undefined))),
    independentSegments: options.independentSegments ?? false,
    targetDuration,
    mediaSequenceBase: first?.number ?? 0,
    discontinuitySequenceBase: discontinuitySequence,
    endlist: ended,
    segments: entries.map((e) => e.segment),
    ...(lowLatency
      ? {
          partTargetDuration: lowLatency.partTargetS,
          // hls-parser's type asks for all four; it writes only those that are not undefined.
          lowLatencyCompatibility: {
            canBlockReload: lowLatency.canBlockReload,
            partHoldBack: lowLatency.partHoldBackS ?? roundS(3 * lowLatency.partTargetS),
          } as LowLatencyCompatibility,
        }
      : {}),
  })
  const gaps = new Set(entries.flatMap((e, i) => (e.gap ? [i] : [])))
  const text = HLS.stringify(playlist, {
    // hls-parser refuses a repeated tag line (EXT-X-GAP is not on its list of repeatable tags),
    // so the GAP tag goes in here, before the segment's URI line.
    segmentProcessor: (lines, _start, end, _segment, i) => {
      if (gaps.has(i)) lines.splice(end, 0, '#EXT-X-GAP')
    },
  })
  return `${text}\n`
}

/** 3: decimal EXTINF; 6: EXT-X-MAP outside I-frame playlists (RFC 8216 §7), enough for LL-HLS too; 8: EXT-X-GAP (RFC 8216bis). */
function protocolVersion(hasGap: boolean, needs6: boolean): number {
  if (hasGap) return 8
  return needs6 ? 6 : 3
}

function checkSegments(segments: readonly HlsSegmentInput[]): void {
  segments.forEach((s, i) => {
    const previous = segments[i - 1]
    if (!Number.isSafeInteger(s.number) || s.number < 0) {
      throw new MqaError(ErrorCode.VALUE_RANGE, `HLS playlist: segment number ${s.number} is not a non-negative integer`)
    }
    if (previous !== undefined && s.number <= previous.number) {
      throw new MqaError(ErrorCode.VALUE_RANGE, `HLS playlist: segment ${s.number} follows segment ${previous.number}; numbers must increase`)
    }
    if (!(s.durationMs > 0)) throw new MqaError(ErrorCode.VALUE_RANGE, `HLS playlist: segment ${s.number} has duration ${s.durationMs} ms`)
  })
}

/** Placeholders for the numbers missing between `a` and `b`, sharing the wall-clock time between them. */
function gapSegments(a: HlsSegmentInput, b: HlsSegmentInput): Omit<HlsSegmentInput, 'uri' | 'discontinuity'>[] {
  const missing = b.number - a.number - 1
  const startMs = a.programDateTimeMs + a.durationMs
  const spanMs = b.programDateTimeMs - startMs
  // The grid makes every segment equally long; fall back to the previous one's length when the dates disagree.
  const eachMs = spanMs > 0 ? spanMs / missing : a.durationMs
  return Array.from({ length: missing }, (_, k) => ({
    number: a.number + 1 + k,
    durationMs: eachMs,
    programDateTimeMs: Math.round(startMs + k * eachMs),
  }))
}

function toSegment(s: Omit<HlsSegmentInput, 'number'>, map: MediaInitializationSection | undefined): Segment {
  return new HLS.types.Segment({
    uri: s.uri,
    duration: msToS(s.durationMs),
    discontinuity: s.discontinuity,
    programDateTime: new Date(Math.round(s.programDateTimeMs)),
    // hls-parser writes EXT-X-MAP again only where the line changes.
    map: s.mapUri === undefined ? map : new HLS.types.MediaInitializationSection({ uri: s.mapUri }),
  })
}

/** Milliseconds → seconds with at most 3 decimals (EXTINF, part DURATION). */
function msToS(ms: number): number {
  return Math.round(ms) / 1000
}

function roundS(s: number): number {
  return Math.round(s * 1000) / 1000
}
