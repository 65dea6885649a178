import HLS from 'hls-parser'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  DASH_PROFILES,
  buildDashMpd,
  buildHlsMediaPlaylist,
  dashAvailabilityStartTimeMs,
  escapeXmlAttribute,
  nextDiscontinuitySequence,
  xsDuration,
  type DashMpdOptions,
  type HlsSegmentInput,
} from '../src/playlist/index.js'

const T0 = Date.parse('2024-05-01T12:00:00.000Z')

/** Parse as hls.js would meet it, but strict: anything hls-parser finds invalid throws. */
function parseMedia(text: string): InstanceType<typeof HLS.types.MediaPlaylist> {
  const playlist = HLS.parse(text)
  if (playlist.isMasterPlaylist) throw new Error('expected a media playlist')
  return playlist as InstanceType<typeof HLS.types.MediaPlaylist>
}

beforeAll(() => HLS.setOptions({ strictMode: true }))
afterAll(() => HLS.setOptions({ strictMode: false }))

function tsSegment(n: number, i: number, durationMs = 2000, discontinuity = false): HlsSegmentInput {
  return { number: n, durationMs, uri: `${n}.ts`, programDateTimeMs: T0 + i * durationMs, discontinuity }
}

describe('buildHlsMediaPlaylist', () => {
  it('writes a 3-segment MPEG-TS live window (golden)', () => {
    const text = buildHlsMediaPlaylist({ segments: [100, 101, 102].map((n, i) => tsSegment(n, i)), discontinuitySequence: 0, targetDurationS: 2 })
    expect(text).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:3',
        '#EXT-X-TARGETDURATION:2',
        '#EXT-X-MEDIA-SEQUENCE:100',
        '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z',
        '#EXTINF:2,',
        '100.ts',
        '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:02.000Z',
        '#EXTINF:2,',
        '101.ts',
        '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:04.000Z',
        '#EXTINF:2,',
        '102.ts',
        '',
      ].join('\n'),
    )
    const p = parseMedia(text)
    expect(p.mediaSequenceBase).toBe(100)
    expect(p.endlist).toBe(false)
    expect(p.segments.map((s) => [s.mediaSequenceNumber, s.uri, s.duration, s.programDateTime?.getTime()])).toEqual([
      [100, '100.ts', 2, T0],
      [101, '101.ts', 2, T0 + 2000],
      [102, '102.ts', 2, T0 + 4000],
    ])
  })

  it('writes an fMP4 window with EXT-X-MAP and a discontinuity (golden, 29.97 fps)', () => {
    const segments = [540, 541, 542].map((n, i) => ({
      number: n,
      durationMs: 2002,
      uri: `../cmaf/${n}.m4s`,
      programDateTimeMs: T0 + i * 2002,
      discontinuity: n === 542,
    }))
    const text = buildHlsMediaPlaylist({ segments, discontinuitySequence: 4, targetDurationS: 2, map: { uri: '../cmaf/init.mp4' }, independentSegments: true })
    expect(text).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:6',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-TARGETDURATION:2',
        '#EXT-X-MEDIA-SEQUENCE:540',
        '#EXT-X-DISCONTINUITY-SEQUENCE:4',
        '#EXT-X-MAP:URI="../cmaf/init.mp4"',
        '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z',
        '#EXTINF:2.002,',
        '../cmaf/540.m4s',
        '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:02.002Z',
        '#EXTINF:2.002,',
        '../cmaf/541.m4s',
        '#EXT-X-DISCONTINUITY',
        '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:04.004Z',
        '#EXTINF:2.002,',
        '../cmaf/542.m4s',
        '',
      ].join('\n'),
    )
    const p = parseMedia(text)
    expect(p.version).toBe(6)
    expect(p.mediaSequenceBase).toBe(540)
    expect(p.discontinuitySequenceBase).toBe(4)
    expect(p.segments.map((s) => s.duration)).toEqual([2.002, 2.002, 2.002])
    expect(p.segments.map((s) => s.programDateTime?.toISOString())).toEqual([
      '2024-05-01T12:00:00.000Z',
      '2024-05-01T12:00:02.002Z',
      '2024-05-01T12:00:04.004Z',
    ])
    expect(p.segments.map((s) => s.discontinuity ?? false)).toEqual([false, false, true])
    expect(p.segments.map((s) => s.discontinuitySequence)).toEqual([4, 4, 5])
    expect(p.segments.every((s) => s.map.uri === '../cmaf/init.mp4')).toBe(true)
  })

  it('rounds EXT-X-TARGETDURATION to the nearest second and keeps the given lower bound', () => {
    const target = (durationMs: number, targetDurationS?: number): number =>
      parseMedia(buildHlsMediaPlaylist({ segments: [tsSegment(0, 0, durationMs)], discontinuitySequence: 0, targetDurationS })).targetDuration
    expect(target(2002)).toBe(2)
    expect(target(2600)).toBe(3)
    expect(target(1500, 2)).toBe(2)
    expect(target(400)).toBe(1)
  })

  it('adds EXT-X-ENDLIST only when ended', () => {
    const segments = [tsSegment(7, 0)]
    expect(buildHlsMediaPlaylist({ segments, discontinuitySequence: 0 })).not.toContain('#EXT-X-ENDLIST')
    const text = buildHlsMediaPlaylist({ segments, discontinuitySequence: 0, ended: true })
    expect(text.endsWith('7.ts\n#EXT-X-ENDLIST\n')).toBe(true)
    expect(parseMedia(text).endlist).toBe(true)
  })

  it('slides the window: the media sequence follows the first number; segments keep their discontinuity sequence', () => {
    // Segments 0..9; 4 and 7 start discontinuities; a window of 3.
    const all = Array.from({ length: 10 }, (_, n) => tsSegment(n, n, 2000, n === 4 || n === 7))
    const windowSize = 3
    let discontinuitySequence = 0
    const sequenceOf = new Map<number, number>()
    const headers: number[] = []
    for (let first = 0; first + windowSize <= all.length; first++) {
      if (first > 0) discontinuitySequence = nextDiscontinuitySequence(discontinuitySequence, all.slice(first - 1, first))
      const p = parseMedia(buildHlsMediaPlaylist({ segments: all.slice(first, first + windowSize), discontinuitySequence, targetDurationS: 2 }))
      expect(p.mediaSequenceBase).toBe(first)
      expect(p.segments.map((s) => s.mediaSequenceNumber)).toEqual([first, first + 1, first + 2])
      expect(p.segments.map((s) => s.uri)).toEqual([`${first}.ts`, `${first + 1}.ts`, `${first + 2}.ts`])
      headers.push(p.discontinuitySequenceBase ?? 0)
      for (const s of p.segments) {
        // RFC 8216 §6.2.2: a segment's discontinuity sequence number never changes while it is listed.
        const n = s.mediaSequenceNumber
        if (sequenceOf.has(n)) expect(s.discontinuitySequence).toBe(sequenceOf.get(n))
        sequenceOf.set(n, s.discontinuitySequence)
      }
    }
    // EXT-X-DISCONTINUITY-SEQUENCE goes up once segment 4 (window starting at 5), then 7 (at 8), has left.
    expect(headers).toEqual([0, 0, 0, 0, 0, 1, 1, 1])
    expect([...sequenceOf.entries()]).toEqual([
      [0, 0], [1, 0], [2, 0], [3, 0], [4, 1], [5, 1], [6, 1], [7, 2], [8, 2], [9, 2],
    ])
  })

  it('keeps EXT-X-DISCONTINUITY on the first segment while it is in the window', () => {
    const text = buildHlsMediaPlaylist({ segments: [tsSegment(4, 0, 2000, true), tsSegment(5, 1)], discontinuitySequence: 0 })
    expect(text).toContain('#EXT-X-MEDIA-SEQUENCE:4\n#EXT-X-DISCONTINUITY\n')
    expect(parseMedia(text).segments.map((s) => s.discontinuitySequence)).toEqual([1, 1])
  })

  it('fills missing numbers with EXT-X-GAP so that position and number keep agreeing', () => {
    const segments = [tsSegment(10, 0), tsSegment(11, 1), { ...tsSegment(14, 4), discontinuity: true }]
    const text = buildHlsMediaPlaylist({ segments, discontinuitySequence: 0, targetDurationS: 2, gapUri: (n) => `${n}.ts` })
    expect(text).toContain(['#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:04.000Z', '#EXTINF:2,', '#EXT-X-GAP', '12.ts'].join('\n'))
    const p = parseMedia(text)
    expect(p.version).toBe(8)
    expect(p.segments.map((s) => [s.mediaSequenceNumber, s.uri, s.gap ?? false, s.duration])).toEqual([
      [10, '10.ts', false, 2],
      [11, '11.ts', false, 2],
      [12, '12.ts', true, 2],
      [13, '13.ts', true, 2],
      [14, '14.ts', false, 2],
    ])
    expect(p.segments.map((s) => s.programDateTime?.getTime())).toEqual([0, 1, 2, 3, 4].map((i) => T0 + i * 2000))
  })

  it('starts after a hole longer than the window, keeping discontinuity sequence numbers', () => {
    // Segment 101 started a discontinuity; then the input was lost for 7 segments.
    const window = [tsSegment(100, 0), tsSegment(101, 1, 2000, true), tsSegment(102, 2), tsSegment(110, 10, 2000, true)]
    const p = parseMedia(buildHlsMediaPlaylist({ segments: window, discontinuitySequence: 3, targetDurationS: 2 }))
    expect(p.segments.map((s) => [s.mediaSequenceNumber, s.uri, s.discontinuitySequence])).toEqual([[110, '110.ts', 5]])
    expect(p.discontinuitySequenceBase).toBe(4)
    // The same segment once the caller's window has slid past 100..102: the same numbers.
    const later = parseMedia(buildHlsMediaPlaylist({ segments: [window[3]!, tsSegment(111, 11)], discontinuitySequence: nextDiscontinuitySequence(3, window.slice(0, 3)), targetDurationS: 2 }))
    expect(later.segments.map((s) => [s.mediaSequenceNumber, s.discontinuitySequence])).toEqual([[110, 5], [111, 5]])
    // A hole within the limit is filled instead.
    const filled = parseMedia(buildHlsMediaPlaylist({ segments: window, discontinuitySequence: 3, maxGapSegments: 7 }))
    expect(filled.segments.map((s) => s.mediaSequenceNumber)).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110])
  })

  it('writes LL-HLS parts, server control and a preload hint (golden)', () => {
    const part = (uri: string, independent = false) => ({ uri, durationMs: 500, independent })
    const segments = [20, 21, 22, 23].map((n, i) => ({ number: n, durationMs: 2000, uri: `../cmaf/${n}.m4s`, programDateTimeMs: T0 + i * 2000, discontinuity: false }))
    const text = buildHlsMediaPlaylist({
      segments,
      discontinuitySequence: 0,
      targetDurationS: 2,
      map: { uri: '../cmaf/init.mp4' },
      lowLatency: {
        partTargetS: 0.5,
        canBlockReload: true,
        // 21's parts are older than the last three segments and are left out.
        parts: [[], [part('21.0.m4s', true)], [part('22.0.m4s', true), part('22.1.m4s'), part('22.2.m4s'), part('22.3.m4s')], [part('23.0.m4s', true), part('23.1.m4s'), part('23.2.m4s'), part('23.3.m4s')], [part('24.0.m4s', true)]],
        preloadHint: '24.1.m4s',
      },
    })
    expect(text).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:6',
        '#EXT-X-TARGETDURATION:2',
        '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5',
        '#EXT-X-PART-INF:PART-TARGET=0.5',
        '#EXT-X-MEDIA-SEQUENCE:20',
        '#EXT-X-MAP:URI="../cmaf/init.mp4"',
        '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z',
        '#EXTINF:2,',
        '../cmaf/20.m4s',
        '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:02.000Z',
        '#EXTINF:2,',
        '../cmaf/21.m4s',
        '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:04.000Z',
        '#EXT-X-PART:DURATION=0.5,URI="22.0.m4s",INDEPENDENT=YES',
        '#EXT-X-PART:DURATION=0.5,URI="22.1.m4s"',
        '#EXT-X-PART:DURATION=0.5,URI="22.2.m4s"',
        '#EXT-X-PART:DURATION=0.5,URI="22.3.m4s"',
        '#EXTINF:2,',
        '../cmaf/22.m4s',
        '#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:06.000Z',
        '#EXT-X-PART:DURATION=0.5,URI="23.0.m4s",INDEPENDENT=YES',
        '#EXT-X-PART:DURATION=0.5,URI="23.1.m4s"',
        '#EXT-X-PART:DURATION=0.5,URI="23.2.m4s"',
        '#EXT-X-PART:DURATION=0.5,URI="23.3.m4s"',
        '#EXTINF:2,',
        '../cmaf/23.m4s',
        '#EXT-X-PART:DURATION=0.5,URI="24.0.m4s",INDEPENDENT=YES',
        '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="24.1.m4s"',
        '',
      ].join('\n'),
    )
    const p = parseMedia(text)
    expect(p.partTargetDuration).toBe(0.5)
    expect(p.lowLatencyCompatibility?.canBlockReload).toBe(true)
    expect(p.lowLatencyCompatibility?.partHoldBack).toBe(1.5)
    // The segment being cut is listed last, with its parts and the hint, no URI of its own.
    const last = p.segments.at(-1)
    expect(last?.parts.map((x) => [x.uri, x.hint, x.independent ?? false])).toEqual([
      ['24.0.m4s', false, true],
      ['24.1.m4s', true, false],
    ])
    expect(p.segments.map((s) => s.parts.length)).toEqual([0, 0, 4, 4, 2])
  })

  it('drops parts and the preload hint once the stream has ended', () => {
    const text = buildHlsMediaPlaylist({
      segments: [tsSegment(1, 0)],
      discontinuitySequence: 0,
      ended: true,
      lowLatency: { partTargetS: 1, canBlockReload: true, parts: [[{ uri: '1.0.ts', durationMs: 1000, independent: true }], [{ uri: '2.0.ts', durationMs: 1000, independent: true }]], preloadHint: '2.1.ts' },
    })
    expect(text).not.toContain('EXT-X-PART:')
    expect(text).not.toContain('PRELOAD-HINT')
    expect(parseMedia(text).endlist).toBe(true)
  })

  it('refuses numbers that do not increase, and an empty window without a target duration', () => {
    expect(() => buildHlsMediaPlaylist({ segments: [tsSegment(5, 0), tsSegment(5, 1)], discontinuitySequence: 0 })).toThrow(/must increase/)
    expect(() => buildHlsMediaPlaylist({ segments: [], discontinuitySequence: 0 })).toThrow(/targetDurationS/)
    expect(parseMedia(buildHlsMediaPlaylist({ segments: [], discontinuitySequence: 0, targetDurationS: 2 })).segments).toEqual([])
  })
})

