import { ErrorCode, MqaError } from '@mqa/common'

/**
 * The live DASH manifest (ISO/IEC 23009-1, DASH-IF IOP): one dynamic MPD, a Period per stretch of
 * continuous timestamps (one, until a discontinuity), a video
 * AdaptationSet and an audio one when there is audio, each with a number-based SegmentTemplate
 * (`$Number$`, constant `duration`). Pure: every time is passed in.
 *
 * Numbering and timing. Segment n holds frames [n·D, (n+1)·D) of the shared clock
 * (WIRE-FORMAT.md §4) and `$Number$` is n. With a SegmentTemplate@duration, a DASH client
 * (dash.js) takes the segment numbered startNumber + i to
 *   - start at Period time i·D, i.e. at media time presentationTimeOffset + i·D, and
 *   - be available from AST + PeriodStart + (i + 1)·D (its end), so the latest available one at
 *     wall-clock `now` is  startNumber + floor((now − AST − PeriodStart) / D) − 1.
 * The packager publishes segment `startNumber` (the first one it ever publishes) at
 * `startAvailableAtMs`, and segment n, D later per number: at startAvailableAtMs + (n − startNumber)·D.
 * Both agree for every n when
 *   startNumber            = the first published n
 *   Period@start           = PT0S
 *   AST                    = startAvailableAtMs − D                     (dashAvailabilityStartTimeMs)
 *   presentationTimeOffset = that segment's first PTS (`startTicks`)
 * since then AST + (n − startNumber + 1)·D = startAvailableAtMs + (n − startNumber)·D, and media
 * time PTO + (n − startNumber)·D is segment n's own PTS (the CMAF writer keeps the MPEG-TS PTS,
 * and segments on the grid are D apart). AST is rounded up to the ms: a client may then see a
 * segment up to 1 ms late, never early.
 * This holds while timestamps stay continuous: after a discontinuity (encoder restart, PTS jump,
 * a short last segment of the day) the mapping needs a new Period: pass `periods`, each with its
 * own startNumber and presentationTimeOffset and a Period@start after AST (which stays the first
 * anchor's, so it never changes across MPD updates). Period k+1 starts where its first segment
 * becomes available (availableAt − D − AST), never before Period k's last segment ends.
 */

/** One Period of a multi-Period MPD (after discontinuities), oldest first. */
export interface DashPeriod {
  readonly id: string
  /** SegmentTemplate@startNumber: this Period's first segment number. */
  readonly startNumber: number
  /** @presentationTimeOffset: that segment's first PTS, in `timescale` units. */
  readonly startTicks: number
  /** Period@start in ms after availabilityStartTime. */
  readonly startMs: number
  /** Period@duration, for every Period but the last (up to the next one's start). */
  readonly durationMs?: number | undefined
}

export interface DashVideoOptions {
  /** RFC 6381, e.g. avc1.64001f or hvc1.1.6.L93.B0. */
  readonly codecs: string
  readonly width: number
  readonly height: number
  readonly frameRate: { readonly num: number; readonly den: number }
  /** Representation@bandwidth (required by DASH): peak bits per second. */
  readonly bandwidthBps: number
  /** SegmentTemplate@initialization relative to the MPD (default `../cmaf/init.mp4`: /dash/manifest.mpd → /cmaf/init.mp4). */
  readonly initialization?: string | undefined
  /** SegmentTemplate@media with `$Number$` (default `../cmaf/$Number$.m4s`). */
  readonly media?: string | undefined
}

export interface DashAudioOptions {
  /** RFC 6381, e.g. mp4a.40.2. */
  readonly codecs: string
  readonly sampleRate: number
  readonly channels: number
  readonly bandwidthBps: number
  /**
   * Audio-only init segment and media template, relative to the MPD. DASH clients (dash.js)
   * refuse multiplexed representations, so audio needs segments of its own.
   */
  readonly initialization: string
  readonly media: string
  /** AdaptationSet@lang (BCP 47), default `und`. */
  readonly lang?: string | undefined
}

export interface DashTimingOptions {
  /** The first segment number ever published: SegmentTemplate@startNumber. */
  readonly startNumber: number
  /** Presentation time of that segment's first frame in `timescale` units (its PTS): @presentationTimeOffset. */
  readonly startTicks: number
  /** Wall-clock ms (epoch) at which that segment became available. */
  readonly startAvailableAtMs: number
  /** D in `timescale` units (2 s at 90 kHz: 180000; 60 frames at 29.97 fps: 180180). */
  readonly segmentDurationTicks: number
  /** SegmentTemplate@timescale (default 90000, the MPEG-TS clock the CMAF video track keeps). */
  readonly timescale?: number | undefined
}

