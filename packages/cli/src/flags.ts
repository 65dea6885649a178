/**
 * A typed flag table per command: each flag names its spellings, its type and whether it may
 * repeat; `parseFlags` turns argv into a typed object or throws a UsageError naming what was wrong.
 */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE'
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

type FlagType = 'string' | 'number' | 'boolean'

export interface FlagSpec {
  readonly names: readonly string[]
  readonly type: FlagType
  readonly description: string
  readonly repeat?: boolean
  readonly required?: boolean
  /** Shown in help; parse gives undefined when absent so each command applies its defaults once. */
  readonly default?: string | number | boolean
  /** Allowed values, for strings. */
  readonly choices?: readonly string[]
  readonly min?: number
  readonly max?: number
  /** A positional argument instead of a flag (names[0] is its help name). */
  readonly positional?: boolean
}

export type FlagTable = Readonly<Record<string, FlagSpec>>

type ValueOf<S extends FlagSpec> = S['type'] extends 'number' ? number : S['type'] extends 'boolean' ? boolean : string

export type Parsed<T extends FlagTable> = {
  -readonly [K in keyof T]: T[K]['repeat'] extends true ? ValueOf<T[K]>[] : ValueOf<T[K]> | undefined
} & { help: boolean }

export function parseFlags<T extends FlagTable>(command: string, table: T, argv: readonly string[]): Parsed<T> {
  const out: Record<string, unknown> = { help: false }
  const byName = new Map<string, string>()
  const positionals: string[] = []
  for (const [key, spec] of Object.entries(table)) {
    if (spec.positional) positionals.push(key)
    else for (const n of spec.names) byName.set(n, key)
    if (spec.repeat) out[key] = []
  }
  let posIndex = 0
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--help' || arg === '-h') {
      out.help = true
      continue
    }
    let name = arg
    let inline: string | undefined
    if (arg.startsWith('--') && arg.includes('=')) {
      name = arg.slice(0, arg.indexOf('='))
      inline = arg.slice(arg.indexOf('=') + 1)
    }
    const key = byName.get(name)
    if (key === undefined) {
      if (arg.startsWith('-') && arg !== '-') throw new UsageError(`mqa ${command}: unknown flag ${arg} (see mqa ${command} --help)`)
      const pk = positionals[posIndex++]
      if (pk === undefined) throw new UsageError(`mqa ${command}: unexpected argument ${JSON.stringify(arg)}`)
      out[pk] = convert(command, table[pk]!, pk, arg)
      continue
    }
    const spec = table[key]!
    let value: unknown
    if (spec.type === 'boolean' && inline === undefined) value = true
    else {
      const raw = inline ?? argv[++i]
      if (raw === undefined) throw new UsageError(`mqa ${command}: ${name} needs a value`)
      value = convert(command, spec, name, raw)
    }
    if (spec.repeat) (out[key] as unknown[]).push(value)
    else if (out[key] !== undefined && spec.type !== 'boolean') {
      // Not the last one silently: `-o a.ts -o b.ts` to encode would write b.ts alone.
      throw new UsageError(`mqa ${command}: ${name} is given twice; it takes one value (see mqa ${command} --help)`)
    } else out[key] = value
  }
  if (!out.help) {
    for (const [key, spec] of Object.entries(table)) {
      const v = out[key]
      if (spec.required && (v === undefined || (Array.isArray(v) && v.length === 0))) {
        throw new UsageError(`mqa ${command}: ${spec.positional ? `<${spec.names[0]}>` : spec.names.at(-1)} is required (see mqa ${command} --help)`)
      }
    }
  }
  return out as Parsed<T>
}

function convert(command: string, spec: FlagSpec, name: string, raw: string): unknown {
  if (spec.type === 'number') {
    const n = Number(raw)
    if (raw.trim() === '' || !Number.isFinite(n)) throw new UsageError(`mqa ${command}: ${name} must be a number, got ${JSON.stringify(raw)}`)
    if (spec.min !== undefined && n < spec.min) throw new UsageError(`mqa ${command}: ${name} must be at least ${spec.min}, got ${raw}`)
    if (spec.max !== undefined && n > spec.max) throw new UsageError(`mqa ${command}: ${name} must be at most ${spec.max}, got ${raw}`)
    return n
  }
  if (spec.type === 'boolean') {
    if (raw === 'true' || raw === '1') return true
    if (raw === 'false' || raw === '0') return false
    throw new UsageError(`mqa ${command}: ${name} must be true or false, got ${JSON.stringify(raw)}`)
  }
  if (spec.choices && !spec.choices.includes(raw)) {
    throw new UsageError(`mqa ${command}: ${name} must be one of ${spec.choices.join(', ')}, got ${JSON.stringify(raw)}`)
  }
  return raw
}

export function helpText(command: string, summary: string, table: FlagTable): string {
  const lines = [`mqa ${command}: ${summary}`, '']
  for (const spec of Object.values(table)) {
    const left = spec.positional ? `<${spec.names[0]}>` : `${spec.names.join(', ')}${spec.type === 'boolean' ? '' : ` <${spec.type === 'number' ? 'n' : 'value'}>`}`
    const extra = [spec.choices ? `one of ${spec.choices.join('|')}` : '', spec.default !== undefined ? `default ${String(spec.default)}` : '', spec.repeat ? 'repeatable' : '', spec.required ? 'required' : '']
      .filter(Boolean)
      .join('; ')
    lines.push(`  ${left.padEnd(30)} ${spec.description}${extra ? ` (${extra})` : ''}`)
  }
  return lines.join('\n')
}

/**
 * "1280x720" → { width, height }: even sides (4:2:0) of at least 16, the smallest picture mqa can
 * measure (the encoder's MIN_PICTURE_SIDE: SSIM needs an 8x8 window in each half-size chroma plane).
 */
export function parseSize(command: string, raw: string | undefined): { width: number; height: number } | undefined {
  if (raw === undefined) return undefined
  const m = /^(\d{1,5})x(\d{1,5})$/.exec(raw)
  if (!m) throw new UsageError(`mqa ${command}: --size must be WxH, like 1280x720; got ${JSON.stringify(raw)}`)
  const width = Number(m[1])
  const height = Number(m[2])
  if (width % 2 !== 0 || height % 2 !== 0) throw new UsageError(`mqa ${command}: --size ${raw} has an odd side; 4:2:0 video needs even ones, like 1280x720`)
  if (width < 16 || height < 16) throw new UsageError(`mqa ${command}: --size ${raw} is too small; the smallest picture mqa measures is 16x16 (SSIM needs an 8x8 window in each half-size chroma plane)`)
  return { width, height }
}
