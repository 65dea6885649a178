import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  ErrorCode,
  formatTimecode,
  frameIndexToTimecode,
  frameRate,
  framesPerDay,
  isGridIdr,
  isSegmentStart,
  parseFrameRate,
  parseTimecode,
  segmentGrid,
  segmentNumberOf,
  segmentStartFrame,
  frameIndexFromPts,
  durationMsOf,
  timecodeToFrameIndex,
  timecodeFromS12m,
} from '../src/index.js'
import { catchError } from './helpers.js'

const NTSC = frameRate(30000, 1001)
const F25 = frameRate(25)

describe('timecode', () => {
  it('parses and formats HH:MM:SS:FF and drop-frame HH:MM:SS;FF', () => {
    expect(parseTimecode('10:00:00:00')).toEqual({ hours: 10, minutes: 0, seconds: 0, frames: 0, dropFrame: false })
    expect(parseTimecode('01:02:03;04').dropFrame).toBe(true)
    expect(formatTimecode(parseTimecode('01:02:03;04'))).toBe('01:02:03;04')
  })

  it('maps timecode to frame index: ((HH·60+MM)·60+SS)·fps + FF', () => {
    expect(timecodeToFrameIndex('10:00:00:00', F25)).toBe(900_000)
    expect(timecodeToFrameIndex('00:00:01:05', F25)).toBe(30)
    expect(timecodeToFrameIndex('00:00:10:00', frameRate(30))).toBe(300)
  })

  // SMPTE ST 12-1 drop-frame: frame numbers 0 and 1 are skipped at each minute but every tenth.
  it.each([
    ['00:00:59;29', 1799],
    ['00:01:00;02', 1800],
    ['00:10:00;00', 17982],
    ['01:00:00;00', 107892],
    ['23:59:59;29', 2589407],
  ])('drop-frame %s at 29.97 is frame %i', (tc, index) => {
    expect(timecodeToFrameIndex(tc, NTSC)).toBe(index)
    expect(formatTimecode(frameIndexToTimecode(index, NTSC, true))).toBe(tc)
  })

  it('drops 4 frame numbers a minute at 59.94', () => {
    const r = frameRate(60000, 1001)
    expect(timecodeToFrameIndex('00:01:00;04', r)).toBe(3600)
    expect(formatTimecode(frameIndexToTimecode(3600, r, true))).toBe('00:01:00;04')
  })

  it('round-trips every frame index of the day (property), drop and non-drop', () => {
    fc.assert(
      fc.property(fc.nat({ max: framesPerDay(NTSC, true) - 1 }), (i) => {
        expect(timecodeToFrameIndex(frameIndexToTimecode(i, NTSC, true), NTSC)).toBe(i)
        expect(timecodeToFrameIndex(frameIndexToTimecode(i, NTSC, false), NTSC)).toBe(i)
      }),
      { numRuns: 2000 },
    )
  })

  it.each([
    ['10:00:00', /is not "HH:MM:SS:FF"/],
    ['24:00:00:00', /hours ≥ 24/],
    ['00:60:00:00', /minutes or seconds > 59/],
  ])('rejects %s', (tc, message) => {
    const err = catchError(() => parseTimecode(tc))
    expect(err.code).toBe(ErrorCode.TIMECODE_INVALID)
    expect(err.message).toMatch(message)
  })

  it('rejects frames past the rate, dropped numbers and drop-frame at 25 fps', () => {
    expect(catchError(() => timecodeToFrameIndex('00:00:00:25', F25)).message).toMatch(/not below 25 fps/)
    expect(catchError(() => timecodeToFrameIndex('00:01:00;00', NTSC)).message).toMatch(/names a dropped frame number/)
    expect(catchError(() => timecodeToFrameIndex('00:00:00;00', F25)).message).toMatch(/only 29.97 and 59.94/)
  })

  it('parses frame rates', () => {
    expect(parseFrameRate('29.97')).toEqual(NTSC)
    expect(parseFrameRate('30000/1001')).toEqual(NTSC)
    expect(parseFrameRate('25')).toEqual(F25)
    expect(parseFrameRate('12.5')).toEqual(frameRate(12500, 1000))
    expect(catchError(() => parseFrameRate('fast')).code).toBe(ErrorCode.TIMECODE_INVALID)
  })
})

