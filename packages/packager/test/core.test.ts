import { readFileSync } from 'node:fs'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { TsDemuxer, VideoCodec } from '@mqa/common'
import { encode } from '@mqa/encoder'
import { PackagerCore } from '../src/index.js'

describe('packager core', () => {
  it('publishes every segment whole, PAT/PMT first, whatever the chunking and before the frame rate is known', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqa-core-'))
    const file = join(dir, 'in.ts')
    // A big first IDR (high bitrate, noise) is what a short carry-over used to cut.
    await encode({ input: 'lavfi:testsrc2=size=640x360:rate=25,noise=alls=20:allf=t', output: file, codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 6000, gopSeconds: 1, segmentSeconds: 1, timecode: 'wallclock', workers: 1, realtime: false, maxFrames: 100 })
    const bytes = new Uint8Array(readFileSync(file))
    for (const chunk of [1316, 65_536, 100_003]) {
      const core = new PackagerCore({ segmentSeconds: 1 })
      const published = []
      for (let i = 0; i < bytes.length; i += chunk) published.push(...core.push(bytes.subarray(i, i + chunk)))
      published.push(...core.flush())
      expect(published.length, `chunk ${chunk}`).toBeGreaterThanOrEqual(3)
      for (const s of published) {
        expect(s.ts[0], `segment ${s.number}, chunk ${chunk}`).toBe(0x47)
        expect(((s.ts[1]! & 0x1f) << 8) | s.ts[2]!).toBe(0) // PAT first
        const d = new TsDemuxer()
        const events = [...d.push(s.ts), ...d.flush()]
        const video = events.filter((e) => e.kind === 'pes' && e.codec === 'h264')
        expect(video.length, `segment ${s.number}, chunk ${chunk}`).toBe(s.frames)
        expect(video.every((e) => e.kind === 'pes' && !e.damaged)).toBe(true)
        // (The PAT/PMT copies in front may be out of continuity with those inside: PSI only.)
      }
    }
  }, 60_000)
})
