import { ErrorCode, H264NalType, H265NalType, MqaError, VideoCodec, isVclNal, joinLengthPrefixed, splitAnnexB } from '@mqa/common'
import { type AudioTrackInfo, type MediaSample, TIMESCALE_90K, type TrackInfo, type VideoTrackInfo } from '../media.js'
import { AAC_SAMPLES_PER_FRAME } from './adts.js'
import { box, concatBytes, cstring, fourcc, fullBox, i16, u16, u32, u64, u8, zeros } from './boxes.js'
import { buildAvcC, buildEsds, buildHvcC, parseH264Sps, parseH265Sps } from './codec-config.js'

/**
 * Fragmented MP4 for CMAF (ISO/IEC 14496-12, 14496-15, 23000-19): the init segment (ftyp + moov)
 * and media segments / chunks (styp + moof + mdat). Pure: bytes in, bytes out.
 *
 * Parameter sets. OUT_OF_BAND (default): sample entries `avc1` / `hvc1`, VPS/SPS/PPS in the
 * `avcC` / `hvcC` (hvcC array_completeness = 1), and copies of exactly those NAL units are left
 * out of the samples, as `hvc1` requires; Safari, hls.js and dash.js (MSE) all play it. A
 * parameter set in a sample that differs from the init segment's stays in the sample, so a
 * decoder still follows a change, but the track then is not conformant until the packager makes
 * a new init segment. IN_BAND: sample entries `avc3` / `hev1`, parameter sets both in the sample
 * entry and in every sample as the encoder wrote them (for streams whose parameter sets change,
 * e.g. switching between encoders A and B; Chromium and Firefox play it, Safari wants `hvc1`).
 * Access unit delimiters are always dropped; every SEI (ours included) stays in its sample.
 *
 * Times. Video tracks use a 90 kHz timescale, so ticks go through unchanged. Audio tracks use
 * the sample rate; each AAC frame lasts 1024 samples and the first one's decode time is its
 * 90 kHz timestamp converted and rounded. No edit list: presentation time = decode time +
 * composition offset (trun version 1, signed) reproduces the MPEG-TS PTS, so HLS and DASH
 * times stay those of the TS. Timestamps must be unwrapped (no 33-bit wrap inside a segment).
 */

export const ParameterSetCarriage = { OUT_OF_BAND: 'out-of-band', IN_BAND: 'in-band' } as const
export type ParameterSetCarriage = (typeof ParameterSetCarriage)[keyof typeof ParameterSetCarriage]

export type SampleEntryType = 'avc1' | 'avc3' | 'hvc1' | 'hev1' | 'mp4a'

export interface CmafOptions {
  /** Where the decoder finds the parameter sets (default OUT_OF_BAND: avc1/hvc1). */
  readonly parameterSets?: ParameterSetCarriage
}

export interface InitSegmentOptions extends CmafOptions {
  /** track_ID per track (default 1, 2, ...). */
  readonly trackIds?: readonly number[]
}

export function sampleEntryType(track: TrackInfo, carriage: ParameterSetCarriage = ParameterSetCarriage.OUT_OF_BAND): SampleEntryType {
  if (track.kind === 'audio') return 'mp4a'
  const inBand = carriage === ParameterSetCarriage.IN_BAND
  if (track.codec === VideoCodec.H264) return inBand ? 'avc3' : 'avc1'
  return inBand ? 'hev1' : 'hvc1'
}

/** The media timescale of a track: 90 kHz for video, the sample rate for audio. */
export function trackTimescale(track: TrackInfo): number {
  return track.kind === 'video' ? TIMESCALE_90K : track.sampleRate
}

/** 90 kHz ticks → a track's timescale, rounded to the nearest unit. */
export function ticksToTimescale(ticks: number, timescale: number): number {
  return timescale === TIMESCALE_90K ? ticks : Math.round((ticks * timescale) / TIMESCALE_90K)
}

const UNITY_MATRIX = u32(0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000)
/** ISO 639-2/T 'und', packed as three 5-bit letters. */
const LANGUAGE_UND = 0x55c4

function fixed16(value: number): number {
  return Math.round(value * 0x1_0000)
}

