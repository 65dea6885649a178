import { constants, type Stats } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { parseUrlWithPort } from '@mqa/common'
import { beamcoderMessage, loadBeamcoder, type Beamcoder } from './beamcoder.js'
import { ShellError } from './errors.js'

export const OutputKind = { FILE: 'file', UDP: 'udp', STDOUT: 'stdout' } as const
export type OutputKind = (typeof OutputKind)[keyof typeof OutputKind]

export class OutputError extends ShellError<'ERR_OUTPUT'> {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('ERR_OUTPUT', message, options)
  }
}

/**
 * A file output's folder must exist and be writable, and the output must not be the input,
 * checked before the input is opened, so the mistake is named at once and not after the first
 * encoded frame (FFmpeg's own message then is only "Problem opening IO context").
 */
export async function assertWritableOutput(spec: string, input?: string): Promise<void> {
  ioUrl(spec) // a malformed udp:// throws here
  outputFormat(spec) // so does a container we do not write
  if (outputKind(spec) !== OutputKind.FILE) return
  const existing = await assertWritableFile(spec, 'output')
  // The same file by another name too (a link, ./x.ts): opening the output would truncate what is being read.
  const source = input === undefined ? undefined : await stat(input).catch(() => undefined)
  if (existing && source && existing.dev === source.dev && existing.ino === source.ino) {
    throw new OutputError(`cannot write output ${JSON.stringify(spec)}: it is the input, which writing would overwrite while it is read`)
  }
}

/**
 * A file mqa will write (`what`: an output, or the `--report`): its folder exists and is writable,
 * and it is not a directory. Checked before the input opens, so a typo is not found only at the
 * end of a long encode. Returns the file's stats when it exists already.
 */
export async function assertWritableFile(path: string, what: 'output' | 'report'): Promise<Stats | undefined> {
  const dir = dirname(path)
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error(`${dir} is not a directory`)
    await access(dir, constants.W_OK)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const why = e.code === 'ENOENT' ? `folder ${dir} does not exist` : e.code === 'EACCES' ? `folder ${dir} is not writable` : e.message
    throw new OutputError(`cannot write ${what} ${JSON.stringify(path)}: ${why}`, { cause: err })
  }
  const existing = await stat(path).catch(() => undefined)
  if (existing?.isDirectory()) throw new OutputError(`cannot write ${what} ${JSON.stringify(path)}: it is a directory`)
  return existing
}

export function outputKind(spec: string): OutputKind {
  if (spec === '-') return OutputKind.STDOUT
  if (spec.startsWith('udp://')) return OutputKind.UDP
  return OutputKind.FILE
}

/**
 * The container an output is written in: MP4 for .mp4/.m4v/.mov, MPEG-TS for .ts/.m2ts/.mts/.trp,
 * `udp://`, `-` and a file name without an extension. Any other extension is refused (a `.mkv`
 * written as MPEG-TS would be a silent lie).
 */
export function outputFormat(spec: string): string {
  if (/\.(mp4|m4v|mov)$/i.test(spec)) return 'mp4'
  if (outputKind(spec) !== OutputKind.FILE) return 'mpegts'
  const ext = /\.([^./\\]+)$/.exec(spec)?.[1]
  if (ext === undefined || /^(ts|m2ts|mts|trp)$/i.test(ext)) return 'mpegts'
  throw new OutputError(`output ${JSON.stringify(spec)}: mqa writes MPEG-TS (.ts) or MP4 (.mp4), not .${ext}`)
}

/** 7 TS packets: the usual payload of one UDP datagram. */
export const TS_DATAGRAM_BYTES = 188 * 7

/**
 * The URL FFmpeg's own I/O opens for an output. UDP: 7-packet datagrams unless the output names
 * its own `pkt_size`; any other option of FFmpeg's udp protocol in the query (`ttl`, `localaddr`,
 * `buffer_size`, `connect`, ...) is passed on as given.
 */
