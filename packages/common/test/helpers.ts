import { MqaError } from '../src/index.js'
import { readFileSync } from 'node:fs'

/** Bytes from a hex string with optional spaces: hex('00 00 01'). */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '')
  const out = new Uint8Array(clean.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16)
  return out
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex')
}

/** A committed vector from test/vectors (see its README for provenance). */
export function vector(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(`./vectors/${name}`, import.meta.url)))
}

export function ascii(s: string): Uint8Array {
  return new TextEncoder().encode(s)
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/** The MqaError `fn` throws; fails the test when it throws nothing or something else. */
export function catchError(fn: () => unknown): MqaError {
  try {
    fn()
  } catch (err) {
    if (err instanceof MqaError) return err
    throw err
  }
  throw new Error('expected an MqaError, nothing was thrown')
}