function ftyp(tracks: readonly TrackInfo[]): Uint8Array {
  const brands = tracks.length === 1 ? ['iso6', 'cmfc', 'dash', 'mp41'] : ['iso6', 'dash', 'mp41']
  return box('ftyp', fourcc('iso6'), u32(0), ...brands.map(fourcc))
}

function visualSampleEntry(track: VideoTrackInfo, carriage: ParameterSetCarriage): Uint8Array {
  const type = sampleEntryType(track, carriage)
  const inBand = carriage === ParameterSetCarriage.IN_BAND
  let config: Uint8Array
  let sar: [number, number]
  let colour: { primaries: number; transfer: number; matrix: number; fullRange: boolean } | undefined
  if (track.codec === VideoCodec.H264) {
    const sps = parseH264Sps(track.sps)
    config = buildAvcC({ sps: [track.sps], pps: [track.pps] })
    sar = [sps.sarWidth, sps.sarHeight]
    colour = sps.colour
  } else {
    if (!track.vps) throw new MqaError(ErrorCode.VALUE_RANGE, 'an H.265 track needs its VPS for hvcC')
    const sps = parseH265Sps(track.sps)
    config = buildHvcC({ vps: [track.vps], sps: [track.sps], pps: [track.pps] }, { complete: !inBand })
    sar = [sps.sarWidth, sps.sarHeight]
    colour = sps.colour
  }
  const compressor = new Uint8Array(32) // Pascal string, left empty
  const extra = [config, box('pasp', u32(sar[0], sar[1]))]
  if (colour) extra.push(box('colr', fourcc('nclx'), u16(colour.primaries, colour.transfer, colour.matrix), u8(colour.fullRange ? 0x80 : 0)))
  return box(
    type,
    zeros(6),
    u16(1), // data_reference_index
    u16(0, 0),
    u32(0, 0, 0),
    u16(track.width, track.height),
    u32(0x0048_0000, 0x0048_0000), // 72 dpi
    u32(0),
    u16(1), // frame_count
    compressor,
    u16(0x0018),
    i16(-1),
    ...extra,
  )
}

/** channel_configuration → channel count (14496-3 Table 1.19); 0 (PCE) is written as 2. */
const CHANNEL_COUNTS = [2, 1, 2, 3, 4, 5, 6, 8]

function audioSampleEntry(track: AudioTrackInfo, trackId: number): Uint8Array {
  const channelCount = CHANNEL_COUNTS[track.channels] ?? 2
  // samplerate is 16.16; rates of 65536 Hz and more do not fit and are written as 0 (the esds has the truth).
  const rate = track.sampleRate < 0x1_0000 ? track.sampleRate * 0x1_0000 : 0
  return box(
    'mp4a',
    zeros(6),
    u16(1), // data_reference_index
    u32(0, 0),
    u16(channelCount, 16, 0, 0),
    u32(rate),
    buildEsds({ audioObjectType: track.audioObjectType, sampleRate: track.sampleRate, channels: track.channels }, { trackId }),
  )
}

function trak(track: TrackInfo, trackId: number, carriage: ParameterSetCarriage): Uint8Array {
  const video = track.kind === 'video'
  let widthFixed = 0
  let heightFixed = 0
  if (video) {
    const sps = track.codec === VideoCodec.H264 ? parseH264Sps(track.sps) : parseH265Sps(track.sps)
    // tkhd carries the display size: the picture stretched by its sample aspect ratio.
    widthFixed = fixed16((track.width * sps.sarWidth) / sps.sarHeight)
    heightFixed = fixed16(track.height)
  }
  const tkhd = fullBox('tkhd', 0, 0x000003, u32(0, 0, trackId, 0, 0), u32(0, 0), i16(0, 0), u16(video ? 0 : 0x0100, 0), UNITY_MATRIX, u32(widthFixed, heightFixed))
  const mdhd = fullBox('mdhd', 0, 0, u32(0, 0, trackTimescale(track), 0), u16(LANGUAGE_UND, 0))
  const hdlr = fullBox('hdlr', 0, 0, u32(0), fourcc(video ? 'vide' : 'soun'), u32(0, 0, 0), cstring(video ? 'mqa video' : 'mqa audio'))
  const mediaHeader = video ? fullBox('vmhd', 0, 1, u16(0, 0, 0, 0)) : fullBox('smhd', 0, 0, i16(0), u16(0))
  const dinf = box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1)))
  const entry = video ? visualSampleEntry(track, carriage) : audioSampleEntry(track, trackId)
  const stbl = box(
    'stbl',
    fullBox('stsd', 0, 0, u32(1), entry),
    fullBox('stts', 0, 0, u32(0)),
    fullBox('stsc', 0, 0, u32(0)),
    fullBox('stsz', 0, 0, u32(0, 0)),
    fullBox('stco', 0, 0, u32(0)),
  )
  return box('trak', tkhd, box('mdia', mdhd, hdlr, box('minf', mediaHeader, dinf, stbl)))
}

