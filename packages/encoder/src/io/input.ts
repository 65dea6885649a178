import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { createSocket, type Socket } from 'node:dgram'
import { createReadStream, openSync, readSync, closeSync, statSync } from 'node:fs'
import { PassThrough, type Readable } from 'node:stream'
import { type FrameRate, type UdpBufferNotice, type UdpListen, acceptsSender, frameRate, joinUdpGroup, parseFrameRate, parseUdpListen, parseUrlWithPort, setUdpReceiveBuffer } from '@mqa/common'
import { assertReadableInput, beamcoderMessage, loadBeamcoder, type Beamcoder } from './beamcoder.js'
import { TransportMonitor } from './transport-monitor.js'
import { ShellError } from './errors.js'

export const InputKind = { FILE: 'file', TS_FILE: 'ts-file', LAVFI: 'lavfi', UDP: 'udp', SRT: 'srt', STDIN: 'stdin' } as const
export type InputKind = (typeof InputKind)[keyof typeof InputKind]

export class InputError extends ShellError<'ERR_INPUT'> {
  /** The open was abandoned because a stop came before the input sent anything. */
  readonly stopped: boolean
  constructor(message: string, options: { cause?: unknown; stopped?: boolean } = {}) {
    super('ERR_INPUT', message, options)
    this.stopped = options.stopped ?? false
  }
}

export interface OpenedInput {
  readonly kind: InputKind
  readonly demuxer: Beamcoder.Demuxer
  readonly videoIndex: number
  readonly audioIndex: number | undefined
  /** The video stream's time base as [num, den]. */
  readonly timeBase: readonly [number, number]
  readonly rate: FrameRate
  /** Transport-level error counting, for MPEG-TS inputs read through our own demuxer. */
  readonly transport: TransportMonitor | undefined
  /**
   * The byte stream feeding the demuxer. Held here on purpose: the native demuxer reads through
   * it without keeping it alive, and once garbage-collected the process stalls or crashes.
   */
  readonly feed: unknown
  close(): Promise<void>
}

/** Classify an input argument (`-i`). */
export function inputKind(spec: string): InputKind {
  if (spec === '-') return InputKind.STDIN
  if (spec.startsWith('lavfi:')) return InputKind.LAVFI
  if (spec.startsWith('udp://')) return InputKind.UDP
  if (spec.startsWith('srt://')) return InputKind.SRT
  return looksLikeTs(spec) ? InputKind.TS_FILE : InputKind.FILE
}

/** What the first bytes of a file say it is; undefined for anything beamcoder should not be given. */
export function sniffContainer(path: string): 'mp4' | 'matroska' | 'annexb' | 'mpegts' | undefined {
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    const head = Buffer.alloc(16)
    const n = readSync(fd, head, 0, head.length, 0)
    if (n >= 8 && ['ftyp', 'moov', 'mdat', 'free', 'wide'].includes(head.toString('latin1', 4, 8))) return 'mp4'
    if (n >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) return 'matroska'
    if (n >= 4 && head[0] === 0 && head[1] === 0 && (head[2] === 1 || (head[2] === 0 && head[3] === 1))) return 'annexb'
    if (n >= 1 && head[0] === 0x47) return 'mpegts'
    return undefined
  } catch {
    return undefined
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

function looksLikeTs(path: string): boolean {
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    const head = Buffer.alloc(188 * 3 + 1)
    const n = readSync(fd, head, 0, head.length, 0)
    return n >= 377 && head[0] === 0x47 && head[188] === 0x47 && head[376] === 0x47
  } catch {
    return false
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/**
 * FFmpeg's own words for why an input does not open. beamcoder's rejection says only
 * "Problem opening input format: Invalid data found when processing input"; the system's ffprobe
 * (the same FFmpeg libraries, Debian's `ffmpeg` package) adds what its demuxer logged ("moov atom
 * not found", "No such filter: 'x'"). So when beamcoder fails to open a file or lavfi graph,
 * ffprobe is asked why, in its own process (about 0.1 s, only on that error path). It used to open
 * every input before beamcoder, because beamcoder 0.7.1 could segfault after a failed open; the
 * patch fixed that (docs/encoder.md), and the pre-check's 0.12 s came off every encode's start.
 * Undefined when ffprobe opens it, or there is no ffprobe on this machine.
 */
async function ffprobeFailure(target: string, options: { lavfi: boolean; timeoutMs?: number }): Promise<string | undefined> {
  const args = ['-v', 'error', ...(options.lavfi ? ['-f', 'lavfi'] : []), target]
  return new Promise((resolve) => {
    execFile(process.env.FFPROBE_BIN ?? 'ffprobe', args, { timeout: options.timeoutMs ?? 15_000, maxBuffer: 4 << 20, encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (!err || (err as NodeJS.ErrnoException).code === 'ENOENT') return resolve(undefined)
      resolve((err as { killed?: boolean }).killed ? 'probing it took longer than 15 s' : ffprobeReason(stderr, target))
    })
  })
}

/** ffprobe's last line says why (`<path>: Invalid data found ...`); a `[demuxer @ 0x..] detail` line before it says more. */
function ffprobeReason(stderr: string, target: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean)
  let last = lines.at(-1)?.replace(`${target}: `, '') ?? 'ffprobe could not read it'
  if (last === 'End of file') last = 'it ends before any stream could be found'
  const detail = lines.slice(0, -1).map((l) => /^\[[^\]]+\] (.+)$/.exec(l)?.[1]).find(Boolean)
  return detail && detail !== last ? `${last} (${detail})` : last
}

