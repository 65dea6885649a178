#!/usr/bin/env node
/**
 * Build step: assemble the hand-written WebAssembly text kernels (src/metrics/*.wat) into
 * dist/metrics/*.wasm with wabt (a pinned devDependency, so a fresh `pnpm install` is enough, no
 * network). The .wasm files are build output, never committed.
 *
 *   node packages/encoder/scripts/assemble-wasm.js
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import initWabt from 'wabt'

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SRC = path.join(PACKAGE_ROOT, 'src/metrics')
const OUT = path.join(PACKAGE_ROOT, 'dist/metrics')

const wabt = await initWabt()
mkdirSync(OUT, { recursive: true })
for (const name of readdirSync(SRC).filter((f) => f.endsWith('.wat')).sort()) {
  const file = path.join(SRC, name)
  // SIMD128 is on by default in wabt 1.0.39; say so anyway, and nothing past what Node 20 runs.
  const module = wabt.parseWat(file, readFileSync(file, 'utf8'), { simd: true, multi_value: true, mutable_globals: true })
  try {
    module.validate()
    const { buffer } = module.toBinary({ log: false, write_debug_names: true })
    const target = path.join(OUT, name.replace(/\.wat$/, '.wasm'))
    writeFileSync(target, buffer)
    if (!WebAssembly.validate(buffer)) throw new Error(`${path.relative(PACKAGE_ROOT, target)}: this Node (${process.version}) does not accept the module`)
  } finally {
    module.destroy()
  }
}