function trackIdsOf(count: number, given: readonly number[] | undefined): number[] {
  const ids = given ? [...given] : Array.from({ length: count }, (_, i) => i + 1)
  if (ids.length !== count) throw new MqaError(ErrorCode.VALUE_RANGE, `${count} tracks but ${ids.length} track ids`)
  if (new Set(ids).size !== ids.length || ids.some((id) => !Number.isInteger(id) || id < 1 || id > 0xffff_ffff)) {
    throw new MqaError(ErrorCode.VALUE_RANGE, `track ids must be distinct integers from 1, got ${ids.join(',')}`)
  }
  return ids
}

/**
 * The init segment: ftyp + moov (mvhd, a trak per track with an empty sample table, mvex/trex).
 * One track makes a CMAF header (brand cmfc); several make a multiplexed fMP4 (HLS allows it,
 * CMAF and most DASH players want one track per file).
 */
export function buildInitSegment(tracks: readonly TrackInfo[], options: InitSegmentOptions = {}): Uint8Array {
  if (tracks.length === 0) throw new MqaError(ErrorCode.VALUE_RANGE, 'an init segment needs at least one track')
  const carriage = options.parameterSets ?? ParameterSetCarriage.OUT_OF_BAND
  const ids = trackIdsOf(tracks.length, options.trackIds)
  const mvhd = fullBox('mvhd', 0, 0, u32(0, 0, 1000, 0), u32(0x0001_0000), u16(0x0100, 0), u32(0, 0), UNITY_MATRIX, u32(0, 0, 0, 0, 0, 0), u32(Math.max(...ids) + 1))
  const traks = tracks.map((t, i) => trak(t, ids[i]!, carriage))
  const trexes = ids.map((id) => fullBox('trex', 0, 0, u32(id, 1, 0, 0, 0)))
  return concatBytes([ftyp(tracks), box('moov', mvhd, ...traks, box('mvex', ...trexes))])
}

/** One track's samples for a fragment. */
export interface FragmentTrack {
  readonly trackId: number
  /** The track's media timescale (trackTimescale of its TrackInfo). */
  readonly timescale: number
  /**
   * Decode time of the first sample in `timescale` units; by default its dtsTicks converted.
   * Pass it to keep an audio track's timeline exactly continuous across fragments.
   */
  readonly baseMediaDecodeTime?: number | undefined
  readonly samples: readonly MediaSample[]
  /** Video samples are Annex B access units (rewritten length-prefixed); AAC samples are raw frames. */
  readonly codec: 'h264' | 'h265' | 'aac'
  /** Every sample's duration in `timescale` units (AAC: 1024, the default); video uses the timestamps. */
  readonly sampleDuration?: number | undefined
  /** NAL units (escaped, no start code) to leave out of the samples: the init segment's parameter sets. */
  readonly omitNals?: readonly Uint8Array[] | undefined
}

export interface FragmentInput {
  /** mfhd sequence_number: one more for every moof of the track (chunks count one each). */
  readonly sequenceNumber: number
  readonly tracks: readonly FragmentTrack[]
}

