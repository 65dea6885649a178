/**
 * Every name that travels between components (WIRE-FORMAT.md, version 1), in one place, so it can
 * be aligned with the published SVTA2128 text by editing this file alone.
 */

/** UUID of our user_data_unregistered SEI: 6e817660-c932-4988-881c-ac31ae587204. */
export const MQA_SEI_UUID_STRING = '6e817660-c932-4988-881c-ac31ae587204'
export const MQA_SEI_UUID: Uint8Array = uuidBytes(MQA_SEI_UUID_STRING)

export const MQA_PAYLOAD_VERSION = 1

/** Keys of the SEI payload dictionary (WIRE-FORMAT.md §1). */
export const PayloadKey = {
  VERSION: 'v',
  SCOPE: 's',
  FRAME_NUMBER: 'fn',
  TIMECODE: 'tc',
  PSNR: 'psnr',
  PSNR_Y: 'psnr-y',
  SSIM: 'ssim',
  SSIM_Y: 'ssim-y',
  MQA: 'mqa',
  ERRORS: 'err',
  DROPPED: 'drp',
  FROZEN: 'frz',
  BLACK: 'blk',
  UNMEASURED: 'um',
  AUDIO: 'aq',
  FRAMES: 'nf',
} as const
export type PayloadKey = (typeof PayloadKey)[keyof typeof PayloadKey]

/** The scope of an SEI record: one frame, or a summary of the previous GOP. */
export const ScoreScope = { FRAME: 'f', GOP: 'g' } as const
export type ScoreScope = (typeof ScoreScope)[keyof typeof ScoreScope]

export const CmsdHeader = { STATIC: 'CMSD-Static', DYNAMIC: 'CMSD-Dynamic' } as const
export type CmsdHeader = (typeof CmsdHeader)[keyof typeof CmsdHeader]

/** Standard CMSD-Static keys (CTA-5006) this project writes. */
export const CmsdKey = {
  OBJECT_TYPE: 'ot',
  STREAMING_FORMAT: 'sf',
  STREAM_TYPE: 'st',
  BITRATE_KBPS: 'br',
  DURATION_MS: 'd',
  NODE: 'n',
  AVAILABLE_AT_MS: 'at',
} as const

/** The MQA keys of CMSD-Static (WIRE-FORMAT.md §3). */
export const CmsdMqaKey = {
  VIDEO: 'org.svta.mqa-video',
  AUDIO: 'org.svta.mqa-audio',
  PSNR: 'org.svta.mqa-psnr',
  SSIM: 'org.svta.mqa-ssim',
  ERRORS: 'org.svta.mqa-err',
} as const
export type CmsdMqaKey = (typeof CmsdMqaKey)[keyof typeof CmsdMqaKey]

/** Parameters on the MQA keys. */
export const CmsdMqaParam = { SEGMENT: 'sn', FRAMES: 'nf', MIN: 'min' } as const

/** The CMSD-Dynamic parameter the origin adds: which chain it served. */
export const CMSD_MQA_SOURCE_PARAM = 'org.svta.mqa-src'

export const CmsdObjectType = { VIDEO: 'v', AUDIO: 'a', MUXED: 'av' } as const
export type CmsdObjectType = (typeof CmsdObjectType)[keyof typeof CmsdObjectType]

export const CmsdStreamingFormat = { HLS: 'h', DASH: 'd' } as const
export type CmsdStreamingFormat = (typeof CmsdStreamingFormat)[keyof typeof CmsdStreamingFormat]

export const CmsdStreamType = { LIVE: 'l', VOD: 'v' } as const
export type CmsdStreamType = (typeof CmsdStreamType)[keyof typeof CmsdStreamType]

/** Parse an RFC 4122 UUID string into its 16 bytes. */
export function uuidBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, '')
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`not a UUID: ${JSON.stringify(uuid)}`)
  const out = new Uint8Array(16)
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}