export function ioUrl(spec: string): string {
  const kind = outputKind(spec)
  if (kind === OutputKind.STDOUT) return 'pipe:1'
  if (kind === OutputKind.UDP) {
    let url: URL
    try {
      url = parseUrlWithPort(spec, 'udp', 'output')
    } catch (err) {
      throw new OutputError((err as Error).message, { cause: err })
    }
    if (!url.searchParams.has('pkt_size')) url.searchParams.set('pkt_size', String(TS_DATAGRAM_BYTES))
    return `udp://${url.hostname || '127.0.0.1'}:${url.port}?${url.searchParams.toString()}`
  }
  return spec
}

export interface StreamSpec {
  readonly name: string
  readonly codecpar: Record<string, unknown>
  /** ISO 639-2 language tag (the TS PMT's ISO_639_language_descriptor, MP4's mdhd). */
  readonly language?: string | undefined
}

/** A UDP output FFmpeg paces (`?bitrate=`), from a sending thread that ends at the first failed send. */
const PACED_UDP = /^udp:\/\/[^?]*\?(?:.*&)?bitrate=/
/** How long a paced UDP output whose thread ended waits before it is opened again. */
const REOPEN_AFTER_MS = 1000

function addStreamTo(m: Beamcoder.Muxer, spec: StreamSpec): number {
  const s = m.newStream({ name: spec.name, time_base: [1, 90000] } as never)
  Object.assign(s.codecpar, spec.codecpar)
  if (spec.language) s.metadata = { language: spec.language }
  return s.index
}

/** Told of each packet a UDP output could not send (it is lost on that output; the others go on). */
export type SendErrorListener = (spec: string, reason: string, total: number) => void

/**
 * One or several outputs that get the same packets: a muxer each (MPEG-TS, or MP4 for a .mp4
 * file), all written through FFmpeg's own I/O (file, udp, pipe), so no JavaScript stream sits
 * between the muxer and the socket. A file or stdout that cannot be written (a full disk, a
 * closed pipe) is an `OutputError` naming it; a UDP send that fails is counted and told to
 * `onSendError`, and the stream goes on (a live output outlives a passing network error).
 */
export class Outputs {
  readonly formatName: string
  readonly #specs: readonly string[]
  readonly #muxers: Beamcoder.Muxer[]
  readonly #streams: StreamSpec[] = []
  /**
   * Per output: when a paced UDP output (`?bitrate=`) whose sending thread has ended may be opened
   * again (performance.now() ms); undefined while it sends.
   */
  readonly #reopenAt: (number | undefined)[]
  readonly #onSendError: SendErrorListener | undefined
  #sendErrors = 0
  #open = false

  constructor(specs: readonly string[], options: { onSendError?: SendErrorListener } = {}) {
    this.#onSendError = options.onSendError
    if (specs.length === 0) throw new OutputError('no output given')
    const formats = new Set(specs.map(outputFormat))
    if (formats.size > 1) throw new OutputError('several outputs must share one container')
    this.#specs = specs
    this.formatName = outputFormat(specs[0]!)
    const b = loadBeamcoder()
    this.#muxers = specs.map(() => this.#newMuxer(b))
    this.#reopenAt = specs.map(() => undefined)
  }

