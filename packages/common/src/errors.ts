/**
 * Errors are data: a stable code, a message that names the value and the byte offset, and whether
 * the error is fatal for the stage that met it. docs/errors.md lists every code.
 */
export const ErrorCode = {
  /** A NAL unit header or length prefix is cut short or impossible. */
  NAL_TRUNCATED: 'ERR_NAL_TRUNCATED',
  /** forbidden_zero_bit set, or a NAL length that runs past the buffer. */
  NAL_INVALID: 'ERR_NAL_INVALID',
  /** An SEI message's type, size or payload runs past the end of its NAL. */
  SEI_TRUNCATED: 'ERR_SEI_TRUNCATED',
  /** An SEI RBSP that cannot be parsed (bad trailing bits, empty). */
  SEI_INVALID: 'ERR_SEI_INVALID',
  /** An access unit has no slice to put an SEI before. */
  AU_NO_SLICE: 'ERR_AU_NO_SLICE',
  /** The MQA SEI payload is not ASCII or not an RFC 8941 Dictionary. */
  PAYLOAD_SYNTAX: 'ERR_PAYLOAD_SYNTAX',
  /** A payload key has a value of the wrong type or out of range. */
  PAYLOAD_VALUE: 'ERR_PAYLOAD_VALUE',
  /** A payload of a version this reader does not know (skipped, not fatal). */
  PAYLOAD_VERSION: 'ERR_PAYLOAD_VERSION',
  /** A timecode string or frame rate that cannot be used. */
  TIMECODE_INVALID: 'ERR_TIMECODE_INVALID',
  /** A CMSD header that is not a valid structured field, or a key of the wrong type. */
  CMSD_INVALID: 'ERR_CMSD_INVALID',
  /** MPEG-TS sync (0x47 every 188 bytes) lost; bytes skipped until it came back. */
  TS_SYNC: 'ERR_TS_SYNC',
  /** A continuity-counter gap or transport_error_indicator: packets lost or corrupt. */
  TS_CONTINUITY: 'ERR_TS_CONTINUITY',
  /** A PAT/PMT section that fails its CRC or is malformed. */
  TS_PSI: 'ERR_TS_PSI',
  /** A PES without a start code, with a header past its end, or too large. */
  TS_PES: 'ERR_TS_PES',
  /** A score, weight or grid parameter out of range. */
  VALUE_RANGE: 'ERR_VALUE_RANGE',
  /** MPEG-TS packets with transport_error_indicator set (their payload is dropped). */
  TS_TRANSPORT_ERROR: 'ERR_TS_TRANSPORT_ERROR',
  /** An MPEG-TS packet with an impossible header, or cut short by the end of input. */
  TS_PACKET: 'ERR_TS_PACKET',
  /** A udp:// input URL that does not parse, or has no port (or port 0) to listen on. */
  URL_INVALID: 'ERR_URL_INVALID',
  /** A UDP input's multicast group could not be joined (no such interface, no route to the group). */
  UDP_JOIN: 'ERR_UDP_JOIN',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export interface MqaErrorOptions {
  /** Byte offset in the input the error was found at, when there is one. */
  readonly offset?: number
  /** Whether the stage that met it must stop; parsers' errors are never fatal by themselves. */
  readonly fatal?: boolean
  readonly cause?: unknown
}

export class MqaError extends Error {
  readonly code: ErrorCode
  readonly offset: number | undefined
  readonly fatal: boolean

  constructor(code: ErrorCode, message: string, options: MqaErrorOptions = {}) {
    super(options.offset === undefined ? message : `${message} (at byte ${options.offset})`, {
      cause: options.cause,
    })
    this.name = 'MqaError'
    this.code = code
    this.offset = options.offset
    this.fatal = options.fatal ?? false
  }
}

export function isMqaError(value: unknown): value is MqaError {
  return value instanceof MqaError
}