/** Why `target` did not open: ffprobe's reason when it cannot open it either, else beamcoder's. */
async function openFailureReason(target: string, lavfi: boolean, err: unknown): Promise<string> {
  return (await ffprobeFailure(target, { lavfi })) ?? beamcoderMessage(err)
}

function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

export interface OpenInputOptions {
  /** Frame rate to assume when the input does not say (or to override it). */
  readonly fps?: FrameRate | undefined
  /** Called when `fps` differs from the rate the input states (it wins: see openInput). */
  readonly onRateOverride?: ((stated: FrameRate, given: FrameRate) => void) | undefined
  /** Bound on bytes waiting between the socket and the demuxer. */
  readonly maxBufferedBytes?: number
  /**
   * A stop while the demuxer is still probing a live input ends the byte stream, so the probe
   * finishes on what was received instead of waiting for bytes forever.
   */
  readonly signal?: AbortSignal | undefined
  /** `checkInput(spec)`, already started by the caller; when absent, openInput runs it. */
  readonly checked?: Promise<void> | undefined
  /** Told when a live source's connection ends or cannot be made (SRT), and that it is retried. */
  readonly onSourceEvent?: ((event: SourceEvent) => void) | undefined
  /** Told of a UDP input's receive buffer smaller than asked (the input is still read). */
  readonly onBufferNotice?: ((notice: UdpBufferNotice) => void) | undefined
}

/** A live source's connection ended (or did not come up) and is being made again. */
export interface SourceEvent {
  readonly kind: 'srt-ended'
  /** What the SRT relay said last (ffmpeg's error line), or its exit status. */
  readonly reason: string
  /** Times the connection has ended so far. */
  readonly count: number
}

/**
 * What is checked before beamcoder is given an input (`InputError` naming it): a file exists, is
 * readable and is a container we take. Cheap (no process): pass the promise to `openInput` as
 * `checked`, to have it settle while beamcoder loads.
 */
