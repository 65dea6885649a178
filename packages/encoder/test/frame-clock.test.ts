import { frameRate, parseTimecode } from '@mqa/common'
import { describe, expect, it } from 'vitest'
import { FrameClock, TimecodeMode } from '../src/frame-clock.js'

const rate = frameRate(25)
const tick = 90_000 / 25

describe('frame clock', () => {
  it('takes the input timecode first', () => {
    const c = new FrameClock(TimecodeMode.INPUT, rate)
    expect(c.next({ timecode: '10:00:00:00', ptsTicks: 0, timescale: 90_000, nowMs: 0 })).toEqual({ frameIndex: 900_000, outputIndex: 900_000, restart: false, backwards: false, source: 'tc', discontinuity: false, dropFrame: false })
    expect(c.next({ timecode: '10:00:00:01', ptsTicks: tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 900_001, discontinuity: false })
  })

  it('carries on from the last timecode when it goes away, on the PTS', () => {
    const c = new FrameClock(TimecodeMode.INPUT, rate)
    c.next({ timecode: '10:00:00:00', ptsTicks: 1000 * tick, timescale: 90_000, nowMs: 0 })
    expect(c.next({ ptsTicks: 1001 * tick, timescale: 90_000, nowMs: 0 })).toEqual({ frameIndex: 900_001, outputIndex: 900_001, restart: false, backwards: false, source: 'pts', discontinuity: false, dropFrame: false })
    expect(c.next({ timecode: 'garbage', ptsTicks: 1002 * tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 900_002, source: 'pts' })
  })

  it('uses the PTS when told to, ignoring the timecode, and flags jumps', () => {
    const c = new FrameClock(TimecodeMode.PTS, rate)
    expect(c.next({ timecode: '10:00:00:00', ptsTicks: 10 * tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 10, source: 'pts' })
    expect(c.next({ ptsTicks: 13 * tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 13, discontinuity: true })
  })

  it('anchors the wall clock once, on the time of day, then follows the PTS', () => {
    const c = new FrameClock(TimecodeMode.WALLCLOCK, rate)
    const nowMs = Date.UTC(2026, 10, 23, 10, 0, 0) // 10:00:00 UTC
    expect(c.next({ ptsTicks: 5 * tick, timescale: 90_000, nowMs })).toMatchObject({ frameIndex: 900_000, source: 'wallclock' })
    expect(c.next({ ptsTicks: 6 * tick, timescale: 90_000, nowMs: nowMs + 999 })).toMatchObject({ frameIndex: 900_001 })
    expect(c.next({ timescale: 90_000, nowMs })).toMatchObject({ frameIndex: 900_002 })
  })

  it('gives two encoders of one timecoded source the same index whatever their PTS', () => {
    const a = new FrameClock(TimecodeMode.INPUT, rate)
    const b = new FrameClock(TimecodeMode.INPUT, rate)
    for (let i = 0; i < 50; i++) {
      const tc = `10:00:${String(Math.floor(i / 25)).padStart(2, '0')}:${String(i % 25).padStart(2, '0')}`
      const ra = a.next({ timecode: tc, ptsTicks: (i + 7) * tick, timescale: 90_000, nowMs: 0 })
      const rb = b.next({ timecode: tc, ptsTicks: (i + 900) * tick, timescale: 90_000, nowMs: 5000 })
      expect(ra.frameIndex).toBe(rb.frameIndex)
    }
  })

  it('counts on from a SMPTE start timecode, anchored on the stream start PTS; our SEI tc still wins', () => {
    const c = new FrameClock(TimecodeMode.INPUT, rate, { smpteStart: { timecode: '10:00:00:00', ptsTicks: 2 * tick } })
    // The first frame out of the decoder may come after the start (a lost first GOP): it still counts from the start PTS.
    expect(c.next({ ptsTicks: 5 * tick, timescale: 90_000, nowMs: 0 })).toEqual({ frameIndex: 900_003, outputIndex: 900_003, restart: false, backwards: false, source: 'smpte', discontinuity: false, dropFrame: false })
    expect(c.next({ ptsTicks: 6 * tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 900_004, source: 'smpte' })
    expect(c.next({ timecode: '11:00:00:00', ptsTicks: 7 * tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 990_000, source: 'tc', discontinuity: true })
    expect(c.next({ ptsTicks: 8 * tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 990_001, source: 'pts' })
  })

  it('takes a drop-frame SMPTE start at 29.97 and ignores it in pts mode or when it is malformed', () => {
    const ntsc = frameRate(30000, 1001)
    const t = 3003 // 90 kHz ticks per 29.97 frame
    const df = new FrameClock(TimecodeMode.INPUT, ntsc, { smpteStart: { timecode: '01:00:00;00' } })
    expect(df.next({ ptsTicks: 100 * t, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 107_892, source: 'smpte' }) // 1 h of 29.97 DF
    expect(new FrameClock(TimecodeMode.PTS, rate, { smpteStart: { timecode: '10:00:00:00' } }).next({ ptsTicks: 4 * tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 4, source: 'pts' })
    expect(new FrameClock(TimecodeMode.INPUT, rate, { smpteStart: { timecode: '10:00:00:99' } }).next({ ptsTicks: 4 * tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 4, source: 'pts' })
  })

  it('labels F as the input timecode is: non-drop-frame at 29.97 stays non-drop-frame, drop-frame by default', () => {
    const ntsc = frameRate(30000, 1001)
    const t = 3003
    const ndf = new FrameClock(TimecodeMode.INPUT, ntsc)
    // 00:00:59:28 non-drop-frame is frame 1798 of the day; two frames on is 00:01:00:00 (1800), which drop-frame would skip.
    expect(ndf.next({ timecode: '00:00:59:28', ptsTicks: 0, timescale: 90_000, nowMs: 0 })).toEqual({ frameIndex: 1798, outputIndex: 1798, restart: false, backwards: false, source: 'tc', discontinuity: false, dropFrame: false })
    // The timecode gone: the count carries on, still non-drop-frame.
    expect(ndf.next({ ptsTicks: t, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 1799, source: 'pts', dropFrame: false })
    expect(ndf.next({ timecode: '00:01:00:00', ptsTicks: 2 * t, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 1800, dropFrame: false })
    // A drop-frame timecode from then on is labelled drop-frame.
    expect(ndf.next({ timecode: '00:01:00;03', ptsTicks: 3 * t, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 1801, dropFrame: true })
    // A non-drop-frame SMPTE start tag, the frames' own S12M timecode, and no timecode at all.
    expect(new FrameClock(TimecodeMode.INPUT, ntsc, { smpteStart: { timecode: '01:00:00:00' } }).next({ ptsTicks: 0, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 108_000, source: 'smpte', dropFrame: false })
    expect(new FrameClock(TimecodeMode.INPUT, ntsc).next({ ptsTicks: 0, timescale: 90_000, nowMs: 0, smpte: parseTimecode('01:00:00:00') })).toMatchObject({ frameIndex: 108_000, dropFrame: false })
    expect(new FrameClock(TimecodeMode.INPUT, ntsc).next({ ptsTicks: 0, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 0, dropFrame: true })
    expect(new FrameClock(TimecodeMode.PTS, ntsc).next({ timecode: '00:00:59:28', ptsTicks: 0, timescale: 90_000, nowMs: 0 })).toMatchObject({ dropFrame: true })
  })

  it("takes each frame's own SMPTE timecode over the start tag and the PTS, counts on from it when it goes, and lets our SEI tc win", () => {
    const c = new FrameClock(TimecodeMode.INPUT, rate, { smpteStart: { timecode: '01:00:00:00', ptsTicks: 0 } })
    const at = (i: number, extra: object = {}) => c.next({ ptsTicks: i * tick, timescale: 90_000, nowMs: 0, ...extra })
    expect(at(0, { smpte: parseTimecode('10:59:58:00') })).toEqual({ frameIndex: 989_950, outputIndex: 989_950, restart: false, backwards: false, source: 'smpte', discontinuity: false, dropFrame: false })
    expect(at(1, { smpte: parseTimecode('10:59:58:01') })).toMatchObject({ frameIndex: 989_951, source: 'smpte', discontinuity: false })
    // Side data gone for a frame: the count carries on from it (not from the start tag).
    expect(at(2)).toMatchObject({ frameIndex: 989_952, source: 'smpte', discontinuity: false })
    // A jump in the frames' timecode is followed (a new source upstream).
    expect(at(3, { smpte: parseTimecode('12:00:00:00') })).toMatchObject({ frameIndex: 1_080_000, source: 'smpte', discontinuity: true })
    expect(at(4, { smpte: parseTimecode('12:00:00:01'), timecode: '13:00:00:00' })).toMatchObject({ frameIndex: 1_170_000, source: 'tc' })
    // In pts mode the frames' timecode is not used.
    expect(new FrameClock(TimecodeMode.PTS, rate).next({ ptsTicks: 4 * tick, timescale: 90_000, nowMs: 0, smpte: parseTimecode('10:00:00:00') })).toMatchObject({ frameIndex: 4, source: 'pts' })
  })

  it('counts on through midnight, for our SEI tc and for the frames\' SMPTE timecode, at 25 and at 29.97 drop-frame', () => {
    const c = new FrameClock(TimecodeMode.INPUT, rate)
    const day = 24 * 3600 * 25
    expect(c.next({ timecode: '23:59:59:24', ptsTicks: 0, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: day - 1 })
    expect(c.next({ timecode: '00:00:00:00', ptsTicks: tick, timescale: 90_000, nowMs: 0 })).toEqual({ frameIndex: day, outputIndex: day, restart: false, backwards: false, source: 'tc', discontinuity: false, dropFrame: false })
    expect(c.next({ smpte: parseTimecode('00:00:00:01'), ptsTicks: 2 * tick, timescale: 90_000, nowMs: 0 })).toEqual({ frameIndex: day + 1, outputIndex: day + 1, restart: false, backwards: false, source: 'smpte', discontinuity: false, dropFrame: false })
    expect(c.next({ ptsTicks: 3 * tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: day + 2, discontinuity: false, dropFrame: false })
    // The next midnight too.
    expect(c.next({ timecode: '23:59:59:24', ptsTicks: 4 * tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 2 * day - 1 })
    expect(c.next({ timecode: '00:00:00:00', ptsTicks: 5 * tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 2 * day, discontinuity: false, dropFrame: false })
    const ntsc = frameRate(30000, 1001)
    const df = new FrameClock(TimecodeMode.INPUT, ntsc)
    const dfDay = 2_589_408 // frames in a 29.97 drop-frame day
    expect(df.next({ timecode: '23:59:59;29', ptsTicks: 0, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: dfDay - 1 })
    expect(df.next({ timecode: '00:00:00;00', ptsTicks: 3003, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: dfDay, discontinuity: false, dropFrame: true })
  })

  it('follows a timecode that goes back more than a second within the day (a restarted source) while the output index counts on', () => {
    const c = new FrameClock(TimecodeMode.INPUT, rate)
    c.next({ timecode: '10:00:00:00', ptsTicks: 0, timescale: 90_000, nowMs: 0 })
    c.next({ timecode: '10:00:00:01', ptsTicks: tick, timescale: 90_000, nowMs: 0 })
    // Back an hour: F is the new timecode's (for the SEI and the segment grid), the output goes on.
    expect(c.next({ timecode: '09:00:00:00', ptsTicks: 2 * tick, timescale: 90_000, nowMs: 0 })).toEqual({ frameIndex: 810_000, outputIndex: 900_002, restart: true, backwards: false, source: 'tc', discontinuity: true, dropFrame: false })
    expect(c.next({ timecode: '09:00:00:01', ptsTicks: 3 * tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 810_001, outputIndex: 900_003, restart: false, discontinuity: false })
    // A jump forward after it keeps the shift: the output skips as the timecode does.
    expect(c.next({ timecode: '09:00:00:05', ptsTicks: 7 * tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 810_005, outputIndex: 900_007, restart: false, discontinuity: true })
    // A second restart shifts again, from where the output is.
    expect(c.next({ timecode: '08:00:00:00', ptsTicks: 8 * tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 720_000, outputIndex: 900_008, restart: true })
  })

  it('leaves a timecode less than a second back (repeated or stray) and a PTS a few frames back to the caller: the output index does not move on', () => {
    const c = new FrameClock(TimecodeMode.INPUT, rate)
    c.next({ timecode: '10:00:00:10', ptsTicks: 0, timescale: 90_000, nowMs: 0 })
    expect(c.next({ timecode: '10:00:00:10', ptsTicks: tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 900_010, outputIndex: 900_010, restart: false, backwards: true })
    expect(c.next({ timecode: '10:00:00:02', ptsTicks: 2 * tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 900_002, outputIndex: 900_002, restart: false, backwards: true, discontinuity: true })
    expect(c.next({ timecode: '10:00:00:11', ptsTicks: 3 * tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 900_011, outputIndex: 900_011, restart: false, backwards: false })
    const p = new FrameClock(TimecodeMode.PTS, rate)
    p.next({ ptsTicks: 100 * tick, timescale: 90_000, nowMs: 0 })
    expect(p.next({ ptsTicks: 98 * tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 98, outputIndex: 98, restart: false, backwards: true, discontinuity: true })
  })

  it('re-anchors on the last frame when the PTS jumps back by more than a second (the source restarted its timestamps)', () => {
    const c = new FrameClock(TimecodeMode.INPUT, rate)
    for (let i = 0; i < 100; i++) c.next({ ptsTicks: (1000 + i) * tick, timescale: 90_000, nowMs: 0 })
    expect(c.next({ ptsTicks: 0, timescale: 90_000, nowMs: 0 })).toEqual({ frameIndex: 1100, outputIndex: 1100, restart: false, backwards: false, source: 'pts', discontinuity: false, dropFrame: false })
    expect(c.next({ ptsTicks: tick, timescale: 90_000, nowMs: 0 })).toMatchObject({ frameIndex: 1101, discontinuity: false })
  })
})