describe('segment grid', () => {
  const grid = segmentGrid({ rate: F25, gopSeconds: 2, segmentSeconds: 4 })

  it('numbers segments floor(F / D) and puts IDRs on multiples of G', () => {
    expect(grid).toEqual({ gopFrames: 50, segmentFrames: 100, rate: F25 })
    expect(segmentNumberOf(900_000, grid)).toBe(9000)
    expect(segmentNumberOf(900_099, grid)).toBe(9000)
    expect(segmentNumberOf(900_100, grid)).toBe(9001)
    expect(segmentStartFrame(9001, grid)).toBe(900_100)
    expect(isGridIdr(900_050, grid)).toBe(true)
    expect(isGridIdr(900_051, grid)).toBe(false)
    expect(isSegmentStart(900_050, grid)).toBe(false)
  })

  it('gives two encoders started at different frames the same boundaries', () => {
    const cuts = (from: number) => Array.from({ length: 400 }, (_, k) => from + k).filter((f) => isSegmentStart(f, grid))
    const common = (f: number) => f >= 900_200 && f < 900_400
    expect(cuts(900_013).filter(common)).toEqual([900_200, 900_300])
    expect(cuts(900_170).filter(common)).toEqual([900_200, 900_300])
  })

  it('counts whole frames at 29.97 and refuses segments that are not whole GOPs', () => {
    expect(segmentGrid({ rate: NTSC, gopSeconds: 2, segmentSeconds: 6 })).toMatchObject({ gopFrames: 60, segmentFrames: 180 })
    expect(catchError(() => segmentGrid({ rate: F25, gopSeconds: 2, segmentSeconds: 3 })).message).toMatch(/not a whole number of GOPs/)
    expect(catchError(() => segmentGrid({ rate: F25, gopSeconds: 0.01, segmentSeconds: 2 })).code).toBe(ErrorCode.VALUE_RANGE)
  })

  it('converts PTS ticks to frame index and frames to milliseconds', () => {
    expect(frameIndexFromPts(90_000 * 10, 90_000, F25)).toBe(250)
    expect(frameIndexFromPts(3003 * 7, 90_000, NTSC)).toBe(7)
    expect(durationMsOf(100, F25)).toBe(4000)
    expect(durationMsOf(60, NTSC)).toBe(2002)
  })
})

describe('SMPTE ST 12-1 binary timecode (FFmpeg S12M side data)', () => {
  const tc = (word: number, rate: string) => {
    const t = timecodeFromS12m(word, parseFrameRate(rate))
    return t && formatTimecode(t)
  }

  it('reads the BCD fields, the drop-frame flag and, above 30 fps, the field bit', () => {
    // 0x00585910: what FFmpeg 5.1 exported for 10:59:58:00 in an H.265 time_code SEI at 25 fps.
    expect(tc(0x00585910, '25')).toBe('10:59:58:00')
    expect(tc(0x69595923, '30000/1001')).toBe('23:59:59;29')
    expect(tc(0x20030281, '50')).toBe('01:02:03:41') // field bit 7 at 50 fps
    expect(tc(0x20030201, '50')).toBe('01:02:03:40')
    expect(tc(0x41801000, '60000/1001')).toBe('00:10:00;03') // field bit 23 otherwise
    expect(tc(0x41001000, '60000/1001')).toBe('00:10:00;02')
  })

  it('refuses digits that are not BCD, fields out of range, and drop frame where there is none', () => {
    expect(tc(0x0000000a, '25')).toBeUndefined() // hours units 10
    expect(tc(0x00000024, '25')).toBeUndefined() // 24 hours
    expect(tc(0x25000000, '25')).toBeUndefined() // frame 25 at 25 fps
    expect(tc(0x40000000, '25')).toBeUndefined() // drop frame at 25 fps
    expect(tc(0x00006000, '25')).toBeUndefined() // 60 minutes
  })
})