export async function checkInput(spec: string): Promise<void> {
  const kind = inputKind(spec)
  if (kind === InputKind.UDP) return void udpListen(spec)
  if (kind === InputKind.SRT) return checkSrtPort(spec)
  if (kind !== InputKind.FILE && kind !== InputKind.TS_FILE) return
  // A URL of a protocol mqa does not read (http://, rtmp://, rtp://): named as such, not as a missing file.
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(spec)?.[1]
  if (scheme !== undefined && scheme.toLowerCase() !== 'file') {
    throw new InputError(`cannot open input ${JSON.stringify(spec)}: mqa reads a file, udp://, srt://, - (stdin) or lavfi:<graph>, not ${scheme}:// (relay it, e.g. ffmpeg -i ${JSON.stringify(spec)} -c copy -f mpegts udp://127.0.0.1:5000)`)
  }
  const known = kind === InputKind.TS_FILE || sniffContainer(spec) !== undefined
  await assertReadableInput(spec).catch((err: unknown) => {
    const cause = (err as Error).cause as NodeJS.ErrnoException | undefined
    const why = cause?.code === 'ENOENT' ? 'no such file' : cause?.code === 'EACCES' ? 'it is not readable' : (cause?.message ?? (err as Error).message)
    throw new InputError(`cannot open input ${JSON.stringify(spec)}: ${why}`, { cause: err })
  })
  if (!known) {
    // An empty file (a recording that never started, a failed download) is said to be one.
    const empty = statSync(spec, { throwIfNoEntry: false })?.size === 0
    throw new InputError(`cannot open input ${JSON.stringify(spec)}: ${empty ? 'it is empty (0 bytes)' : 'it is not MPEG-TS, MP4/MOV, Matroska or an H.264/H.265 elementary stream'}`)
  }
}

/** Common's URL errors (`ERR_URL_INVALID`) raised as `ERR_INPUT`, message unchanged. */
function asInputError<T>(read: () => T): T {
  try {
    return read()
  } catch (err) {
    throw new InputError((err as Error).message, { cause: err })
  }
}

/** What a UDP input binds and joins (common's parseUdpListen). */
const udpListen = (spec: string): UdpListen => asInputError(() => parseUdpListen(spec))

/**
 * An SRT input names the port it listens on or calls: without one (or with 0) the relay would
 * listen on a port no caller knows, or call nowhere, and the encoder would wait for ever.
 */
const checkSrtPort = (spec: string): void => void asInputError(() => parseUrlWithPort(spec, 'srt', 'input'))

export async function openInput(spec: string, options: OpenInputOptions = {}): Promise<OpenedInput> {
  // Before the try below: these errors are already ours and name the input.
  await (options.checked ?? checkInput(spec))
  const b = loadBeamcoder()
  const kind = inputKind(spec)
  let demuxer: Beamcoder.Demuxer
  let transport: TransportMonitor | undefined
  let closeSource: () => Promise<void> = async () => {}
  let feed: unknown
  try {
    if (kind === InputKind.LAVFI) {
      const graph = spec.slice('lavfi:'.length)
      demuxer = await b.demuxer({ url: graph, iformat: b.demuxers().lavfi } as never).catch(async (err: unknown) => {
        throw new InputError(`cannot open input ${JSON.stringify(spec)}: ${await openFailureReason(graph, true, err)}`, { cause: err })
      })
    } else if (kind === InputKind.FILE) {
      // (A FIFO or device is live input: ffprobe would eat its first bytes, so it is not asked.)
      demuxer = await b.demuxer(spec).catch(async (err: unknown) => {
        const why = isRegularFile(spec) ? await openFailureReason(spec, false, err) : beamcoderMessage(err)
        throw new InputError(`cannot open input ${JSON.stringify(spec)}: ${why}`, { cause: err })
      })
    } else {
      // MPEG-TS we read ourselves first: every packet passes the transport monitor on its way in.
      transport = new TransportMonitor()
      const source = openByteSource(kind, spec, options.maxBufferedBytes ?? 32 << 20, transport, options)
      const stream = source.stream
      let closed: Promise<void> | undefined
      const close = () => (closed ??= source.close()) // once: a UDP socket closed twice throws
      closeSource = close
      if (options.signal?.aborted) void close()
      else options.signal?.addEventListener('abort', () => void close(), { once: true })
      // Garbage never reaches beamcoder (a failed open can crash it, and it prints DEBUG lines
      // onto stdout): the bytes wait in the byte stream until the monitor has found MPEG-TS.
      await untilMpegTs(spec, transport, stream, options.signal).catch(async (err: unknown) => {
        await close()
        throw err
      })
      const ds = b.demuxerStream({ highwaterMark: 1 << 20 })
      feed = { stream, ds }
      stream.pipe(ds as unknown as NodeJS.WritableStream)
      // A byte source failing mid-run (a socket error) ends the demuxer's input, so the encode
      // drains what it has and finishes, instead of an uncaught error or a demuxer waiting for ever.
      stream.on('error', () => (ds as unknown as NodeJS.WritableStream).end())
      // A live stream never ends: bound the probe (FFmpeg's default reads 5 MB first: 13 s at
      // 3 Mb/s). 256 KB holds several PAT/PMT cycles and audio frames at contribution bitrates.
      demuxer = await ds.demuxer({ iformat: b.demuxers().mpegts, options: { probesize: '262144', analyzeduration: '1000000' } } as never)
    }
  } catch (err) {
    await closeSource()
    if (err instanceof InputError) throw err
    throw new InputError(`cannot open input ${JSON.stringify(spec)}: ${(err as Error).message}`, { cause: err })
  }
  const videoIndex = demuxer.streams.findIndex((s) => s.codecpar.codec_type === 'video')
  if (videoIndex < 0) {
    await closeSource()
    const types = demuxer.streams.map((st) => st.codecpar.codec_type ?? 'unknown')
    if (types.length === 0) throw new InputError(`cannot open input ${JSON.stringify(spec)}: no stream could be found in it`)
    throw new InputError(`input ${JSON.stringify(spec)} has no video stream (streams: ${types.join(', ')})`)
  }
  const audioIndex = demuxer.streams.findIndex((s) => s.codecpar.codec_type === 'audio')
  const vs = demuxer.streams[videoIndex]!
  // --fps names the input's true rate: for an input that does not say it, or says it wrongly (a
  // live TS whose rate FFmpeg guessed). It relabels, it does not convert: the caller is told when
  // it differs from what the input says (onRateOverride), since frame indices then follow --fps.
  const stated = rateOf(vs)
  const rate = options.fps ?? stated
  // (A raw elementary stream states nothing: FFmpeg's figure for it is a guess, not worth a warning.)
  const guessed = kind === InputKind.FILE && sniffContainer(spec) === 'annexb'
  if (stated && options.fps && !guessed && stated.num * options.fps.den !== options.fps.num * stated.den) options.onRateOverride?.(stated, options.fps)
  if (!rate) {
    await closeSource()
    throw new InputError(`input ${JSON.stringify(spec)} does not say its frame rate: give --fps`)
  }
  let closing: Promise<void> | undefined
  const close = () => (closing ??= closeSource().then(() => releaseGovernor(feed)))
  return {
    kind,
    demuxer,
    videoIndex,
    audioIndex: audioIndex >= 0 ? audioIndex : undefined,
    timeBase: [vs.time_base[0]!, vs.time_base[1]!],
    rate,
    transport,
    feed,
    close,
  }
}