// ---------------------------------------------------------------------------------------------
// DASH

interface XmlElement {
  readonly name: string
  readonly attrs: Readonly<Record<string, string>>
  readonly children: XmlElement[]
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

function decodeEntities(text: string): string {
  return text.replace(/&(#\d+|#x[0-9a-fA-F]+|[a-z]+);/g, (_, e: string) =>
    e.startsWith('#x') ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith('#') ? String.fromCodePoint(parseInt(e.slice(1), 10)) : (XML_ENTITIES[e] ?? ''),
  )
}

/**
 * A minimal XML well-formedness check and element reader, enough for the MPD (no comments,
 * CDATA or DOCTYPE): one root, tags balanced, attributes double-quoted and unique, no raw `<`
 * or stray `&` in attribute values or text. Throws on anything else.
 */
function parseXml(text: string): XmlElement {
  const declaration = /^<\?xml version="1\.0" encoding="UTF-8"\?>\n/
  if (!declaration.test(text)) throw new Error('no XML declaration')
  const tag = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_:][\w.:-]*="[^"<]*")*)\s*(\/?)>/y
  const attr = /\s+([A-Za-z_:][\w.:-]*)="([^"<]*)"/g
  const strayAmpersand = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/
  const stack: XmlElement[] = []
  let root: XmlElement | undefined
  let at = text.match(declaration)![0].length
  while (at < text.length) {
    const next = text.indexOf('<', at)
    const between = text.slice(at, next === -1 ? text.length : next)
    if (between.trim() !== '' && (stack.length === 0 || strayAmpersand.test(between) || between.includes('>'))) throw new Error(`bad text at ${at}: ${between}`)
    if (next === -1) break
    tag.lastIndex = next
    const m = tag.exec(text)
    if (!m) throw new Error(`bad tag at ${next}: ${text.slice(next, next + 40)}`)
    const [, close, name, attrText, selfClose] = m
    at = tag.lastIndex
    if (close) {
      if (attrText || selfClose) throw new Error(`bad end tag ${name}`)
      const open = stack.pop()
      if (open?.name !== name) throw new Error(`</${name}> closes <${open?.name}>`)
      continue
    }
    const attrs: Record<string, string> = {}
    for (const [, key, value] of attrText!.matchAll(attr)) {
      if (key! in attrs) throw new Error(`duplicate attribute ${key} on ${name}`)
      if (strayAmpersand.test(value!)) throw new Error(`unescaped & in ${key}="${value}"`)
      attrs[key!] = decodeEntities(value!)
    }
    const element: XmlElement = { name: name!, attrs, children: [] }
    const parent = stack.at(-1)
    if (parent) parent.children.push(element)
    else if (root) throw new Error('more than one root element')
    else root = element
    if (!selfClose) stack.push(element)
  }
  if (stack.length > 0) throw new Error(`<${stack.at(-1)!.name}> not closed`)
  if (!root) throw new Error('no root element')
  return root
}

