import { ErrorCode, MqaError } from '@mqa/common'

/**
 * A tiny ISO BMFF box writer (ISO/IEC 14496-12 §4.2): a box is a 32-bit big-endian size, a
 * four-character type and its payload; a full box adds an 8-bit version and 24-bit flags.
 * Field writers return fresh byte arrays, so a box reads top-down like the syntax in the spec:
 * `box('mfhd', u8(0), u24(0), u32(sequenceNumber))`.
 */

const MAX_U32 = 0xffff_ffff

function checkInt(value: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new MqaError(ErrorCode.VALUE_RANGE, `${what} must be an integer in [${min}, ${max}], got ${value}`)
  }
}

export function u8(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length)
  values.forEach((v, i) => {
    checkInt(v, 0, 0xff, 'u8')
    out[i] = v
  })
  return out
}

export function u16(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2)
  const view = new DataView(out.buffer)
  values.forEach((v, i) => {
    checkInt(v, 0, 0xffff, 'u16')
    view.setUint16(i * 2, v)
  })
  return out
}

export function i16(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2)
  const view = new DataView(out.buffer)
  values.forEach((v, i) => {
    checkInt(v, -0x8000, 0x7fff, 'i16')
    view.setInt16(i * 2, v)
  })
  return out
}

export function u24(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 3)
  values.forEach((v, i) => {
    checkInt(v, 0, 0xff_ffff, 'u24')
    out[i * 3] = v >>> 16
    out[i * 3 + 1] = (v >>> 8) & 0xff
    out[i * 3 + 2] = v & 0xff
  })
  return out
}

export function u32(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4)
  const view = new DataView(out.buffer)
  values.forEach((v, i) => {
    checkInt(v, 0, MAX_U32, 'u32')
    view.setUint32(i * 4, v)
  })
  return out
}

export function i32(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4)
  const view = new DataView(out.buffer)
  values.forEach((v, i) => {
    checkInt(v, -0x8000_0000, 0x7fff_ffff, 'i32')
    view.setInt32(i * 4, v)
  })
  return out
}

/** 64-bit unsigned, for values up to 2^53 − 1 (JavaScript's safe integers). */
export function u64(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 8)
  const view = new DataView(out.buffer)
  values.forEach((v, i) => {
    checkInt(v, 0, Number.MAX_SAFE_INTEGER, 'u64')
    view.setUint32(i * 8, Math.floor(v / 2 ** 32))
    view.setUint32(i * 8 + 4, v % 2 ** 32)
  })
  return out
}

/** A four-character code (box type, brand, handler type): exactly four ASCII characters. */
export function fourcc(code: string): Uint8Array {
  if (code.length !== 4 || !/^[\x20-\x7e]{4}$/.test(code)) {
    throw new MqaError(ErrorCode.VALUE_RANGE, `a four-character code needs 4 printable ASCII characters, got ${JSON.stringify(code)}`)
  }
  return Uint8Array.from(code, (c) => c.charCodeAt(0))
}

/** A NUL-terminated UTF-8 string (hdlr name, url location). */
export function cstring(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text)
  const out = new Uint8Array(bytes.length + 1)
  out.set(bytes)
  return out
}

/** `count` zero bytes (reserved fields). */
export function zeros(count: number): Uint8Array {
  return new Uint8Array(count)
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0
  for (const p of parts) size += p.length
  const out = new Uint8Array(size)
  let pos = 0
  for (const p of parts) {
    out.set(p, pos)
    pos += p.length
  }
  return out
}

/** A box: 32-bit size (header included), type, then the parts in order. */
export function box(type: string, ...parts: Uint8Array[]): Uint8Array {
  let size = 8
  for (const p of parts) size += p.length
  if (size > MAX_U32) throw new MqaError(ErrorCode.VALUE_RANGE, `box '${type}' of ${size} bytes needs a 64-bit size, which this writer does not produce`)
  const out = new Uint8Array(size)
  new DataView(out.buffer).setUint32(0, size)
  out.set(fourcc(type), 4)
  let pos = 8
  for (const p of parts) {
    out.set(p, pos)
    pos += p.length
  }
  return out
}

/** A full box: a box whose payload starts with an 8-bit version and 24-bit flags. */
export function fullBox(type: string, version: number, flags: number, ...parts: Uint8Array[]): Uint8Array {
  checkInt(version, 0, 0xff, `version of '${type}'`)
  checkInt(flags, 0, 0xff_ffff, `flags of '${type}'`)
  return box(type, u8(version), u24(flags), ...parts)
}
