import { ErrorCode, MqaError } from './errors.js'

/** A frame rate as a rational: 30000/1001 for 29.97. */
export interface FrameRate {
  readonly num: number
  readonly den: number
}

/** SMPTE ST 12-1 timecode fields. `dropFrame` is written as `;` before FF. */
export interface Timecode {
  readonly hours: number
  readonly minutes: number
  readonly seconds: number
  readonly frames: number
  readonly dropFrame: boolean
}

const FRAMES_PER_DAY_HOURS = 24
const TIMECODE_RE = /^(\d{2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$/

export function frameRate(num: number, den = 1): FrameRate {
  if (!Number.isInteger(num) || !Number.isInteger(den) || num <= 0 || den <= 0) {
    throw new MqaError(ErrorCode.TIMECODE_INVALID, `frame rate ${num}/${den} must be two positive integers`)
  }
  return { num, den }
}

/** Parse "29.97", "30000/1001", "25" into a rational; NTSC rates get their exact 1001 form. */
export function parseFrameRate(text: string): FrameRate {
  const m = /^(\d+)(?:\/(\d+))?$/.exec(text.trim())
  if (m) return frameRate(Number(m[1]), m[2] === undefined ? 1 : Number(m[2]))
  const x = Number(text)
  if (!Number.isFinite(x) || x <= 0) throw new MqaError(ErrorCode.TIMECODE_INVALID, `frame rate ${JSON.stringify(text)} is not a positive number or N/D`)
  for (const nominal of [24, 30, 48, 60, 120]) {
    if (Math.abs(x - (nominal * 1000) / 1001) < 0.01) return frameRate(nominal * 1000, 1001)
  }
  if (Number.isInteger(x)) return frameRate(x, 1)
  return frameRate(Math.round(x * 1000), 1000)
}

/** Frames counted per timecode second: 30 for 29.97. */
export function nominalFps(rate: FrameRate): number {
  return Math.round(rate.num / rate.den)
}

/** Drop-frame counting exists only for the 1001 rates of 30 and 60 nominal (ST 12-1). */
export function supportsDropFrame(rate: FrameRate): boolean {
  const n = nominalFps(rate)
  return rate.den === 1001 && (n === 30 || n === 60)
}

function dropPerMinute(rate: FrameRate): number {
  return nominalFps(rate) / 15
}

export function parseTimecode(text: string): Timecode {
  const m = TIMECODE_RE.exec(text)
  if (!m) throw new MqaError(ErrorCode.TIMECODE_INVALID, `timecode ${JSON.stringify(text)} is not "HH:MM:SS:FF"`)
  const tc = { hours: Number(m[1]), minutes: Number(m[2]), seconds: Number(m[3]), frames: Number(m[5]), dropFrame: m[4] === ';' || m[4] === ',' }
  if (tc.hours >= FRAMES_PER_DAY_HOURS || tc.minutes > 59 || tc.seconds > 59) {
    throw new MqaError(ErrorCode.TIMECODE_INVALID, `timecode ${JSON.stringify(text)} has hours ≥ 24, minutes or seconds > 59`)
  }
  return tc
}

export function formatTimecode(tc: Timecode): string {
  const p = (n: number) => String(n).padStart(2, '0')
  return `${p(tc.hours)}:${p(tc.minutes)}:${p(tc.seconds)}${tc.dropFrame ? ';' : ':'}${p(tc.frames)}`
}

/** Frames in a 24-hour timecode day at this rate. */
export function framesPerDay(rate: FrameRate, dropFrame = false): number {
  const nominal = nominalFps(rate)
  const nominalDay = FRAMES_PER_DAY_HOURS * 3600 * nominal
  if (!dropFrame) return nominalDay
  return nominalDay - dropPerMinute(rate) * 9 * 6 * FRAMES_PER_DAY_HOURS
}

/**
 * Frame index of a timecode: ((HH·60+MM)·60+SS)·fps + FF, less the dropped frame numbers for
 * drop-frame timecode (2 or 4 at each minute but every tenth).
 */
export function timecodeToFrameIndex(tc: Timecode | string, rate: FrameRate): number {
  const t = typeof tc === 'string' ? parseTimecode(tc) : tc
  const nominal = nominalFps(rate)
  if (t.frames >= nominal) throw new MqaError(ErrorCode.TIMECODE_INVALID, `timecode frames ${t.frames} is not below ${nominal} fps`)
  const totalMinutes = t.hours * 60 + t.minutes
  const nominalIndex = (totalMinutes * 60 + t.seconds) * nominal + t.frames
  if (!t.dropFrame) return nominalIndex
  if (!supportsDropFrame(rate)) throw new MqaError(ErrorCode.TIMECODE_INVALID, `drop-frame timecode at ${rate.num}/${rate.den} fps: only 29.97 and 59.94 drop frames`)
  const drop = dropPerMinute(rate)
  if (t.seconds === 0 && t.frames < drop && t.minutes % 10 !== 0) {
    throw new MqaError(ErrorCode.TIMECODE_INVALID, `drop-frame timecode ${formatTimecode(t)} names a dropped frame number`)
  }
  return nominalIndex - drop * (totalMinutes - Math.floor(totalMinutes / 10))
}

/** Timecode of a frame index (wrapping at 24 hours). */
export function frameIndexToTimecode(index: number, rate: FrameRate, dropFrame = false): Timecode {
  if (!Number.isInteger(index) || index < 0) throw new MqaError(ErrorCode.TIMECODE_INVALID, `frame index ${index} must be a non-negative integer`)
  if (dropFrame && !supportsDropFrame(rate)) throw new MqaError(ErrorCode.TIMECODE_INVALID, `drop-frame timecode at ${rate.num}/${rate.den} fps: only 29.97 and 59.94 drop frames`)
  const nominal = nominalFps(rate)
  let f = index % framesPerDay(rate, dropFrame)
  if (dropFrame) {
    const drop = dropPerMinute(rate)
    const per10Min = nominal * 600 - drop * 9
    const perMin = nominal * 60 - drop
    const tens = Math.floor(f / per10Min)
    const rem = f % per10Min
    f += drop * 9 * tens + (rem > drop ? drop * Math.floor((rem - drop) / perMin) : 0)
  }
  const frames = f % nominal
  const totalSeconds = Math.floor(f / nominal)
  return {
    hours: Math.floor(totalSeconds / 3600),
    minutes: Math.floor(totalSeconds / 60) % 60,
    seconds: totalSeconds % 60,
    frames,
    dropFrame,
  }
}

/**
 * A timecode from its SMPTE ST 12-1 binary form, as FFmpeg puts it in a frame's
 * AV_FRAME_DATA_S12M_TIMECODE side data (libavutil/timecode.c `av_timecode_get_smpte`, read back
 * from H.264 pic_timing and H.265 time_code SEI): BCD hours in bits 0–5, minutes 8–14, seconds
 * 16–22, frames 24–29, drop-frame flag bit 30. Above 30 fps the frame count is halved and the
 * field bit (bit 7 at 50 fps, bit 23 otherwise) holds the odd frame. Undefined for digits that are
 * not BCD or fields out of range.
 */
export function timecodeFromS12m(word: number, rate: FrameRate): Timecode | undefined {
  const bcd = (tens: number, units: number) => (units > 9 ? -1 : tens * 10 + units)
  const hours = bcd((word >>> 4) & 0x3, word & 0xf)
  const minutes = bcd((word >>> 12) & 0x7, (word >>> 8) & 0xf)
  const seconds = bcd((word >>> 20) & 0x7, (word >>> 16) & 0xf)
  let frames = bcd((word >>> 28) & 0x3, (word >>> 24) & 0xf)
  const dropFrame = ((word >>> 30) & 1) === 1
  if (rate.num > 30 * rate.den) {
    const field = rate.num === 50 * rate.den ? (word >>> 7) & 1 : (word >>> 23) & 1
    frames = frames * 2 + field
  }
  if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59 || seconds < 0 || seconds > 59 || frames < 0 || frames >= nominalFps(rate)) return undefined
  if (dropFrame && !supportsDropFrame(rate)) return undefined
  return { hours, minutes, seconds, frames, dropFrame }
}
