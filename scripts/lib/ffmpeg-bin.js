#!/usr/bin/env node
// The one place that decides which ffmpeg/ffprobe binaries tests, fixtures and benchmarks run.
// Order: $FFMPEG_BIN, then ffmpeg-static's binary if its installer managed to download it (it
// cannot offline), then the system `ffmpeg` on PATH. Run directly, it prints the ffmpeg path and
// says on stderr which one it picked.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** @returns {{ ffmpeg: string, ffprobe: string, source: 'FFMPEG_BIN' | 'ffmpeg-static' | 'system' }} */
export function resolveFfmpeg() {
  if (process.env.FFMPEG_BIN) {
    return { ffmpeg: process.env.FFMPEG_BIN, ffprobe: process.env.FFPROBE_BIN ?? siblingProbe(process.env.FFMPEG_BIN), source: 'FFMPEG_BIN' }
  }
  try {
    const require = createRequire(join(root, 'packages', 'encoder', 'package.json'))
    const staticPath = require('ffmpeg-static')
    if (typeof staticPath === 'string' && existsSync(staticPath)) {
      return { ffmpeg: staticPath, ffprobe: 'ffprobe', source: 'ffmpeg-static' }
    }
  } catch {
    // not installed (it is optional): fall through to the system ffmpeg
  }
  return { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe', source: 'system' }
}

function siblingProbe(ffmpegPath) {
  const probe = join(dirname(ffmpegPath), 'ffprobe')
  return existsSync(probe) ? probe : 'ffprobe'
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const picked = resolveFfmpeg()
  process.stderr.write(`ffmpeg: using ${picked.ffmpeg} (${picked.source})\n`)
  process.stdout.write(`${process.argv[2] === 'ffprobe' ? picked.ffprobe : picked.ffmpeg}\n`)
}