  #newMuxer(b: ReturnType<typeof loadBeamcoder>): Beamcoder.Muxer {
    // (beamcoder's types do not declare the flag; its muxer object has it, true by default.)
    const m = b.muxer({ format_name: this.formatName }) as Beamcoder.Muxer & { interleaved: boolean }
    // Not interleaved: writeFrame reads this flag of the muxer (a stream's own `interleaved` is
    // ignored). Interleaving, FFmpeg's queue holds packets after their JavaScript objects are
    // collected and frees them on a worker thread, where beamcoder then deletes a JavaScript
    // reference: that corrupts Node's reference list and crashes the process later (a segfault
    // in DrainFinalizerQueue after 1–2 minutes of an encode with audio). The encoder writes in
    // DTS order itself.
    m.interleaved = false
    return m
  }

  get isOpen(): boolean {
    return this.#open
  }

  /** Packets (and trailers) UDP outputs could not send, over all of them. */
  get sendErrors(): number {
    return this.#sendErrors
  }

  /** A write to output `i` failed: counted for UDP, an OutputError for a file or stdout. */
  #failed(i: number, err: unknown): void {
    const spec = this.#specs[i]!
    const reason = beamcoderMessage(err).replace(/^Error writing (frame|trailer): /, '')
    if (outputKind(spec) === OutputKind.UDP) {
      this.#sendErrors++
      this.#onSendError?.(spec, reason, this.#sendErrors)
      // Paced (`?bitrate=`), FFmpeg sends from a thread of its own, which ends at the first failed
      // send: that output is opened again a second later (and again while sends fail).
      if (PACED_UDP.test(spec)) this.#reopenAt[i] ??= performance.now() + REOPEN_AFTER_MS
      return
    }
    throw new OutputError(`cannot write output ${JSON.stringify(spec)}: ${reason}`, { cause: err })
  }

  /** Add a stream to every muxer; returns its index. */
  addStream(spec: StreamSpec): number {
    let index = -1
    this.#streams.push(spec)
    for (const m of this.#muxers) index = addStreamTo(m, spec)
    return index
  }

  /**
   * A paced UDP output whose sending thread ended, due to be tried again: a new muxer (the same
   * streams, a new socket and thread; receivers see a new PAT/PMT and a continuity gap, as after
   * any outage) takes the old one's place. False when it is not due yet or cannot be opened.
   */
  async #reopen(i: number): Promise<boolean> {
    const due = this.#reopenAt[i]
    if (due === undefined) return true
    if (performance.now() < due) return false
    const m = this.#newMuxer(loadBeamcoder())
    for (const spec of this.#streams) addStreamTo(m, spec)
    try {
      await m.openIO({ url: ioUrl(this.#specs[i]!) } as never)
      await m.writeHeader()
    } catch {
      this.#reopenAt[i] = performance.now() + REOPEN_AFTER_MS
      return false
    }
    const old = this.#muxers[i]!
    this.#muxers[i] = m
    this.#reopenAt[i] = undefined
    try {
      old.forceClose()
    } catch {
      // Its socket and thread are gone already; nothing else to free.
    }
    return true
  }

  async open(): Promise<void> {
    for (const [i, m] of this.#muxers.entries()) {
      await m.openIO({ url: ioUrl(this.#specs[i]!) } as never)
      await m.writeHeader()
    }
    this.#open = true
  }

  /** Write one packet to every output (a fresh packet per muxer: the muxer takes what it is given). */
  async write(fields: { data: Uint8Array; size: number; pts: number; dts: number; duration: number; stream_index: number; flags: { KEY: boolean } }): Promise<void> {
    const b = loadBeamcoder()
    for (let i = 0; i < this.#muxers.length; i++) {
      if (this.#reopenAt[i] !== undefined && !(await this.#reopen(i))) {
        // Not sending (its thread ended, and it is not yet due to be opened again): lost there.
        this.#sendErrors++
        continue
      }
      const m = this.#muxers[i]!
      const data = Buffer.alloc(fields.size + 64) // FFmpeg reads up to 64 bytes past the end
      data.set(fields.data.subarray(0, fields.size))
      // Times come in 90 kHz; the MP4 muxer may have chosen its own time base in writeHeader
      // (1/sample_rate for audio), and writeFrame does not rescale.
      const [num = 1, den = 90000] = m.streams[fields.stream_index]?.time_base ?? []
      const t = num === 1 && den === 90000 ? (x: number) => x : (x: number) => Math.round((x * den) / (90000 * num))
      await m.writeFrame(b.packet({ ...fields, pts: t(fields.pts), dts: t(fields.dts), duration: t(fields.duration), data } as never)).catch((err: unknown) => this.#failed(i, err))
    }
  }

  async close(): Promise<void> {
    if (!this.#open) return
    this.#open = false
    for (const [i, m] of this.#muxers.entries()) await m.writeTrailer().catch((err: unknown) => this.#failed(i, err))
  }
}
