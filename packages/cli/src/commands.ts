import { runDemo } from './commands/demo.js'
import { runEncode } from './commands/encode.js'
import { runImpair } from './commands/impair.js'
import { runInspect } from './commands/inspect.js'
import { runOrigin } from './commands/origin.js'
import { runPackage } from './commands/package.js'
import { runSource } from './commands/source.js'

export interface Command {
  readonly summary: string
  run(argv: readonly string[]): Promise<number>
}

export const COMMANDS = {
  encode: { summary: 'encode with every frame measured and its scores written as SEI', run: runEncode },
  source: { summary: 'a real-time contribution feed stamping timecode SEI on every frame', run: runSource },
  impair: { summary: 'a UDP relay that drops datagrams on a schedule (rain fade)', run: runImpair },
  package: { summary: 'segment on the timecode grid and serve HLS/DASH with CMSD-MQA', run: runPackage },
  origin: { summary: 'serve, segment by segment, the better of two chains (by CMSD MQA-VIDEO)', run: runOrigin },
  inspect: { summary: 'per-frame SEI records and per-GOP/segment aggregates of a file', run: runInspect },
  demo: { summary: 'the whole A/B chain on one machine, with a rain fade on path A', run: runDemo },
} as const satisfies Record<string, Command>