export interface DashMpdOptions extends DashTimingOptions {
  /** MPD@publishTime, wall-clock ms. */
  readonly publishTimeMs: number
  /** Segments in the live window: timeShiftBufferDepth = windowSegments · D. */
  readonly windowSegments: number
  /** The packager's time endpoint answering an ISO 8601 date (UTCTiming http-iso), e.g. `/api/time`. */
  readonly utcTimingUrl: string
  readonly video: DashVideoOptions
  readonly audio?: DashAudioOptions | undefined
  /** MPD@minimumUpdatePeriod (default D). */
  readonly minimumUpdatePeriodMs?: number | undefined
  /** MPD@suggestedPresentationDelay (default 3·D). */
  readonly suggestedPresentationDelayMs?: number | undefined
  /** MPD@minBufferTime (default D). */
  readonly minBufferTimeMs?: number | undefined
  /** MPD@maxSegmentDuration (default D). */
  readonly maxSegmentDurationMs?: number | undefined
  /**
   * The input has ended and this is the last segment number: the MPD gets a
   * mediaPresentationDuration and no minimumUpdatePeriod, so clients stop at the end.
   */
  readonly endNumber?: number | undefined
  /**
   * The Periods of the window (after discontinuities), oldest first. Absent: one Period at PT0S
   * from `startNumber`/`startTicks`. AST is always from `startAvailableAtMs`.
   */
  readonly periods?: readonly DashPeriod[] | undefined
}

export const DASH_PROFILES = 'urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019'
export const DASH_UTC_TIMING_HTTP_ISO = 'urn:mpeg:dash:utc:http-iso:2014'
const AUDIO_CHANNEL_SCHEME = 'urn:mpeg:dash:23003:3:audio_channel_configuration:2011'
const DEFAULT_TIMESCALE = 90_000

/** MPD@availabilityStartTime in wall-clock ms: startAvailableAtMs − D, rounded up to the ms (see above). */
export function dashAvailabilityStartTimeMs(timing: Pick<DashTimingOptions, 'startAvailableAtMs' | 'segmentDurationTicks' | 'timescale'>): number {
  const timescale = timing.timescale ?? DEFAULT_TIMESCALE
  return Math.ceil(timing.startAvailableAtMs - (timing.segmentDurationTicks * 1000) / timescale)
}

/** The MPD text (UTF-8 XML, LF line ends, a final LF). */
export function buildDashMpd(options: DashMpdOptions): string {
  const timescale = options.timescale ?? DEFAULT_TIMESCALE
  checkInteger('timescale', timescale, 1)
  checkInteger('segmentDurationTicks', options.segmentDurationTicks, 1)
  checkInteger('startNumber', options.startNumber, 0)
  checkInteger('startTicks', options.startTicks, 0)
  checkInteger('windowSegments', options.windowSegments, 1)
  const segmentMs = (options.segmentDurationTicks * 1000) / timescale
  const periods: readonly DashPeriod[] = options.periods ?? [{ id: '0', startNumber: options.startNumber, startTicks: options.startTicks, startMs: 0 }]
  if (periods.length === 0) throw new MqaError(ErrorCode.VALUE_RANGE, 'DASH MPD: no Period')
  periods.forEach((p, i) => {
    checkInteger('Period startNumber', p.startNumber, 0)
    checkInteger('Period startTicks', p.startTicks, 0)
    const previous = periods[i - 1]
    if (!(p.startMs >= 0) || (previous && (p.startNumber <= previous.startNumber || p.startMs < previous.startMs))) {
      throw new MqaError(ErrorCode.VALUE_RANGE, `DASH MPD: Period ${p.id} (start ${p.startMs} ms, number ${p.startNumber}) does not follow the one before it`)
    }
  })
  const lastPeriod = periods.at(-1)!
  if (options.endNumber !== undefined) checkInteger('endNumber', options.endNumber, lastPeriod.startNumber)

  const mpd: Attrs = [
    ['xmlns', 'urn:mpeg:dash:schema:mpd:2011'],
    ['profiles', DASH_PROFILES],
    ['type', 'dynamic'],
    ['availabilityStartTime', isoDate(dashAvailabilityStartTimeMs(options))],
    ['publishTime', isoDate(options.publishTimeMs)],
  ]
  if (options.endNumber === undefined) {
    mpd.push(['minimumUpdatePeriod', xsDuration(options.minimumUpdatePeriodMs ?? segmentMs)])
  } else {
    mpd.push(['mediaPresentationDuration', xsDuration(lastPeriod.startMs + (options.endNumber - lastPeriod.startNumber + 1) * segmentMs)])
  }
  mpd.push(
    ['timeShiftBufferDepth', xsDuration(options.windowSegments * segmentMs)],
    ['suggestedPresentationDelay', xsDuration(options.suggestedPresentationDelayMs ?? 3 * segmentMs)],
    ['maxSegmentDuration', xsDuration(options.maxSegmentDurationMs ?? segmentMs)],
    ['minBufferTime', xsDuration(options.minBufferTimeMs ?? segmentMs)],
  )

  const template = (period: DashPeriod, initialization: string, media: string): string =>
    element('SegmentTemplate', [
      ['timescale', timescale],
      ['duration', options.segmentDurationTicks],
      ['startNumber', period.startNumber],
      ['presentationTimeOffset', period.startTicks],
      ['initialization', initialization],
      ['media', media],
    ])

  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', open('MPD', mpd)]
  for (const period of periods) lines.push(...periodLines(period, options, template))
  lines.push(
    `  ${element('UTCTiming', [['schemeIdUri', DASH_UTC_TIMING_HTTP_ISO], ['value', options.utcTimingUrl]])}`,
    '</MPD>',
  )
  return `${lines.join('\n')}\n`
}

