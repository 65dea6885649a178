import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { AudioAnalyzer } from '../src/audio-analysis.js'
import { ffmpeg } from './helpers.js'

const RATE = 48_000
function sine(seconds: number, amplitude: number, freq = 1000, channels = 2): Float32Array[] {
  const n = Math.round(seconds * RATE)
  const p = new Float32Array(n)
  for (let i = 0; i < n; i++) p[i] = amplitude * Math.sin((2 * Math.PI * freq * i) / RATE)
  return Array.from({ length: channels }, () => p)
}

describe('audio analysis', () => {
  it("agrees with FFmpeg's ebur128 momentary loudness on a 1 kHz sine", () => {
    const a = new AudioAnalyzer({ sampleRate: RATE, channels: 2 })
    a.push(sine(2, 0.1))
    const out = runEbur128(0.1)
    expect(Math.abs(a.momentaryLufs() - out)).toBeLessThan(0.1) // ebur128 prints one decimal
  })

  it('scores 100 near target loudness, less when clipped, much less when sound goes silent', () => {
    const ok = new AudioAnalyzer({ sampleRate: RATE, channels: 2 })
    ok.push(sine(1, 0.1)) // about −23 LUFS
    expect(ok.score()).toBeGreaterThanOrEqual(95)
    const clipped = new AudioAnalyzer({ sampleRate: RATE, channels: 2 })
    clipped.push(sine(1, 1.5).map((p) => p.map((x) => Math.max(-1, Math.min(1, x)))))
    expect(clipped.score()!).toBeLessThan(60)
    const silent = new AudioAnalyzer({ sampleRate: RATE, channels: 2 })
    silent.push(sine(1, 0.1))
    silent.push(sine(2.5, 0))
    expect(silent.measurement().unexpectedSilence).toBe(true)
    expect(silent.score()!).toBeLessThanOrEqual(40)
    expect(new AudioAnalyzer({ sampleRate: RATE, channels: 2 }).score()).toBeUndefined()
  })
})

/** FFmpeg's ebur128 M (momentary) at the end of a 2 s stereo sine of this amplitude. */
function runEbur128(amplitude: number): number {
  // ebur128 logs to stderr; `sine` has amplitude 1/8, hence the volume factor.
  const err = execFileSync('sh', ['-c', `"${ffmpeg}" -hide_banner -nostats -f lavfi -i sine=frequency=1000:sample_rate=48000:duration=2 -af "volume=${amplitude * 8},pan=stereo|c0=c0|c1=c0,ebur128" -f null - 2>&1`], { encoding: 'utf8' })
  const ms = [...err.matchAll(/ M:\s*(-?[\d.]+)/g)].map((m) => Number(m[1]))
  return ms.at(-1)!
}
