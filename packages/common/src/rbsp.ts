/**
 * Emulation prevention (H.264 7.4.1, H.265 7.4.2): inside a NAL unit, any 00 00 followed by a
 * byte <= 03 gets an 03 inserted, so a start code can never appear in a payload.
 */

/** RBSP → escaped NAL payload bytes. Returns the input itself when nothing needs escaping. */
export function escapeRbsp(rbsp: Uint8Array): Uint8Array {
  let zeros = 0
  let inserts = 0
  for (let i = 0; i < rbsp.length; i++) {
    const b = rbsp[i]!
    if (zeros >= 2 && b <= 3) {
      inserts++
      zeros = 0
    }
    zeros = b === 0 ? zeros + 1 : 0
  }
  if (inserts === 0) return rbsp
  const out = new Uint8Array(rbsp.length + inserts)
  let o = 0
  zeros = 0
  for (let i = 0; i < rbsp.length; i++) {
    const b = rbsp[i]!
    if (zeros >= 2 && b <= 3) {
      out[o++] = 3
      zeros = 0
    }
    out[o++] = b
    zeros = b === 0 ? zeros + 1 : 0
  }
  return out
}

/** Escaped NAL payload → RBSP: every 00 00 03 loses its 03. Returns the input when there is none. */
export function unescapeRbsp(data: Uint8Array): Uint8Array {
  let first = -1
  for (let i = 2; i < data.length; i++) {
    if (data[i] === 3 && data[i - 1] === 0 && data[i - 2] === 0) {
      first = i
      break
    }
  }
  if (first < 0) return data
  const out = new Uint8Array(data.length)
  out.set(data.subarray(0, first), 0)
  let o = first
  let zeros = 0
  for (let i = first + 1; i < data.length; i++) {
    const b = data[i]!
    if (zeros >= 2 && b === 3) {
      zeros = 0
      continue
    }
    out[o++] = b
    zeros = b === 0 ? zeros + 1 : 0
  }
  return out.subarray(0, o)
}