/** Bytes a live or piped input may send before it has to look like MPEG-TS. */
const TS_SNIFF_BYTES = 64 * 1024

/**
 * Resolves once the transport monitor has read MPEG-TS packets from the byte stream (sync bytes
 * 188 apart), or the stream ended or was stopped first (the demuxer then sees what there is);
 * rejects when the first 64 KB held none. Polls: the monitor is fed by the source's own handlers.
 */
async function untilMpegTs(spec: string, monitor: TransportMonitor, stream: PassThrough, signal: AbortSignal | undefined): Promise<void> {
  // The stream is not read yet, so its readable side never ends: 'finish' says its writer is done.
  let ended = stream.writableFinished || stream.destroyed
  let failed: Error | undefined
  const onEnd = () => (ended = true)
  const onError = (err: Error) => (failed = err)
  stream.once('finish', onEnd)
  stream.once('close', onEnd)
  stream.once('error', onError)
  try {
    for (;;) {
      if (failed) throw failed instanceof InputError ? failed : new InputError(`cannot read input ${JSON.stringify(spec)}: ${failed.message}`, { cause: failed })
      const st = monitor.stats
      if ((st.packets ?? 0) > 0) return
      if (signal?.aborted) throw new InputError(`stopped before input ${JSON.stringify(spec)} sent MPEG-TS`, { stopped: true })
      if ((st.bytes ?? 0) >= TS_SNIFF_BYTES) {
        throw new InputError(`input ${JSON.stringify(spec)} is not MPEG-TS: no packets (sync byte 0x47 every 188 bytes) in its first ${st.bytes} bytes`)
      }
      if (ended) {
        if ((st.bytes ?? 0) > 0) throw new InputError(`input ${JSON.stringify(spec)} is not MPEG-TS: it ended after ${st.bytes} bytes without a packet (sync byte 0x47 every 188 bytes)`)
        throw new InputError(`input ${JSON.stringify(spec)} ended before any byte arrived`)
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  } finally {
    stream.off('finish', onEnd)
    stream.off('close', onEnd)
    stream.off('error', onError)
  }
}

function rateOf(stream: Beamcoder.Stream): FrameRate | undefined {
  for (const r of [stream.avg_frame_rate, stream.r_frame_rate]) {
    const [num, den] = [r?.[0] ?? 0, r?.[1] ?? 0]
    if (num > 0 && den > 0 && num / den <= 240) return den === 1001 || den === 1 ? frameRate(num, den) : parseFrameRate(String(num / den))
  }
  return undefined
}

/**
 * A byte stream of MPEG-TS from UDP, SRT, stdin or a file, passed through the transport monitor.
 * UDP and SRT cannot be paused: past `maxBufferedBytes` waiting, bytes are dropped and counted.
 */
function openByteSource(kind: InputKind, spec: string, maxBufferedBytes: number, monitor: TransportMonitor, tell: Pick<OpenInputOptions, 'onSourceEvent' | 'onBufferNotice'>): { stream: PassThrough; close: () => Promise<void> } {
  const out = new PassThrough({ highWaterMark: 1 << 20 })
  // A source that cannot be paused: bytes past the bound are dropped and counted, not queued.
  const deliver = (chunk: Buffer) => {
    if (out.writableLength > maxBufferedBytes) {
      monitor.countOverflow(chunk.length)
      return
    }
    monitor.push(chunk)
    out.write(chunk)
  }
  if (kind === InputKind.SRT) return srtByteSource(spec, out, deliver, monitor, tell.onSourceEvent)
  if (kind === InputKind.UDP) {
    const listen = udpListen(spec)
    const socket: Socket = createSocket({ type: listen.family, reuseAddr: true })
    socket.on('message', (msg, from) => {
      if (acceptsSender(listen, from.address)) deliver(msg)
    })
    socket.on('error', (err) => out.destroy(err))
    socket.bind(listen.port, listen.host, () => {
      const notice = setUdpReceiveBuffer(socket, listen, spec)
      if (notice !== undefined) tell.onBufferNotice?.(notice)
      try {
        joinUdpGroup(socket, listen, spec)
      } catch (err) {
        out.destroy(new InputError((err as Error).message, { cause: err }))
      }
    })
    return {
      stream: out,
      close: async () => {
        await new Promise<void>((resolve) => socket.close(() => resolve()))
        out.end()
      },
    }
  }
  const src: Readable = kind === InputKind.STDIN ? process.stdin : createReadStream(spec, { highWaterMark: 188 * 1024 })
  src.on('data', (chunk: Buffer) => monitor.push(chunk))
  src.pipe(out)
  return {
    stream: out,
    close: async () => {
      src.unpipe(out)
      if (kind !== InputKind.STDIN) src.destroy()
      out.end() // the demuxer then reads end-of-stream instead of waiting for bytes
    },
  }
}

/**
 * Runs the relay (`"$@"`) so that it dies with the encoder however the encoder ends: its stdin is
 * a pipe from us, which reaches end-of-file when we exit, even by SIGKILL, and then the relay is
 * killed. Without it a relay left listening for a caller kept the SRT port from a restarted
 * encoder. (A background job's stdin is /dev/null unless redirected: hence fd 3.) Exits with the
 * relay's status; 127 when the relay cannot be started.
 */
const RELAY_WATCHDOG = `exec 3<&0
"$@" </dev/null & relay=$!
(cat <&3 >/dev/null; kill $relay 2>/dev/null) >/dev/null 2>&1 & watch=$!
wait $relay; status=$?
kill $watch 2>/dev/null
exit $status`

/** Wait before making an SRT connection again after one ended or failed. */
const SRT_RETRY_MS = 500

/**
 * SRT through the system ffmpeg (libsrt) as a byte relay: `-f data` in and out copies the bytes
 * received, unchanged, to a pipe, and those pass the transport monitor like UDP datagrams do, so
 * packets SRT gave up on show as continuity errors. When the connection ends (the caller went
 * away, or nothing listens yet for our caller) ffmpeg exits and a new one is started, so the
 * encoder keeps running and resumes on the next connection. Not through beamcoder: a demuxer on
 * an `srt://` URL threw on every read once its caller had gone (a busy loop, then a crash), and
 * a failed beamcoder open can crash the process.
 */
function srtByteSource(spec: string, out: PassThrough, deliver: (chunk: Buffer) => void, monitor: TransportMonitor, onEvent?: (event: SourceEvent) => void): { stream: PassThrough; close: () => Promise<void> } {
  let child: ChildProcess | undefined
  let stopped = false
  let ended = 0
  let retry: NodeJS.Timeout | undefined
  const start = () => {
    retry = undefined
    if (stopped) return
    const ffmpeg = process.env.FFMPEG_BIN ?? 'ffmpeg'
    const relay = spawn('/bin/sh', ['-c', RELAY_WATCHDOG, 'mqa-srt-relay', ffmpeg, '-hide_banner', '-nostdin', '-v', 'error', '-f', 'data', '-i', spec, '-map', '0:0', '-c', 'copy', '-flush_packets', '1', '-f', 'data', 'pipe:1'], { stdio: ['pipe', 'pipe', 'pipe'] })
    relay.stdin!.on('error', () => undefined) // the watchdog may be gone first
    relay.on('exit', () => relay.stdin!.end())
    child = relay
    let lastLine = ''
    relay.stderr!.setEncoding('utf8')
    relay.stderr!.on('data', (text: string) => {
      const lines = text.split('\n').map((l) => l.trim()).filter(Boolean)
      if (lines.length > 0) lastLine = lines.at(-1)!.slice(0, 300)
    })
    relay.stdout!.on('data', deliver)
    let spawnError: string | undefined
    const cannotStart = (why: string, cause?: unknown) => {
      spawnError = why
      // No relay before anything arrived: the input cannot be read at all. Later (a respawn
      // failing mid-run) it is one more ended connection, retried more slowly.
      if (monitor.stats.bytes === 0) {
        stopped = true
        out.destroy(new InputError(`cannot read ${JSON.stringify(spec)}: SRT needs the ffmpeg program (libsrt): ${why}`, { cause }))
      }
    }
    relay.on('error', (err) => cannotStart(err.message, err))
    relay.on('close', (code, signal) => {
      if (child === relay) child = undefined
      // 127 and 126: the shell could not find or run ffmpeg.
      if (!spawnError && (code === 127 || code === 126)) cannotStart(lastLine || `${ffmpeg}: not found`)
      if (stopped) return
      ended++
      const reason = spawnError ? `cannot start ffmpeg: ${spawnError}` : lastLine || (signal ? `ffmpeg ended by ${signal}` : `ffmpeg exited with status ${code}`)
      onEvent?.({ kind: 'srt-ended', reason, count: ended })
      retry = setTimeout(start, spawnError ? 10 * SRT_RETRY_MS : SRT_RETRY_MS)
      spawnError = undefined
    })
  }
  start()
  return {
    stream: out,
    close: async () => {
      stopped = true
      if (retry) clearTimeout(retry)
      const c = child
      if (c && c.exitCode === null && c.signalCode === null) {
        // End of its stdin is the watchdog's cue: it kills ffmpeg, and the shell exits with it.
        const gone = new Promise<void>((resolve) => c.once('close', () => resolve()))
        c.stdin?.end()
        await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 2000).unref())])
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
      }
      out.end()
    },
  }
}

/**
 * beamcoder's demuxerStream hands each written chunk to a native queue on a libuv thread, and a
 * write blocks that thread while the queue is full; the queue is released only by the stream's
 * 'finish', which Node emits only once every write has returned. A stopped encoder reads no more,
 * so the writes never return, the thread stays blocked, and process exit then waits for it for
 * ever (libuv joins its threads). Emitting 'finish' ourselves quits the queue and frees them.
 */
function releaseGovernor(feed: unknown): void {
  const ds = (feed as { ds?: { emit(event: string): unknown } } | undefined)?.ds
  ds?.emit('finish')
}
