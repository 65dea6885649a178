/**
 * The packager's media model: what the segmenter hands to the writers (MPEG-TS, CMAF, playlists).
 * Times are integer 90 kHz ticks (the MPEG-TS clock) unless a field says otherwise.
 */

export const TIMESCALE_90K = 90_000

/** One access unit (video) or one AAC frame (audio). */
export interface MediaSample {
  readonly dtsTicks: number
  readonly ptsTicks: number
  readonly durationTicks: number
  /** Video: the access unit in Annex B (SEI included). Audio: one raw AAC frame, no ADTS header. */
  readonly data: Uint8Array
  readonly keyFrame: boolean
}

export interface VideoTrackInfo {
  readonly kind: 'video'
  readonly codec: 'h264' | 'h265'
  readonly width: number
  readonly height: number
  /** Parameter sets as they appear in the stream (escaped NAL units with headers, no start codes). */
  readonly vps?: Uint8Array | undefined
  readonly sps: Uint8Array
  readonly pps: Uint8Array
  /** RFC 6381 codecs string, e.g. avc1.64001f or hvc1.1.6.L93.B0. */
  readonly codecsString: string
  readonly frameRate: { readonly num: number; readonly den: number }
}

export interface AudioTrackInfo {
  readonly kind: 'audio'
  readonly codec: 'aac'
  readonly sampleRate: number
  readonly channels: number
  /** MPEG-4 audio object type (2 = AAC LC). */
  readonly audioObjectType: number
  readonly codecsString: string
}

export type TrackInfo = VideoTrackInfo | AudioTrackInfo