function child(e: XmlElement | undefined, name: string, index = 0): XmlElement {
  const found = e?.children.filter((c) => c.name === name)[index]
  if (!found) throw new Error(`no <${name}> #${index} in <${e?.name}>`)
  return found
}

/** xs:duration of the forms the writer uses (PT…S) → ms. */
function durationMs(value: string | undefined): number {
  const m = /^PT(\d+(?:\.\d+)?)S$/.exec(value ?? '')
  if (!m) throw new Error(`unexpected duration ${value}`)
  return Math.round(Number(m[1]) * 1000)
}

/**
 * dash.js's number-based live maths, from the MPD as written: the latest segment available at
 * wall-clock `nowMs` is startNumber + floor((now − AST − Period@start) / D) − 1 (a segment is
 * available once it has ended).
 */
function latestAvailableNumber(mpd: XmlElement, nowMs: number): number {
  const period = child(mpd, 'Period')
  const template = child(child(period, 'AdaptationSet'), 'SegmentTemplate')
  const ast = Date.parse(mpd.attrs.availabilityStartTime!)
  const periodStartMs = durationMs(period.attrs.start)
  const segmentMs = (Number(template.attrs.duration) * 1000) / Number(template.attrs.timescale)
  return Number(template.attrs.startNumber) + Math.floor((nowMs - ast - periodStartMs) / segmentMs) - 1
}

