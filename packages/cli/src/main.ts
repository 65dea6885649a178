#!/usr/bin/env node
import { isMqaError } from '@mqa/common'
import { UsageError } from './flags.js'
import { COMMANDS } from './commands.js'

// Each live MPEG-TS input or output parks a libuv thread while it waits for bytes (beamcoder's
// stream adaptor); with the default 4 threads two chained components in one process can starve.
process.env.UV_THREADPOOL_SIZE ??= '16'

const USAGE = `usage: mqa <command> [flags]

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}`)
  .join('\n')}

mqa <command> --help shows a command's flags.`

/** Run the CLI; returns the exit code. User mistakes get one line, never a stack trace. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`)
    return name === undefined ? 2 : 0
  }
  const command = COMMANDS[name as keyof typeof COMMANDS]
  if (!command) {
    process.stderr.write(`mqa: unknown command ${JSON.stringify(name)}\n${USAGE}\n`)
    return 2
  }
  try {
    return await command.run(rest)
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`)
      return 2
    }
    if (isMqaError(err) || (err instanceof Error && 'code' in err && typeof (err as { code: unknown }).code === 'string' && String((err as { code: string }).code).startsWith('ERR_'))) {
      process.stderr.write(`mqa ${name}: ${err.message}\n`)
      return 1
    }
    throw err
  }
}

process.exitCode = await main(process.argv.slice(2))