function periodLines(period: DashPeriod, options: DashMpdOptions, template: (period: DashPeriod, initialization: string, media: string) => string): string[] {
  const attrs: Attrs = [['id', period.id], ['start', xsDuration(period.startMs)]]
  if (period.durationMs !== undefined) attrs.push(['duration', xsDuration(period.durationMs)])
  const v = options.video
  const lines = [
    `  ${open('Period', attrs)}`,
    `    ${open('AdaptationSet', [
      ['id', 0],
      ['contentType', 'video'],
      ['mimeType', 'video/mp4'],
      ['codecs', v.codecs],
      ['width', v.width],
      ['height', v.height],
      ['frameRate', frameRateAttr(v.frameRate)],
      ['segmentAlignment', 'true'],
      ['startWithSAP', 1],
    ])}`,
    `      ${template(period, v.initialization ?? '../cmaf/init.mp4', v.media ?? '../cmaf/$Number$.m4s')}`,
    `      ${element('Representation', [['id', 'video'], ['bandwidth', v.bandwidthBps]])}`,
    '    </AdaptationSet>',
  ]
  const a = options.audio
  if (a) {
    lines.push(
      `    ${open('AdaptationSet', [
        ['id', 1],
        ['contentType', 'audio'],
        ['mimeType', 'audio/mp4'],
        ['codecs', a.codecs],
        ['lang', a.lang ?? 'und'],
        ['audioSamplingRate', a.sampleRate],
        ['segmentAlignment', 'true'],
        ['startWithSAP', 1],
      ])}`,
      `      ${element('AudioChannelConfiguration', [['schemeIdUri', AUDIO_CHANNEL_SCHEME], ['value', a.channels]])}`,
      `      ${template(period, a.initialization, a.media)}`,
      `      ${element('Representation', [['id', 'audio'], ['bandwidth', a.bandwidthBps]])}`,
      '    </AdaptationSet>',
    )
  }
  lines.push('  </Period>')
  return lines
}

type Attrs = [name: string, value: string | number][]

/** An XML attribute value, escaped for a double-quoted attribute. */
export function escapeXmlAttribute(value: string): string {
  return value.replace(/[&<>"']/g, (c) => XML_ESCAPES[c] ?? c).replace(/[\t\n\r]/g, (c) => `&#${c.charCodeAt(0)};`)
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }

function attributes(attrs: Attrs): string {
  return attrs.map(([name, value]) => ` ${name}="${escapeXmlAttribute(String(value))}"`).join('')
}

function open(name: string, attrs: Attrs): string {
  return `<${name}${attributes(attrs)}>`
}

function element(name: string, attrs: Attrs): string {
  return `<${name}${attributes(attrs)}/>`
}

/** xs:dateTime in UTC with milliseconds. */
function isoDate(ms: number): string {
  return new Date(ms).toISOString()
}

/** xs:duration in seconds, at most 3 decimals: PT2S, PT2.002S, PT12.012S. */
export function xsDuration(ms: number): string {
  const thousandths = Math.round(ms)
  const whole = Math.floor(thousandths / 1000)
  const frac = String(thousandths % 1000).padStart(3, '0').replace(/0+$/, '')
  return `PT${whole}${frac === '' ? '' : `.${frac}`}S`
}

/** @frameRate: `25`, `30000/1001` (reduced). */
function frameRateAttr(rate: { readonly num: number; readonly den: number }): string {
  checkInteger('frameRate.num', rate.num, 1)
  checkInteger('frameRate.den', rate.den, 1)
  const g = gcd(rate.num, rate.den)
  const num = rate.num / g
  const den = rate.den / g
  return den === 1 ? String(num) : `${num}/${den}`
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b)
}

function checkInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new MqaError(ErrorCode.VALUE_RANGE, `DASH MPD: ${name} ${value} is not an integer ≥ ${min}`)
  }
}