/** The per-track fields of a FragmentTrack that follow from its TrackInfo and the carriage. */
export function fragmentTrackFor(track: TrackInfo, trackId: number, options: CmafOptions = {}): Pick<FragmentTrack, 'trackId' | 'timescale' | 'codec' | 'sampleDuration' | 'omitNals'> {
  const timescale = trackTimescale(track)
  if (track.kind === 'audio') return { trackId, timescale, codec: 'aac', sampleDuration: AAC_SAMPLES_PER_FRAME }
  const outOfBand = (options.parameterSets ?? ParameterSetCarriage.OUT_OF_BAND) === ParameterSetCarriage.OUT_OF_BAND
  const omitNals = outOfBand ? [track.vps, track.sps, track.pps].filter((n): n is Uint8Array => n !== undefined) : []
  return { trackId, timescale, codec: track.codec, omitNals }
}

export interface VideoSampleData {
  /** Length-prefixed NAL units (4-byte lengths counting the escaped bytes). */
  readonly data: Uint8Array
  /** Whether later pictures may reference this one (H.264 nal_ref_idc); undefined when unknown. */
  readonly referenced: boolean | undefined
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** An Annex B access unit → MP4 sample data: AUDs dropped, `omitNals` dropped, everything else (SEI included) kept in order. */
export function toSampleData(codec: VideoCodec, accessUnit: Uint8Array, omitNals: readonly Uint8Array[] = []): VideoSampleData {
  const aud = codec === VideoCodec.H264 ? H264NalType.AUD : H265NalType.AUD
  const kept: Uint8Array[] = []
  let referenced: boolean | undefined = codec === VideoCodec.H264 ? false : undefined
  for (const nal of splitAnnexB(accessUnit, codec)) {
    if (nal.type === aud) continue
    if (omitNals.some((o) => sameBytes(o, nal.data))) continue
    if (codec === VideoCodec.H264 && isVclNal(codec, nal.type) && (nal.data[0]! & 0x60) !== 0) referenced = true
    kept.push(nal.data)
  }
  if (kept.length === 0) throw new MqaError(ErrorCode.AU_NO_SLICE, `access unit of ${accessUnit.length} bytes has no NAL unit to store`)
  return { data: joinLengthPrefixed(kept, 4), referenced }
}

interface TimedSample {
  readonly decodeTime: number
  readonly duration: number
  readonly compositionOffset: number
  readonly flags: number
  readonly data: Uint8Array
  /** The source sample's DTS, 90 kHz (for cutting chunks). */
  readonly dtsTicks: number
}

/** sample_flags (14496-12 §8.8.3.1): depends_on 2 (an I picture) or 1, is_depended_on, non-sync bit. */
function sampleFlags(keyFrame: boolean, referenced: boolean | undefined): number {
  const dependsOn = keyFrame ? 2 : 1
  const dependedOn = referenced === undefined ? 0 : referenced ? 1 : 2
  return (dependsOn << 24) | (dependedOn << 22) | (keyFrame ? 0 : 0x1_0000)
}

const AUDIO_SAMPLE_FLAGS = 2 << 24

function timeTrack(track: FragmentTrack): TimedSample[] {
  const samples = track.samples
  const first = samples[0]
  if (!first) return []
  const ts = track.timescale
  if (!Number.isInteger(ts) || ts <= 0) throw new MqaError(ErrorCode.VALUE_RANGE, `track ${track.trackId} timescale ${ts} is not a positive integer`)
  const base = track.baseMediaDecodeTime ?? ticksToTimescale(first.dtsTicks, ts)
  if (!Number.isSafeInteger(base) || base < 0) throw new MqaError(ErrorCode.VALUE_RANGE, `track ${track.trackId} baseMediaDecodeTime ${base} is negative or not an integer`)
  if (track.codec === 'aac') {
    const duration = track.sampleDuration ?? AAC_SAMPLES_PER_FRAME
    return samples.map((s, i) => ({ decodeTime: base + i * duration, duration, compositionOffset: 0, flags: AUDIO_SAMPLE_FLAGS, data: s.data, dtsTicks: s.dtsTicks }))
  }
  const codec = track.codec
  // Times relative to the first DTS, converted once, so rounding never accumulates.
  const decodeTimes: number[] = []
  for (const s of samples) {
    const t = base + ticksToTimescale(s.dtsTicks - first.dtsTicks, ts)
    decodeTimes.push(Math.max(t, decodeTimes.at(-1) ?? base))
  }
  return samples.map((s, i) => {
    const decodeTime = decodeTimes[i]!
    const next = decodeTimes[i + 1]
    const duration = track.sampleDuration ?? (next !== undefined ? next - decodeTime : Math.max(0, ticksToTimescale(s.durationTicks, ts)))
    const presentation = base + ticksToTimescale(s.ptsTicks - first.dtsTicks, ts)
    const { data, referenced } = toSampleData(codec, s.data, track.omitNals)
    return { decodeTime, duration, compositionOffset: presentation - decodeTime, flags: sampleFlags(s.keyFrame, referenced), data, dtsTicks: s.dtsTicks }
  })
}

const TRUN_DATA_OFFSET = 0x000001
const TRUN_DURATION = 0x000100
const TRUN_SIZE = 0x000200
const TRUN_FLAGS = 0x000400
const TRUN_CTS = 0x000800
const TFHD_DEFAULT_BASE_IS_MOOF = 0x020000

function trun(samples: readonly TimedSample[], withCts: boolean, dataOffset: number): Uint8Array {
  const perSample = withCts ? 16 : 12
  const body = new Uint8Array(8 + samples.length * perSample)
  const view = new DataView(body.buffer)
  view.setUint32(0, samples.length)
  view.setInt32(4, dataOffset)
  let p = 8
  for (const s of samples) {
    if (s.duration > 0xffff_ffff || s.data.length > 0xffff_ffff) throw new MqaError(ErrorCode.VALUE_RANGE, `sample duration ${s.duration} or size ${s.data.length} does not fit 32 bits`)
    view.setUint32(p, s.duration)
    view.setUint32(p + 4, s.data.length)
    view.setUint32(p + 8, s.flags >>> 0)
    if (withCts) {
      if (s.compositionOffset < -0x8000_0000 || s.compositionOffset > 0x7fff_ffff) throw new MqaError(ErrorCode.VALUE_RANGE, `composition offset ${s.compositionOffset} does not fit 32 bits`)
      view.setInt32(p + 12, s.compositionOffset)
    }
    p += perSample
  }
  const flags = TRUN_DATA_OFFSET | TRUN_DURATION | TRUN_SIZE | TRUN_FLAGS | (withCts ? TRUN_CTS : 0)
  return fullBox('trun', withCts ? 1 : 0, flags, body)
}

interface TrackSlice {
  readonly trackId: number
  readonly video: boolean
  readonly samples: readonly TimedSample[]
}

/** [prefix +] moof + mdat for the slices (each non-empty), one traf per track, data in track order; sample bytes are copied once. */
function serializeFragment(sequenceNumber: number, slices: readonly TrackSlice[], prefix?: Uint8Array): Uint8Array {
  if (!Number.isInteger(sequenceNumber) || sequenceNumber < 0 || sequenceNumber > 0xffff_ffff) {
    throw new MqaError(ErrorCode.VALUE_RANGE, `sequence number ${sequenceNumber} is not a 32-bit unsigned integer`)
  }
  const moofFor = (offsets: readonly number[]) =>
    box(
      'moof',
      fullBox('mfhd', 0, 0, u32(sequenceNumber)),
      ...slices.map((s, i) =>
        box(
          'traf',
          fullBox('tfhd', 0, TFHD_DEFAULT_BASE_IS_MOOF, u32(s.trackId)),
          fullBox('tfdt', 1, 0, u64(s.samples[0]!.decodeTime)),
          trun(s.samples, s.video, offsets[i]!),
        ),
      ),
    )
  const moofSize = moofFor(slices.map(() => 0)).length
  const offsets: number[] = []
  let offset = moofSize + 8
  for (const s of slices) {
    offsets.push(offset)
    for (const sample of s.samples) offset += sample.data.length
  }
  const mdatSize = offset - moofSize
  if (mdatSize > 0xffff_ffff) throw new MqaError(ErrorCode.VALUE_RANGE, `mdat of ${mdatSize} bytes needs a 64-bit size, which this writer does not produce`)
  const moof = moofFor(offsets)
  const head = prefix?.length ?? 0
  const out = new Uint8Array(head + moofSize + mdatSize)
  if (prefix) out.set(prefix)
  out.set(moof, head)
  let p = head + moofSize
  new DataView(out.buffer).setUint32(p, mdatSize)
  out.set(fourcc('mdat'), p + 4)
  p += 8
  for (const s of slices) {
    for (const sample of s.samples) {
      out.set(sample.data, p)
      p += sample.data.length
    }
  }
  return out
}

function slicesOf(input: FragmentInput): { slices: TrackSlice[] } {
  const ids = new Set<number>()
  const timed = input.tracks.map((t) => {
    if (ids.has(t.trackId)) throw new MqaError(ErrorCode.VALUE_RANGE, `track ${t.trackId} appears twice in one fragment`)
    ids.add(t.trackId)
    return timeTrack(t)
  })
  const slices = input.tracks.map((t, i) => ({ trackId: t.trackId, video: t.codec !== 'aac', samples: timed[i]! }))
  return { slices }
}

/**
 * A CMAF chunk: moof + mdat for some samples of a segment (tracks without samples are left
 * out). A segment sent as several chunks is the styp, then the chunks in order, each with the
 * next sequence number and its own baseMediaDecodeTime.
 */
export function buildChunk(input: FragmentInput): Uint8Array {
  return chunkWithPrefix(input, undefined)
}

function chunkWithPrefix(input: FragmentInput, prefix: Uint8Array | undefined): Uint8Array {
  const slices = slicesOf(input).slices.filter((s) => s.samples.length > 0)
  if (slices.length === 0) throw new MqaError(ErrorCode.VALUE_RANGE, 'a chunk needs at least one sample')
  return serializeFragment(input.sequenceNumber, slices, prefix)
}

export interface StypOptions {
  /** The segment is sent as several chunks (adds the CMAF chunk brand cmfl). */
  readonly chunked?: boolean
}

/** The segment type box a CMAF segment starts with. */
export function buildStyp(options: StypOptions = {}): Uint8Array {
  const brands = ['msdh', 'cmfs', 'cmff', ...(options.chunked ? ['cmfl'] : [])]
  return box('styp', fourcc('msdh'), u32(0), ...brands.map(fourcc))
}

/** A media segment in one piece: styp + moof + mdat. */
export function buildMediaSegment(input: FragmentInput): Uint8Array {
  return chunkWithPrefix(input, buildStyp())
}

export interface ChunkedSegmentInput extends FragmentInput {
  /** Chunk length in 90 kHz ticks of decode time (e.g. 3600·k for k frames at 25 fps). */
  readonly chunkDurationTicks: number
}

/**
 * A media segment cut into CMAF chunks by decode time: the first chunk starts with the styp,
 * chunk k has sequence number `sequenceNumber + k`. Concatenated, they are the segment.
 */
export function buildChunkedSegment(input: ChunkedSegmentInput): Uint8Array[] {
  const { chunkDurationTicks } = input
  if (!(chunkDurationTicks > 0)) throw new MqaError(ErrorCode.VALUE_RANGE, `chunk duration ${chunkDurationTicks} ticks is not positive`)
  const { slices } = slicesOf(input)
  const firstTicks = Math.min(...slices.flatMap((s) => (s.samples[0] ? [s.samples[0].dtsTicks] : [])))
  if (!Number.isFinite(firstTicks)) throw new MqaError(ErrorCode.VALUE_RANGE, 'a segment needs at least one sample')
  const chunkOf = (s: TimedSample) => Math.max(0, Math.floor((s.dtsTicks - firstTicks) / chunkDurationTicks))
  const last = Math.max(...slices.flatMap((s) => s.samples.map(chunkOf)))
  const out: Uint8Array[] = []
  for (let k = 0; k <= last; k++) {
    const parts = slices.map((s) => ({ ...s, samples: s.samples.filter((x) => chunkOf(x) === k) })).filter((s) => s.samples.length > 0)
    if (parts.length === 0) continue
    out.push(serializeFragment(input.sequenceNumber + out.length, parts, out.length === 0 ? buildStyp({ chunked: true }) : undefined))
  }
  return out
}
