import { AAC_SAMPLE_RATES } from './codec-config.js'

/**
 * ADTS (ISO/IEC 13818-7 §6.2, 14496-3 §1.A.2): the framing AAC has in MPEG-TS. MP4 samples are
 * the raw frames without it, so the packager strips the 7-byte header (9 with CRC) here.
 * Payloads are views into the input, not copies.
 */

export const AAC_SAMPLES_PER_FRAME = 1024

export interface AdtsHeader {
  /** 7, or 9 when a CRC follows the fixed header (protection_absent = 0). */
  readonly headerBytes: number
  /** aac_frame_length: header included. */
  readonly frameBytes: number
  /** MPEG-4 audio object type: ADTS profile + 1 (2 = AAC LC). */
  readonly audioObjectType: number
  readonly samplingFrequencyIndex: number
  readonly sampleRate: number
  /** channel_configuration (0: defined in the stream's program_config_element). */
  readonly channels: number
  /** number_of_raw_data_blocks_in_frame + 1. */
  readonly rawDataBlocks: number
}

export interface AdtsFrame {
  /** The raw AAC frame (one raw_data_block), header and CRC removed: the MP4 sample. */
  readonly payload: Uint8Array
  readonly sampleRate: number
  readonly channels: number
  readonly audioObjectType: number
  /** Offset of the ADTS header in the input. */
  readonly offset: number
}

export interface AdtsSplit {
  readonly frames: AdtsFrame[]
  /**
   * Bytes that were not a usable frame: garbage before a sync word, a frame cut short at the
   * end, or a frame of several raw data blocks (which cannot be cut without their positions).
   */
  readonly skippedBytes: number
}

/** The ADTS header at `offset`, or undefined when the bytes there are not one. */
export function parseAdtsHeader(data: Uint8Array, offset = 0): AdtsHeader | undefined {
  if (offset + 7 > data.length) return undefined
  const b1 = data[offset + 1]!
  // syncword 0xFFF, then ID (either), layer 00.
  if (data[offset] !== 0xff || (b1 & 0xf6) !== 0xf0) return undefined
  const b2 = data[offset + 2]!
  const b3 = data[offset + 3]!
  const samplingFrequencyIndex = (b2 >> 2) & 0xf
  const sampleRate = AAC_SAMPLE_RATES[samplingFrequencyIndex]
  if (sampleRate === undefined) return undefined
  const headerBytes = b1 & 1 ? 7 : 9
  const frameBytes = ((b3 & 3) << 11) | (data[offset + 4]! << 3) | (data[offset + 5]! >> 5)
  if (frameBytes < headerBytes) return undefined
  return {
    headerBytes,
    frameBytes,
    audioObjectType: ((b2 >> 6) & 3) + 1,
    samplingFrequencyIndex,
    sampleRate,
    channels: ((b2 & 1) << 2) | (b3 >> 6),
    rawDataBlocks: (data[offset + 6]! & 3) + 1,
  }
}

/** Split a PES payload of ADTS frames; bytes that are not a frame are skipped (and counted) up to the next sync word. */
export function readAdts(data: Uint8Array): AdtsSplit {
  const frames: AdtsFrame[] = []
  let skippedBytes = 0
  let pos = 0
  while (pos < data.length) {
    const h = parseAdtsHeader(data, pos)
    if (!h) {
      const next = nextSync(data, pos + 1)
      skippedBytes += next - pos
      pos = next
      continue
    }
    if (pos + h.frameBytes > data.length) {
      skippedBytes += data.length - pos
      break
    }
    if (h.rawDataBlocks === 1) {
      frames.push({ payload: data.subarray(pos + h.headerBytes, pos + h.frameBytes), sampleRate: h.sampleRate, channels: h.channels, audioObjectType: h.audioObjectType, offset: pos })
    } else {
      skippedBytes += h.frameBytes
    }
    pos += h.frameBytes
  }
  return { frames, skippedBytes }
}

/** The raw AAC frames of a PES payload (see readAdts for what is skipped). */
export function splitAdts(data: Uint8Array): AdtsFrame[] {
  return readAdts(data).frames
}

function nextSync(data: Uint8Array, from: number): number {
  let i = data.indexOf(0xff, from)
  while (i >= 0 && i + 1 < data.length) {
    if ((data[i + 1]! & 0xf6) === 0xf0) return i
    i = data.indexOf(0xff, i + 1)
  }
  return data.length
}
