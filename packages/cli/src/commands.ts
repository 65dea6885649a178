export interface Command {
  readonly summary: string
  run(argv: readonly string[]): Promise<number>
}

// Each command's module (and the packages it needs) is loaded only when that command runs: an
// `mqa encode` does not load the packager, the origin or the demo's browser page, which is less
// start-up and a smaller heap for every garbage collection of a long run to walk.
export const COMMANDS = {
  encode: { summary: 'encode with every frame measured and its scores written as SEI', run: async (argv) => (await import('./commands/encode.js')).runEncode(argv) },
  source: { summary: 'a real-time contribution feed stamping timecode SEI on every frame', run: async (argv) => (await import('./commands/source.js')).runSource(argv) },
  impair: { summary: 'a UDP relay that drops datagrams on a schedule (rain fade)', run: async (argv) => (await import('./commands/impair.js')).runImpair(argv) },
  package: { summary: 'segment on the timecode grid and serve HLS/DASH with CMSD-MQA', run: async (argv) => (await import('./commands/package.js')).runPackage(argv) },
  origin: { summary: 'serve, segment by segment, the better of two chains (by CMSD MQA-VIDEO)', run: async (argv) => (await import('./commands/origin.js')).runOrigin(argv) },
  inspect: { summary: 'per-frame SEI records and per-GOP/segment aggregates of a file', run: async (argv) => (await import('./commands/inspect.js')).runInspect(argv) },
  demo: { summary: 'the whole A/B chain on one machine, with a rain fade on path A', run: async (argv) => (await import('./commands/demo.js')).runDemo(argv) },
} as const satisfies Record<string, Command>
