// The flag table every benchmark under scripts/bench/ reads: parseArgs (strict) takes each flag's
// `type` and `default`, --help prints its `description` (flags marked `hidden` are left out).
import { parseArgs } from 'node:util'

/**
 * A benchmark's flags, or undefined when --help was given (the table is printed then).
 * @template {Record<string, { type: 'boolean' | 'string', default: boolean | string, description: string, hidden?: boolean }>} T
 * @param {string} script  its file name under scripts/bench/, for the usage line
 * @param {T} table
 */
export function readBenchFlags(script, table) {
  const { values } = parseArgs({ options: table, strict: true })
  if (!values.help) return values
  console.log(`usage: node scripts/bench/${script} [flags]\n`)
  for (const [name, f] of Object.entries(table)) {
    if (!f.hidden) console.log(`  --${name.padEnd(12)} ${f.description}${f.type === 'string' ? ` (default ${f.default})` : ''}`)
  }
  return undefined
}

/** A flag's value as a positive integer, or an error naming the flag. @param {string} name @param {unknown} value */
export function positiveInt(name, value) {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(value)}`)
  return n
}
