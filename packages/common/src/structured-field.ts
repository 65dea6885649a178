import { serializeInteger, serializeKey, serializeString, serializeToken, Token, SerializeError } from 'structured-headers'
import { ErrorCode, MqaError } from './errors.js'

/**
 * A typed bare item for serialization. structured-headers decides Integer vs Decimal by
 * Number.isInteger and writes 41 as `41` (and its serializeDecimal writes `41.`), so a Decimal
 * that happens to be whole would lose its type; this keeps the type the wire format names.
 */
export type SfBare =
  | { readonly kind: 'integer'; readonly value: number }
  | { readonly kind: 'decimal'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'token'; readonly value: string }
  | { readonly kind: 'boolean'; readonly value: boolean }

export const sfInteger = (value: number): SfBare => ({ kind: 'integer', value })
export const sfDecimal = (value: number): SfBare => ({ kind: 'decimal', value })
export const sfString = (value: string): SfBare => ({ kind: 'string', value })
export const sfToken = (value: string): SfBare => ({ kind: 'token', value })
export const sfBoolean = (value: boolean): SfBare => ({ kind: 'boolean', value })

export interface SfMember {
  readonly key: string
  readonly value: SfBare
  readonly params?: readonly (readonly [string, SfBare])[]
}

/** RFC 8941 §4.1.5: at most 3 fractional digits, at least one, integer part ≤ 12 digits. */
export function formatDecimal(value: number): string {
  if (!Number.isFinite(value)) throw new MqaError(ErrorCode.VALUE_RANGE, `decimal ${value} is not finite`)
  const rounded = Math.round(value * 1000) / 1000
  if (Math.abs(rounded) >= 1e12) throw new MqaError(ErrorCode.VALUE_RANGE, `decimal ${value} has more than 12 integer digits`)
  if (rounded === 0) return '0.0'
  let s = rounded.toFixed(3).replace(/0+$/, '')
  if (s.endsWith('.')) s += '0'
  return s
}

export function serializeBare(item: SfBare): string {
  try {
    switch (item.kind) {
      case 'integer':
        if (!Number.isInteger(item.value)) throw new MqaError(ErrorCode.VALUE_RANGE, `integer expected, got ${item.value}`)
        return serializeInteger(item.value)
      case 'decimal':
        return formatDecimal(item.value)
      case 'string':
        return serializeString(item.value)
      case 'token':
        return serializeToken(new Token(item.value))
      case 'boolean':
        return item.value ? '?1' : '?0'
    }
  } catch (err) {
    if (err instanceof MqaError) throw err
    throw new MqaError(ErrorCode.VALUE_RANGE, `cannot serialize ${item.kind} ${JSON.stringify(item.value)}: ${(err as Error).message}`, { cause: err })
  }
}

function serializeParams(params: SfMember['params']): string {
  let out = ''
  for (const [key, value] of params ?? []) {
    out += `;${serializeKey(key)}`
    if (!(value.kind === 'boolean' && value.value)) out += `=${serializeBare(value)}`
  }
  return out
}

/** One item with its parameters, e.g. a CMSD-Dynamic list member. */
export function serializeSfItem(value: SfBare, params?: SfMember['params']): string {
  return serializeBare(value) + serializeParams(params)
}

/** A Dictionary, members joined by a bare comma (the compact form CMSD and CMCD use). */
export function serializeSfDictionary(members: readonly SfMember[]): string {
  const seen = new Set<string>()
  return members
    .map((m) => {
      try {
        serializeKey(m.key)
      } catch (err) {
        throw new MqaError(ErrorCode.VALUE_RANGE, `invalid structured-field key ${JSON.stringify(m.key)}`, { cause: err })
      }
      if (seen.has(m.key)) throw new MqaError(ErrorCode.VALUE_RANGE, `duplicate structured-field key ${JSON.stringify(m.key)}`)
      seen.add(m.key)
      const bareTrue = m.value.kind === 'boolean' && m.value.value
      return (bareTrue ? m.key : `${m.key}=${serializeBare(m.value)}`) + serializeParams(m.params)
    })
    .join(',')
}

export { SerializeError, Token }
