// Builds scripts/bench/c-floor.c, the encoder benchmark's native floor, with the system's C
// compiler against the FFmpeg development libraries scripts/setup installs (pkg-config finds
// them). Rebuilt only when the source is newer than the binary.
import { existsSync, mkdirSync, statSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const NATIVE_FLOOR_SOURCE = join(root, 'scripts', 'bench', 'c-floor.c')

/** @param {string} outDir @returns {string} the binary's path */
export function buildNativeFloor(outDir) {
  const bin = join(outDir, 'c-floor')
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(NATIVE_FLOOR_SOURCE).mtimeMs) return bin
  mkdirSync(outDir, { recursive: true })
  const pc = spawnSync('pkg-config', ['--cflags', '--libs', 'libavformat', 'libavcodec', 'libavfilter', 'libavutil'], { encoding: 'utf8' })
  if (pc.error || pc.status !== 0) throw new Error(`pkg-config found no FFmpeg development libraries (scripts/setup installs them): ${pc.error?.message ?? pc.stderr.trim()}`)
  const cc = spawnSync('cc', ['-O2', '-Wall', '-o', bin, NATIVE_FLOOR_SOURCE, ...pc.stdout.trim().split(/\s+/)], { encoding: 'utf8' })
  if (cc.error || cc.status !== 0) throw new Error(`cc could not build ${relative(root, NATIVE_FLOOR_SOURCE)}: ${cc.error?.message ?? cc.stderr.trim()}`)
  return bin
}
