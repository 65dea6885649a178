import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { resolveFfmpeg } from './ffmpeg-bin.js'

const script = fileURLToPath(new URL('./ffmpeg-bin.js', import.meta.url))

describe('ffmpeg binary helper', () => {
  const saved = process.env.FFMPEG_BIN
  afterEach(() => {
    if (saved === undefined) delete process.env.FFMPEG_BIN
    else process.env.FFMPEG_BIN = saved
  })

  it('takes $FFMPEG_BIN first', () => {
    process.env.FFMPEG_BIN = '/usr/bin/ffmpeg'
    expect(resolveFfmpeg()).toMatchObject({ ffmpeg: '/usr/bin/ffmpeg', ffprobe: '/usr/bin/ffprobe', source: 'FFMPEG_BIN' })
  })

  it('falls back to a working ffmpeg when ffmpeg-static has no binary (its download is disabled offline)', () => {
    delete process.env.FFMPEG_BIN
    const picked = resolveFfmpeg()
    expect(['ffmpeg-static', 'system']).toContain(picked.source)
    expect(execFileSync(picked.ffmpeg, ['-hide_banner', '-version']).toString()).toMatch(/^ffmpeg version/)
  })

  it('says on stderr which one it picked', () => {
    const out = execFileSync('node', [script], { env: { ...process.env, FFMPEG_BIN: '/usr/bin/ffmpeg' }, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
    expect(out.trim()).toBe('/usr/bin/ffmpeg')
  })
})
