import { ErrorCode, type FrameRate, MqaError, type NalUnit, type VideoCodec } from '@mqa/common'
import { type MediaSample, type TrackInfo } from '../media.js'
import { audioTrackInfoFrom, findParameterSets, type AacConfig, videoTrackInfoFrom } from './codec-config.js'
import {
  type CmafOptions,
  type FragmentInput,
  type FragmentTrack,
  ParameterSetCarriage,
  buildChunk,
  buildInitSegment,
  buildMediaSegment,
  fragmentTrackFor,
  ticksToTimescale,
} from './fmp4.js'

/**
 * A stateful front to the pure fMP4 builders for one set of tracks: it makes the init segment
 * once, numbers the moofs, and keeps each audio track's decode timeline continuous (AAC frames
 * are 1024 samples; timestamps from MPEG-TS are rounded to 90 kHz and would otherwise drift by
 * a sample now and then).
 */

/** How far (in the track's timescale) a fragment's start may sit from the end of the previous one and still be taken as continuous. */
const CONTINUITY_TOLERANCE_SAMPLES = 2

export interface CmafMuxerOptions extends CmafOptions {
  readonly trackIds?: readonly number[]
}

export class CmafMuxer {
  readonly tracks: readonly TrackInfo[]
  readonly initSegment: Uint8Array
  readonly #fragmentTracks: Pick<FragmentTrack, 'trackId' | 'timescale' | 'codec' | 'sampleDuration' | 'omitNals'>[]
  /** Per track: decode time just after the last sample written, in its timescale. */
  readonly #nextDecodeTime: (number | undefined)[]
  #sequenceNumber = 0

  constructor(tracks: readonly TrackInfo[], options: CmafMuxerOptions = {}) {
    this.tracks = tracks
    this.initSegment = buildInitSegment(tracks, options)
    const ids = options.trackIds ?? tracks.map((_, i) => i + 1)
    this.#fragmentTracks = tracks.map((t, i) => fragmentTrackFor(t, ids[i]!, options))
    this.#nextDecodeTime = tracks.map(() => undefined)
  }

  /** The sequence number the next moof gets. */
  get nextSequenceNumber(): number {
    return this.#sequenceNumber + 1
  }

  /** A whole media segment (styp + moof + mdat); `samples[i]` are track i's samples in decode order. */
  segment(samples: readonly (readonly MediaSample[])[]): Uint8Array {
    return this.#fragment(samples, buildMediaSegment)
  }

  /**
   * One CMAF chunk (moof + mdat) of the samples given; a segment sent in chunks starts with
   * `buildStyp({ chunked: true })`, then its chunks in order.
   */
  chunk(samples: readonly (readonly MediaSample[])[]): Uint8Array {
    return this.#fragment(samples, buildChunk)
  }

  #fragment(samples: readonly (readonly MediaSample[])[], build: (input: FragmentInput) => Uint8Array): Uint8Array {
    if (samples.length !== this.tracks.length) throw new MqaError(ErrorCode.VALUE_RANGE, `${this.tracks.length} tracks but samples for ${samples.length}`)
    const tracks: FragmentTrack[] = this.#fragmentTracks.map((t, i) => {
      const list = samples[i]!
      const base = this.#baseFor(i, list)
      return { ...t, samples: list, baseMediaDecodeTime: base }
    })
    const bytes = build({ sequenceNumber: this.#sequenceNumber + 1, tracks })
    this.#sequenceNumber++
    tracks.forEach((t, i) => {
      if (t.samples.length === 0) return
      const duration = t.sampleDuration
      if (duration !== undefined) this.#nextDecodeTime[i] = t.baseMediaDecodeTime! + t.samples.length * duration
    })
    return bytes
  }

  #baseFor(i: number, list: readonly MediaSample[]): number | undefined {
    const t = this.#fragmentTracks[i]!
    const first = list[0]
    if (!first || t.sampleDuration === undefined) return undefined
    const fromTimestamp = ticksToTimescale(first.dtsTicks, t.timescale)
    const expected = this.#nextDecodeTime[i]
    if (expected !== undefined && Math.abs(fromTimestamp - expected) <= CONTINUITY_TOLERANCE_SAMPLES) return expected
    return fromTimestamp
  }
}

/** What the writer reads of a closed segment (the segmenter's ClosedSegment has these fields). */
export interface SegmentSamples {
  readonly frames: readonly { readonly sample: MediaSample }[]
  readonly audio: readonly MediaSample[]
  /** A key frame's NAL units, for the parameter sets. */
  readonly keyFrameNals: readonly NalUnit[]
}

export interface CmafSegmentWriter {
  init(segment: SegmentSamples, codec: VideoCodec, rate: FrameRate, audio: AacConfig | undefined): Uint8Array
  segment(segment: SegmentSamples, sequence: number): Uint8Array
  /** The tracks of the init segment (codecs strings for playlists), once init ran. */
  readonly tracks: readonly TrackInfo[] | undefined
}

/**
 * A writer for the packager core (its CmafWriter shape): video, plus AAC when the input has it,
 * multiplexed in one fMP4 (as HLS allows). The moof sequence number is the muxer's own count.
 */
export function createCmafWriter(options: CmafOptions = {}): CmafSegmentWriter {
  let muxer: CmafMuxer | undefined
  return {
    get tracks() {
      return muxer?.tracks
    },
    init(segment, codec, rate, audio) {
      const inBand = (options.parameterSets ?? ParameterSetCarriage.OUT_OF_BAND) === ParameterSetCarriage.IN_BAND
      const video = videoTrackInfoFrom({ codec, parameterSets: findParameterSets(codec, segment.keyFrameNals), frameRate: rate, inBandParameterSets: inBand })
      const tracks: TrackInfo[] = audio ? [video, audioTrackInfoFrom(audio)] : [video]
      muxer = new CmafMuxer(tracks, options)
      return muxer.initSegment
    },
    segment(segment) {
      if (!muxer) throw new MqaError(ErrorCode.VALUE_RANGE, 'CMAF writer: segment() before init()')
      const video = segment.frames.map((f) => f.sample)
      return muxer.segment(muxer.tracks.length > 1 ? [video, segment.audio] : [video])
    },
  }
}