/** Media time (in the template's timescale) at which the segment numbered `n` starts, as DASH maps it. */
function mediaStartTicks(mpd: XmlElement, n: number): number {
  const template = child(child(child(mpd, 'Period'), 'AdaptationSet'), 'SegmentTemplate')
  return Number(template.attrs.presentationTimeOffset) + (n - Number(template.attrs.startNumber)) * Number(template.attrs.duration)
}

const video = { codecs: 'avc1.64001f', width: 1280, height: 720, frameRate: { num: 30000, den: 1001 }, bandwidthBps: 3_000_000 }
const audio = { codecs: 'mp4a.40.2', sampleRate: 48_000, channels: 2, bandwidthBps: 128_000, initialization: '../cmaf/audio/init.mp4', media: '../cmaf/audio/$Number$.m4s' }

function mpdOptions(overrides: Partial<DashMpdOptions> = {}): DashMpdOptions {
  return {
    startNumber: 540,
    startTicks: 900_000,
    startAvailableAtMs: T0,
    segmentDurationTicks: 180_180,
    publishTimeMs: T0 + 5000,
    windowSegments: 6,
    utcTimingUrl: '/api/time',
    video,
    audio,
    ...overrides,
  }
}

describe('buildDashMpd', () => {
  it('writes a dynamic MPD with video and audio (golden)', () => {
    const text = buildDashMpd(mpdOptions())
    expect(text).toBe(
      [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019" type="dynamic" availabilityStartTime="2024-05-01T11:59:57.998Z" publishTime="2024-05-01T12:00:05.000Z" minimumUpdatePeriod="PT2.002S" timeShiftBufferDepth="PT12.012S" suggestedPresentationDelay="PT6.006S" maxSegmentDuration="PT2.002S" minBufferTime="PT2.002S">',
        '  <Period id="0" start="PT0S">',
        '    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" codecs="avc1.64001f" width="1280" height="720" frameRate="30000/1001" segmentAlignment="true" startWithSAP="1">',
        '      <SegmentTemplate timescale="90000" duration="180180" startNumber="540" presentationTimeOffset="900000" initialization="../cmaf/init.mp4" media="../cmaf/$Number$.m4s"/>',
        '      <Representation id="video" bandwidth="3000000"/>',
        '    </AdaptationSet>',
        '    <AdaptationSet id="1" contentType="audio" mimeType="audio/mp4" codecs="mp4a.40.2" lang="und" audioSamplingRate="48000" segmentAlignment="true" startWithSAP="1">',
        '      <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2"/>',
        '      <SegmentTemplate timescale="90000" duration="180180" startNumber="540" presentationTimeOffset="900000" initialization="../cmaf/audio/init.mp4" media="../cmaf/audio/$Number$.m4s"/>',
        '      <Representation id="audio" bandwidth="128000"/>',
        '    </AdaptationSet>',
        '  </Period>',
        '  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="/api/time"/>',
        '</MPD>',
        '',
      ].join('\n'),
    )
    const mpd = parseXml(text)
    expect(mpd.name).toBe('MPD')
    expect(mpd.attrs.profiles).toBe(DASH_PROFILES)
    expect(child(mpd, 'Period').children.map((c) => c.attrs.contentType)).toEqual(['video', 'audio'])
    expect(child(mpd, 'UTCTiming').attrs.value).toBe('/api/time')
  })

  it('leaves out the audio AdaptationSet when there is no audio', () => {
    const mpd = parseXml(buildDashMpd(mpdOptions({ audio: undefined })))
    expect(child(mpd, 'Period').children.map((c) => c.name)).toEqual(['AdaptationSet'])
    expect(child(child(mpd, 'Period'), 'AdaptationSet').attrs.frameRate).toBe('30000/1001')
  })

  it('resolves its relative URLs from /dash/manifest.mpd to /cmaf/', () => {
    const base = 'http://packager.test/dash/manifest.mpd'
    const template = child(child(child(parseXml(buildDashMpd(mpdOptions())), 'Period'), 'AdaptationSet'), 'SegmentTemplate')
    expect(new URL(template.attrs.initialization!, base).pathname).toBe('/cmaf/init.mp4')
    expect(new URL(template.attrs.media!.replace('$Number$', '541'), base).pathname).toBe('/cmaf/541.m4s')
  })

  it('escapes attribute values', () => {
    const text = buildDashMpd(mpdOptions({ utcTimingUrl: 'http://a.test/time?x=1&y="2"<' }))
    expect(text).toContain('value="http://a.test/time?x=1&amp;y=&quot;2&quot;&lt;"')
    expect(child(parseXml(text), 'UTCTiming').attrs.value).toBe('http://a.test/time?x=1&y="2"<')
    expect(escapeXmlAttribute(`a'b\nc`)).toBe('a&apos;b&#10;c')
  })

  it('ends: a mediaPresentationDuration and no minimumUpdatePeriod', () => {
    const mpd = parseXml(buildDashMpd(mpdOptions({ endNumber: 549 })))
    expect(mpd.attrs.minimumUpdatePeriod).toBeUndefined()
    expect(mpd.attrs.mediaPresentationDuration).toBe('PT20.02S')
    expect(mpd.attrs.type).toBe('dynamic')
  })

  it('formats xs:duration with at most 3 decimals', () => {
    expect([xsDuration(0), xsDuration(2000), xsDuration(2002), xsDuration(1501.5), xsDuration(120_000)]).toEqual(['PT0S', 'PT2S', 'PT2.002S', 'PT1.502S', 'PT120S'])
  })

  it.each([
    { label: '2 s at 25 fps', segmentDurationTicks: 180_000, startNumber: 21_600, startAvailableAtMs: T0 + 1234 },
    { label: '60 frames at 29.97 fps', segmentDurationTicks: 180_180, startNumber: 540, startAvailableAtMs: T0 },
    { label: '45 frames at 29.97 fps (1501.5 ms)', segmentDurationTicks: 135_135, startNumber: 7, startAvailableAtMs: T0 + 17 },
  ])('maps number n to the segment published for it: $label', ({ segmentDurationTicks, startNumber, startAvailableAtMs }) => {
    const startTicks = 123_456_789
    const mpd = parseXml(buildDashMpd(mpdOptions({ segmentDurationTicks, startNumber, startAvailableAtMs, startTicks })))
    const segmentMs = segmentDurationTicks / 90
    expect(Date.parse(mpd.attrs.availabilityStartTime!)).toBe(dashAvailabilityStartTimeMs({ startAvailableAtMs, segmentDurationTicks }))
    // The packager publishes segment n at startAvailableAtMs + (n − startNumber)·D; its PTS is startTicks + (n − startNumber)·D.
    for (let k = 0; k < 500; k++) {
      const n = startNumber + k
      const publishedAtMs = startAvailableAtMs + k * segmentMs
      // 1 ms after it was published the client asks for it, and not a moment before it was published.
      expect(latestAvailableNumber(mpd, Math.ceil(publishedAtMs) + 1)).toBe(n)
      expect(latestAvailableNumber(mpd, publishedAtMs - 1)).toBe(n - 1)
      // Midway to the next one it is still the latest.
      expect(latestAvailableNumber(mpd, publishedAtMs + segmentMs / 2)).toBe(n)
      expect(mediaStartTicks(mpd, n)).toBe(startTicks + k * segmentDurationTicks)
    }
    // The window reaches back windowSegments · D.
    expect(durationMs(mpd.attrs.timeShiftBufferDepth)).toBe(Math.round(6 * segmentMs))
  })

  it('with whole-ms D, a segment is available from the very ms it was published', () => {
    const mpd = parseXml(buildDashMpd(mpdOptions({ segmentDurationTicks: 180_180, startNumber: 100, startAvailableAtMs: T0 })))
    expect(latestAvailableNumber(mpd, T0)).toBe(100)
    expect(latestAvailableNumber(mpd, T0 + 2002 * 3)).toBe(103)
    expect(latestAvailableNumber(mpd, T0 + 2002 * 3 - 1)).toBe(102)
  })

  it('refuses a D, start number or PTS that is not a non-negative integer', () => {
    expect(() => buildDashMpd(mpdOptions({ segmentDurationTicks: 1501.5 }))).toThrow(/segmentDurationTicks/)
    expect(() => buildDashMpd(mpdOptions({ startNumber: -1 }))).toThrow(/startNumber/)
    expect(() => buildDashMpd(mpdOptions({ startTicks: 0.5 }))).toThrow(/startTicks/)
  })

  it('the minimal XML check rejects what is not well-formed', () => {
    const head = '<?xml version="1.0" encoding="UTF-8"?>\n'
    expect(() => parseXml(`${head}<a><b></a></b>`)).toThrow()
    expect(() => parseXml(`${head}<a x="1" x="2"/>`)).toThrow(/duplicate/)
    expect(() => parseXml(`${head}<a x="&"/>`)).toThrow(/unescaped/)
    expect(() => parseXml(`${head}<a/><b/>`)).toThrow(/root/)
    expect(() => parseXml(`${head}<a x='1'/>`)).toThrow()
    expect(() => parseXml(`${head}<a>`)).toThrow(/not closed/)
    expect(parseXml(`${head}<a x="&amp;&#10;"><b/></a>\n`).attrs.x).toBe('&\n')
  })
})
