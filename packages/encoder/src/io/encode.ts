import { writeFile } from 'node:fs/promises'
import {
  type FrameRate,
  type Logger,
  type MqaRecordInput,
  type MqaVideoWeights,
  type Timecode,
  DEFAULT_MQA_VIDEO_WEIGHTS,
  ErrorWindow,
  VideoCodec,
  formatTimecode,
  frameIndexToTimecode,
  framesPerDay,
  groupAccessUnits,
  readMqaRecords,
  segmentGrid,
  silentLogger,
  splitAnnexB,
  splitLengthPrefixed,
  supportsDropFrame,
  timecodeFromS12m,
} from '@mqa/common'
import { AudioAnalyzer } from '../audio-analysis.js'
import { aacLayout, defaultAacBitrateKbps } from '../audio-encoder-options.js'
import { FrameClock, type SmpteStart, TimecodeMode } from '../frame-clock.js'
import { InputAnalyzer, lumaSampleStep, sampleLuma } from '../input-analysis.js'
import { ReleaseQueue } from '../release-queue.js'
import { StreamFollower } from '../stream-follower.js'
import { type FidelityScores, type FrameMeta, GopSummarizer, PSNR_CAP_DB, frameRecord, stampAccessUnit } from '../stamp.js'
import { type ColourDescription, colourDescription, colourFields, defaultPictureSize, MIN_PICTURE_SIDE, outputSampleAspect, pictureFitFilter, videoEncoderOptions } from '../video-encoder-options.js'
import { beamcoderMessage, loadBeamcoder, type Beamcoder } from './beamcoder.js'
import { InputError, checkInput, openInput, type OpenedInput } from './input.js'
import { type HeldSource, MetricsPool, type NotRun } from './metrics-pool.js'
import { framePicture } from './metrics-task.js'
import { OutputError, Outputs, assertWritableFile, assertWritableOutput } from './output.js'
import { ShellError } from './errors.js'

/** libx264's and libx265's preset names (both libraries use the same ten). */
export const ENCODER_PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow', 'placebo'] as const

export const EncodeErrorCode = {
  /** A preset libx264/libx265 does not know. */
  PRESET: 'ERR_ENCODER_PRESET',
  /** The video encoder refused its settings. */
  ENCODER_OPEN: 'ERR_ENCODER_OPEN',
  /** The encoder took frames and gave nothing back. */
  NO_OUTPUT: 'ERR_ENCODER_NO_OUTPUT',
  /** `audio: 'copy'` with an input audio codec that cannot be copied. */
  AUDIO_COPY: 'ERR_AUDIO_COPY',
  /** The AAC encoder or its resampler could not be set up. */
  AUDIO_ENCODER: 'ERR_AUDIO_ENCODER',
  /** `audioStream` names an audio stream the input does not have. */
  AUDIO_STREAM: 'ERR_AUDIO_STREAM',
  /** The input ended before one video frame could be decoded. */
  NO_VIDEO_FRAME: 'ERR_NO_VIDEO_FRAME',
} as const
export type EncodeErrorCode = (typeof EncodeErrorCode)[keyof typeof EncodeErrorCode]

export class EncodeError extends ShellError<EncodeErrorCode> {}

export interface EncodeOptions {
  readonly input: string
  /** One output, or several streamed ones (udp:// or -) that get the same bytes. */
  readonly output: string | readonly string[]
  /**
   * Measure every frame (the encoder). False makes a contribution source: frames carry only
   * their timecode (`v=1,tc=...`), nothing is decoded back or measured.
   */
  readonly measure?: boolean
  readonly codec: VideoCodec
  readonly preset: string
  readonly bitrateKbps: number
  readonly size?: { readonly width: number; readonly height: number } | undefined
  readonly fps?: FrameRate | undefined
  readonly gopSeconds: number
  readonly segmentSeconds: number
  readonly timecode: TimecodeMode
  readonly workers: number
  /** Pace file and generated inputs at their frame rate, as a live feed is. */
  readonly realtime: boolean
  /** Stop after this many output frames (tests, benchmarks). */
  readonly maxFrames?: number | undefined
  /** Write the per-frame records here as JSON. */
  readonly report?: string | undefined
  /** Keep user-data SEI that is not ours in the output. */
  readonly keepForeignSei?: boolean
  /** B-frames between references (x264/x265 `bframes`). */
  readonly bframes?: number
  /** How long a live packet may wait for its scores before it leaves unmeasured. */
  readonly maxScoreWaitMs?: number
  readonly weights?: MqaVideoWeights
  readonly logger?: Logger
  readonly signal?: AbortSignal
  readonly onProgress?: (p: EncodeProgress) => void
  /** Leave the input's audio out of the output (the same as `audio: 'none'`). */
  readonly noAudio?: boolean
  /** What happens to the input's audio (default `auto`). */
  readonly audio?: AudioMode
  /** AAC bitrate when audio is encoded (default 128 up to stereo, 64 a channel above). */
  readonly audioBitrateKbps?: number | undefined
  /**
   * Which of the input's audio streams is carried: its number among them (0, the first, by
   * default) or its ISO 639-2 language tag ("fra").
   */
  readonly audioStream?: number | string | undefined
}

/**
 * `auto`: copy AAC, MP2, MP3, AC-3 and E-AC-3 (what the TS and MP4 muxers take as they are),
 * encode anything else to AAC; `copy`: copy or fail; `aac`: always encode; `none`: no audio.
 */
export const AudioMode = { AUTO: 'auto', COPY: 'copy', AAC: 'aac', NONE: 'none' } as const
export type AudioMode = (typeof AudioMode)[keyof typeof AudioMode]

/** After a stop, how long what was already received may still be processed before closing. */
const STOP_DRAIN_MS = 2000
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const COPYABLE_AUDIO = ['aac', 'mp2', 'mp3', 'ac3', 'eac3']
/** The sample rates AAC can signal; another input rate is resampled to 48 kHz. */
const AAC_SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000]

export interface EncodeProgress {
  readonly frames: number
  readonly fps: number
  /** Media seconds produced per wall second. */
  readonly speed: number
  readonly last?: MqaRecordInput | undefined
}

export interface EncodeSummary {
  readonly frames: number
  readonly measured: number
  readonly unmeasured: number
  /** Frames that could not be measured because the pool was behind (live inputs). */
  readonly overload: number
  /**
   * Frames whose scores did not come within the release queue's wait (live: 3 s; e.g. a stalled
   * input holding back the packets a B-frame's picture needs), or that its bound pushed out.
   */
  readonly late: number
  /**
   * Frames a metrics worker failed on (it threw, or did not start: a broken install); each goes
   * out unmeasured, and the error is logged once per window with this total.
   */
  readonly metricsErrors: number
  readonly inputErrors: number
  readonly decodeErrors: number
  readonly droppedInputFrames: number
  /**
   * Times the input's timecode went back more than a second (not through midnight): a restart
   * upstream. Frames carry the new timecode; the output's timestamps count on.
   */
  readonly timecodeRestarts: number
  /**
   * With `--timecode input`, input access units that gave no timecode because their SEI or MQA
   * payload could not be read (a truncated SEI, a payload that is not a valid record): the frame
   * is timed by the next clock source. Counted, and logged once per window with the reason: a
   * broken MQA payload always, a broken SEI once the input has carried our `tc`.
   */
  readonly inputSeiErrors: number
  /** Packets a UDP output could not send (counted, logged once per window; the encode goes on). */
  readonly outputErrors: number
  readonly wallMs: number
  readonly mediaSeconds: number
  readonly transport?: Record<string, number> | undefined
  readonly audioPackets: number
  /** What became of the input's audio: copied, encoded to AAC, or none in the output. */
  readonly audio: 'copy' | 'aac' | 'none'
  /** Mean of the measured frames' scores. */
  readonly mean: { readonly psnrDb?: number; readonly ssim?: number; readonly mqa?: number }
}

/** Per-frame line of the `--report` JSON. */
export interface ReportFrame extends MqaRecordInput {
  readonly frameIndex: number
  readonly keyFrame: boolean
  readonly reason: string
  /** U and V PSNR (dB, capped at 100 like the others) and SSIM of a measured frame. */
  readonly psnrUDb?: number
  readonly psnrVDb?: number
  readonly ssimU?: number
  readonly ssimV?: number
}

/** The report's chroma scores of a measured frame (PSNR capped as the wire format caps it). */
function chromaOf(scores: FidelityScores | undefined): Pick<ReportFrame, 'psnrUDb' | 'psnrVDb' | 'ssimU' | 'ssimV'> {
  if (scores?.psnrUDb === undefined || scores.psnrVDb === undefined || scores.ssimU === undefined || scores.ssimV === undefined) return {}
  return { psnrUDb: Math.min(scores.psnrUDb, PSNR_CAP_DB), psnrVDb: Math.min(scores.psnrVDb, PSNR_CAP_DB), ssimU: scores.ssimU, ssimV: scores.ssimV }
}

/**
 * Gives a beamcoder frame's picture back to whoever made it now (`Frame.release`, added by the
 * beamcoder patch), rather than when the garbage collector finalizes the object: the decoders'
 * buffer pools then reuse their buffers instead of allocating and zeroing new ones. (The frame's
 * planes were copied with `copyPlane`, so no Buffer of `frame.data` still holds the picture.)
 */
function releaseFrame(frame: Beamcoder.Frame): void {
  frame.release()
}

interface PendingFrame {
  readonly meta: FrameMeta
  /**
   * The source picture, copied into the metrics pool's slab when it was decoded, until its recon
   * frame arrives; or why it could not be (then the frame is left unmeasured); undefined when
   * not measuring, or once handed on.
   */
  source: HeldSource | NotRun | undefined
}

/**
 * The encoder: demux → decode → input analysis → encode (IDR on the grid) → decode own output →
 * PSNR/SSIM in the pool → MQA SEI into that frame's access unit → mux. See docs/encoder.md.
 */
export async function encode(options: EncodeOptions): Promise<EncodeSummary> {
  // The input's checks first (exists, readable, a container we take); they settle while beamcoder loads.
  const checked = checkInput(options.input)
  checked.catch(() => undefined) // awaited by openInput below; an error above it must not leave it unhandled
  const b = loadBeamcoder()
  b.logging('fatal') // decode errors are counted and logged by us, as JSON
  const log = options.logger ?? silentLogger
  const codec = options.codec
  const started = performance.now()
  // Checked before anything opens: x265 takes an unknown preset and then encodes nothing.
  if (!(ENCODER_PRESETS as readonly string[]).includes(options.preset)) {
    throw new EncodeError(EncodeErrorCode.PRESET, `preset ${JSON.stringify(options.preset)} is not one of ${ENCODER_PRESETS.join(', ')}`)
  }
  for (const spec of typeof options.output === 'string' ? [options.output] : options.output) await assertWritableOutput(spec, options.input)
  if (options.report) await assertWritableFile(options.report, 'report')
  const sourceLog = new ErrorWindow(10_000)
  let input: OpenedInput
  try {
    input = await openInput(options.input, {
      checked,
      fps: options.fps,
      signal: options.signal,
      onSourceEvent: (e) => {
        const r = sourceLog.record('ERR_SRT_CONNECTION')
        if (r) log.warn('SRT connection ended or could not be made: waiting for the next', { reason: e.reason, total: r.total })
      },
      onBufferNotice: (n) => log[n.level](n.message, { code: 'ERR_UDP_BUFFER' }),
      onRateOverride: (stated, given) =>
        log.warn('--fps differs from the rate the input states: frames are timed at --fps, not converted', { stated: `${stated.num}/${stated.den}`, fps: `${given.num}/${given.den}` }),
    })
  } catch (err) {
    // Stopped while waiting for a live input's first bytes: a stop, not a failure.
    if (err instanceof InputError && err.stopped) return stoppedBeforeInput(performance.now() - started)
    throw err
  }

  /** A setup step that throws closes the input first (a UDP socket, an SRT relay) before the error goes up. */
  async function closingInputOnError<T>(step: () => T): Promise<T> {
    try {
      return step()
    } catch (err) {
      await input.close()
      throw err
    }
  }

  const rate = input.rate
  /** The input's video codec where it can carry our SEI (its `tc`); other codecs are not read for it. */
  const seiCodecOf = (name: string) => (name === 'h264' ? VideoCodec.H264 : name === 'hevc' ? VideoCodec.H265 : undefined)
  let inputVideoCodec = seiCodecOf(input.demuxer.streams[input.videoIndex]!.codecpar.name)
  const grid = segmentGrid({ rate, gopSeconds: options.gopSeconds, segmentSeconds: options.segmentSeconds })
  const smpteStart = smpteStartOf(input)
  if (smpteStart && options.timecode === 'input') log.info('input has a SMPTE start timecode: frames count on from it', { timecode: smpteStart.timecode })
  const clock = new FrameClock(options.timecode, rate, { smpteStart })
  const [tbNum, tbDen] = input.timeBase
  const timescale = tbDen / tbNum // ticks per second (90000 for TS)
  const frameDurationTicks = (timescale * rate.den) / rate.num
  const analyzer = new InputAnalyzer({ frameDurationTicks })
  const errorLog = new ErrorWindow(10_000)
  const live = options.realtime || input.kind === 'udp' || input.kind === 'srt' || input.kind === 'stdin'
  const measuring = options.measure ?? true
  const outputs = typeof options.output === 'string' ? [options.output] : options.output
  const release = new ReleaseQueue<Beamcoder.Packet, FidelityScores | null>({ capacity: 256, maxWaitMs: live ? (options.maxScoreWaitMs ?? 3000) : 120_000 })
  const pending = new Map<number, PendingFrame>()
  const gop = new GopSummarizer()
  const report: ReportFrame[] = []
  const tcByPts = new Map<number, string>()
  // How F is labelled and how long its day is: drop-frame at 29.97 and 59.94 unless the input's
  // timecode is non-drop-frame (FrameClock); per frame, from the clock's reading.
  let dropFrame = supportsDropFrame(rate)
  let dayFrames = framesPerDay(rate, dropFrame)

  let output: Outputs | undefined
  let muxStarted = false
  let encoder: Beamcoder.Encoder | undefined
  let recon: Beamcoder.Decoder | undefined
  let scaler: { readonly filterer: Beamcoder.Filterer; readonly input: string } | undefined
  /** The output's picture size: --size, else the first frame's. Every later frame is scaled to it. */
  let outputSize: { readonly w: number; readonly h: number } | undefined
  /** The output's pixel shape, from the first frame's (its display aspect kept when scaled). */
  let sampleAspect: [number, number] | undefined
  /** What the output's samples mean: the first encoded frame's colour description (after the scaler, which may change the range). */
  let colour: ColourDescription | undefined
  let lastInputPicture: string | undefined
  /** An interlaced input has been said to be one (once). */
  let interlaceSaid = false
  let fn = 0
  let packetsOut = 0
  /** F of the last frame kept: the segment grid's side of the clock. */
  let lastFrameIndex: number | undefined
  let timecodeRestarts = 0
  let inputSeiErrors = 0
  /** The input has carried our SEI `tc`: from then on a broken SEI in it is reported. */
  let inputTcSeen = false
  let written = 0
  let measured = 0
  let overload = 0
  let metricsErrors = 0
  let late = 0
  let decodeErrors = 0
  let videoPackets = 0
  let decodeErrorsSinceFrame = 0
  let inputErrors = 0
  let droppedInputFrames = 0
  let nonMonotonic = 0
  let firstWallMs: number | undefined
  let firstPtsTicks: number | undefined
  let writeChain: Promise<void> = Promise.resolve()
  /**
   * The first write that failed (a full disk, a closed stdout: an OutputError). Writes queued after
   * it are skipped, the main loop stops, and encode() throws it once the pool and input are closed:
   * one error naming the output, never an unhandled rejection.
   */
  let writeFailure: { error: unknown } | undefined
  /** (A function: the write queue sets `writeFailure` while the main loop awaits, which TypeScript's narrowing does not see.) */
  const throwIfWriteFailed = (): void => {
    if (writeFailure) throw writeFailure.error
  }
  let psnrSum = 0
  let ssimSum = 0
  let mqaSum = 0
  let lastRecord: MqaRecordInput | undefined

  let decoder = await closingInputOnError(() => b.decoder({ demuxer: input.demuxer, stream_index: input.videoIndex, thread_count: 0 } as never))
  /** The input streams followed: a live TS whose video or audio comes back on another PID is followed there. */
  const videoFollower = new StreamFollower<Beamcoder.Packet>(input.videoIndex)
  /** Each input stream's type and time base, read once per stream. */
  const streamInfo = new Map<number, { kind: string; secondsPerTick: number }>()
  const streamOf = (index: number): { kind: string; secondsPerTick: number } | undefined => {
    const known = streamInfo.get(index)
    if (known !== undefined) return known
    // beamcoder keeps the demuxer's stream list as it was at its first read (in `__streams`): a
    // stream FFmpeg added since (a new PID in a live TS) is in it only once that is cleared.
    if (input.demuxer.streams[index] === undefined) (input.demuxer as unknown as { __streams?: unknown }).__streams = undefined
    const st = input.demuxer.streams[index]
    if (!st) return undefined
    // Any type is kept (`unknown` too): the loop uses only video and audio.
    const info = { kind: String(st.codecpar.codec_type ?? 'unknown'), secondsPerTick: st.time_base[0]! / st.time_base[1]! }
    streamInfo.set(index, info)
    return info
  }
  /** A packet's time on its stream's clock, in seconds, for a follower (which needs it only for a stream it does not follow). */
  const packetSeconds = (follower: StreamFollower<Beamcoder.Packet>, packet: Beamcoder.Packet, secondsPerTick: number): number | undefined => {
    if (packet.stream_index === follower.current) return undefined
    const t = packet.dts ?? packet.pts
    return typeof t === 'number' ? t * secondsPerTick : undefined
  }
  // A live demuxer may be waiting for bytes: stopping ends its input so the read returns, and what
  // was already received is still demuxed, decoded, encoded and written, for at most STOP_DRAIN_MS.
  let stoppedAt: number | undefined
  const onAbort = () => {
    stoppedAt ??= performance.now()
    void input.close()
  }
  const pastStopDeadline = () => stoppedAt !== undefined && performance.now() - stoppedAt > STOP_DRAIN_MS
  // A live byte source (UDP, stdin) has received bytes waiting in its buffers and the demuxer's;
  // files and generated inputs stop at once (the frames in the decoder and encoder still drain).
  const drainsDemuxerOnStop = input.kind === 'udp' || input.kind === 'srt' || input.kind === 'stdin'
  options.signal?.addEventListener('abort', onAbort, { once: true })

  // Audio is copied (the TS and MP4 muxers take AAC, MP2 and AC-3 as they are) or encoded to AAC,
  // and decoded either way for MQA-AUDIO; its timestamps follow the video's mapping onto the
  // shared clock.
  const audioMode: AudioMode = options.noAudio ? AudioMode.NONE : (options.audio ?? AudioMode.AUTO)
  const audioStreams = input.demuxer.streams.filter((st) => st.codecpar.codec_type === 'audio')
  const wanted = options.audioStream
  const chosen = wanted === undefined ? audioStreams[0] : typeof wanted === 'number' ? audioStreams[wanted] : audioStreams.find((st) => streamLanguage(st) === wanted.toLowerCase())
  if (audioMode !== AudioMode.NONE && wanted !== undefined && chosen === undefined) {
    await input.close()
    const asked = typeof wanted === 'number' ? `number ${wanted} (counting from 0)` : `in ${JSON.stringify(wanted)}`
    throw new EncodeError(EncodeErrorCode.AUDIO_STREAM, `the input has no audio stream ${asked}; its audio streams: ${audioStreams.map(describeAudio).join(', ') || 'none'}`)
  }
  let audioIn = audioMode === AudioMode.NONE ? undefined : chosen
  const audioFollower = new StreamFollower<Beamcoder.Packet>(audioIn?.index ?? -1)
  const audioCopyable = audioIn !== undefined && COPYABLE_AUDIO.includes(audioIn.codecpar.name)
  if (audioIn && audioMode === AudioMode.COPY && !audioCopyable) {
    await input.close()
    throw new EncodeError(EncodeErrorCode.AUDIO_COPY, `the input audio is ${audioIn.codecpar.name}, which cannot be copied (only ${COPYABLE_AUDIO.join(', ')}): encode it to AAC instead`)
  }
  const audioCopy = audioCopyable && audioMode !== AudioMode.AAC
  if (audioIn) {
    const others = audioStreams.filter((st) => st !== audioIn)
    if (others.length > 0) log.info('the input has more than one audio stream: mqa carries one (--audio-stream chooses), the others are left out', { carried: describeAudio(audioIn), leftOut: others.map(describeAudio) })
  }
  let audioDecoder: Beamcoder.Decoder | undefined
  let audioAnalyzer: AudioAnalyzer | undefined
  if (audioIn) {
    try {
      audioDecoder = b.decoder({ demuxer: input.demuxer, stream_index: audioIn.index } as never)
    } catch (err) {
      if (audioCopy) log.warn('cannot decode input audio: no MQA-AUDIO', { error: (err as Error).message })
      else {
        log.warn('input audio left out: it cannot be decoded', { codec: audioIn.codecpar.name, error: (err as Error).message })
        audioIn = undefined
      }
    }
  }
  const aac = audioIn && !audioCopy ? await closingInputOnError(() => openAacEncoder(audioIn!)) : undefined
  const audioTimescale = audioIn ? audioIn.time_base[1]! / audioIn.time_base[0]! : 1
  /** Output 90 kHz ticks minus input video ticks (in 90 kHz): how input time maps onto the shared clock. */
  let offset90k: number | undefined
  /** Audio to write (copied or encoded), in input audio ticks, until the video has started the clock. */
  const audioHeld: { data: Uint8Array; ptsIn: number; durationIn: number }[] = []
  let audioPackets = 0
  let audioStreamIndex = -1
  /** Audio waits here until the video written has caught up with it (we interleave by DTS ourselves). */
  const audioQueue: Parameters<Outputs['write']>[0][] = []
  async function writeAudioUpTo(dts90k: number): Promise<void> {
    while (audioQueue.length > 0 && audioQueue[0]!.dts <= dts90k) {
      await output!.write(audioQueue.shift()!)
      audioPackets++
    }
  }
  let lastAudioDts = -Infinity

  const width = options.size?.width
  const height = options.size?.height

  /**
   * The frame as the encoder takes it: yuv420p at the output's size. A live input whose picture
   * size changes (a source switched upstream) is scaled to the size the encoder opened with, so
   * the output stays one stream (x264 would otherwise read the top-left corner of a larger picture)
   * and every frame is still measured against the picture it was made from.
   */
  async function ensureScaler(frame: Beamcoder.Frame): Promise<Beamcoder.Frame[]> {
    if (outputSize === undefined) {
      const fit = defaultPictureSize(frame.width, frame.height)
      outputSize = { w: width ?? fit.width, h: height ?? fit.height }
      sampleAspect = outputSampleAspect(frame.sample_aspect_ratio, frame, { width: outputSize.w, height: outputSize.h })
      if (frame.format !== 'yuv420p') log.info('the input is not 8-bit 4:2:0: it is converted to yuv420p, then encoded and measured', { input: frame.format })
      if (width === undefined && fit.adjusted) {
        log.info(fit.width < frame.width || fit.height < frame.height ? 'the input picture has an odd side, which x264/x265 cannot encode in 4:2:0: the output drops its last column or row' : `the input picture is smaller than mqa measures (${MIN_PICTURE_SIDE}x${MIN_PICTURE_SIDE}): it is scaled up`, {
          input: `${frame.width}x${frame.height}`,
          output: `${fit.width}x${fit.height}`,
        })
      }
    }
    if (!interlaceSaid && frame.interlaced_frame) {
      interlaceSaid = true
      log.info('the input is interlaced: its frames are encoded and measured as progressive pictures, both fields woven (deinterlace upstream for a picture without combing)', { fieldOrder: frame.top_field_first ? 'top field first' : 'bottom field first' })
    }
    const { w, h } = outputSize
    const input = `${frame.width}x${frame.height} ${frame.format}`
    if (lastInputPicture !== undefined && input !== lastInputPicture) {
      log.info('input picture size or format changed: frames are scaled to the output size', { from: lastInputPicture, to: input, output: `${w}x${h}` })
    }
    lastInputPicture = input
    if (frame.width === w && frame.height === h && frame.format === 'yuv420p') return [frame]
    if (scaler?.input !== input) {
      const filterer = await b.filterer({
        filterType: 'video',
        inputParams: [
          {
            width: frame.width,
            height: frame.height,
            pixelFormat: frame.format,
            timeBase: [tbNum, tbDen],
            pixelAspect: [1, 1],
          },
        ],
        outputParams: [{ pixelFormat: 'yuv420p' }],
        filterSpec: pictureFitFilter({ width: frame.width, height: frame.height }, { width: w, height: h }),
      } as never)
      scaler = { filterer, input }
    }
    const out = await scaler.filterer.filter([frame] as never)
    return (out as unknown as { frames: Beamcoder.Frame[] }[])[0]?.frames ?? []
  }

  function openEncoder(w: number, h: number): Beamcoder.Encoder {
    try {
      return openVideoEncoder(w, h)
    } catch (err) {
      throw encoderOpenError(err, w, h)
    }
  }

  function encoderOpenError(err: unknown, w: number, h: number): EncodeError {
    return new EncodeError(EncodeErrorCode.ENCODER_OPEN, `cannot open the ${codec === VideoCodec.H264 ? 'libx264' : 'libx265'} encoder for ${w}x${h} (preset ${options.preset}, ${options.bitrateKbps} kb/s): ${beamcoderMessage(err)}`, { cause: err })
  }

  /** beamcoder opens the codec on the first encode(): a refused setting shows only then. */
  async function encodeFrame(enc: Beamcoder.Encoder, frame: Beamcoder.Frame): Promise<Beamcoder.EncodedPackets> {
    try {
      return await enc.encode(frame)
    } catch (err) {
      if (/Problem opening encoder/.test((err as Error).message)) throw encoderOpenError(err, frame.width, frame.height)
      throw err
    }
  }

  function openVideoEncoder(w: number, h: number): Beamcoder.Encoder {
    const spec = { codec, width: w, height: h, rate, bitrateKbps: options.bitrateKbps, preset: options.preset, gopFrames: grid.gopFrames, bframes: options.bframes ?? 3, globalHeader: outputFormatIsMp4(), sampleAspect, colour }
    return b.encoder(videoEncoderOptions(spec) as never)
  }

  function outputFormatIsMp4(): boolean {
    return outputs.length === 1 && /\.(mp4|m4v|mov)$/i.test(outputs[0]!)
  }

  async function startMux(enc: Beamcoder.Encoder): Promise<void> {
    output = new Outputs(outputs, {
      onSendError: (spec, reason, total) => {
        const r = errorLog.record('ERR_OUTPUT_SEND')
        if (r) log.warn('a UDP output could not send a packet: it is lost on that output, the stream goes on', { output: spec, reason, total })
      },
    })
    const mp4 = output.formatName === 'mp4'
    output.addStream({
      name: codec === VideoCodec.H264 ? 'h264' : 'hevc',
      codecpar: { width: enc.width, height: enc.height, format: 'yuv420p', ...(sampleAspect ? { sample_aspect_ratio: sampleAspect } : {}), ...colourFields(colour, 'color_space'), ...(enc.extradata ? { extradata: enc.extradata } : {}), ...(codec === VideoCodec.H265 && mp4 ? { codec_tag: 'hvc1' } : {}) },
    })
    if (audioIn) {
      const par = (aac ? aacCodecpar(aac.encoder) : audioIn.codecpar) as unknown as Record<string, unknown>
      const codecpar: Record<string, unknown> = {}
      for (const k of ['sample_rate', 'channels', 'channel_layout', 'format', 'frame_size', 'bit_rate', 'extradata', 'profile']) {
        if (par[k] !== undefined && par[k] !== null) codecpar[k] = par[k]
      }
      audioStreamIndex = output.addStream({ name: aac ? 'aac' : audioIn.codecpar.name, codecpar, language: streamLanguage(audioIn) })
    }
    try {
      await output.open()
    } catch (err) {
      throw new OutputError(`cannot open output ${outputs.map((o) => JSON.stringify(o)).join(', ')}: ${beamcoderMessage(err)}`, { cause: err })
    }
    muxStarted = true
  }

  /** An info line once, when the input's frames turn out to carry their own SMPTE timecode. */
  let smpteSeen = false
  /** 90 kHz ticks of frame index F. */
  const ticks90k = (frameIndex: number) => Math.round((frameIndex * 90000 * rate.den) / rate.num)

  async function handleSourceFrame(src: Beamcoder.Frame): Promise<void> {
    const nowMs = Date.now()
    const ptsTicks = typeof src.pts === 'number' ? src.pts : undefined
    const tc = ptsTicks !== undefined ? tcByPts.get(ptsTicks) : undefined
    if (ptsTicks !== undefined) tcByPts.delete(ptsTicks)
    // The frame's own SMPTE timecode only matters where there is no SEI tc (and only in input mode).
    const smpte = tc === undefined && options.timecode === TimecodeMode.INPUT ? frameSmpteTimecode(src, rate) : undefined
    if (smpte && !smpteSeen) {
      smpteSeen = true
      log.info('input frames carry SMPTE timecode (S12M): frames are indexed by it', { timecode: formatTimecode(smpte) })
    }
    const reading = clock.next({ timecode: tc, smpte, ptsTicks, timescale, nowMs })
    const { frameIndex, outputIndex } = reading
    if (reading.dropFrame !== dropFrame) {
      dropFrame = reading.dropFrame
      dayFrames = framesPerDay(rate, dropFrame)
    }
    if (reading.backwards) {
      // A repeated timecode, or one a little behind (a restart is a second or more, and counts on).
      nonMonotonic++
      const r = errorLog.record('ERR_FRAME_INDEX_BACKWARDS')
      if (r) log.warn('input frame index went backwards: frame dropped', { frameIndex, lastFrameIndex, total: r.total })
      return
    }
    if (reading.restart) {
      timecodeRestarts++
      log.warn('input timecode went back (a restart upstream): frames follow it, the output timestamps count on', {
        timecode: formatTimecode(frameIndexToTimecode(frameIndex, rate, dropFrame)),
        previous: lastFrameIndex === undefined ? undefined : formatTimecode(frameIndexToTimecode(lastFrameIndex, rate, dropFrame)),
        total: timecodeRestarts,
      })
    }
    const transportErrors = input.transport ? input.transport.takeErrors(ptsTicks) : 0
    inputErrors += transportErrors
    const corrupt = Boolean((src as unknown as { flags?: { CORRUPT?: boolean } }).flags?.CORRUPT) || Boolean((src as unknown as { decode_error_flags?: Record<string, boolean> }).decode_error_flags && Object.values((src as unknown as { decode_error_flags: Record<string, boolean> }).decode_error_flags).some(Boolean))
    const frames = await ensureScaler(src)
    for (const frame of frames) {
      // Measuring, the source picture goes into the pool's slab now, and the analysis reads its
      // luma there: the decoder's frame is then released once the encoder has it (below).
      const picture = framePicture(frame as never)
      const held = pool ? pool.hold(picture) : undefined
      const luma = held !== undefined && typeof held !== 'string' ? pool!.view(held, 0) : (frame as unknown as { data: Uint8Array[] }).data[0]!
      const analysis = analyzer.analyze({
        ptsTicks,
        luma: sampleLuma({ data: luma, linesize: picture.linesize[0]!, width: picture.width, height: picture.height }, lumaSampleStep(picture.width, picture.height)),
        keyFrame: src.key_frame,
        transportErrors,
        decodeErrors: decodeErrorsSinceFrame,
        corrupt,
      })
      decodeErrorsSinceFrame = 0
      droppedInputFrames += analysis.dropped
      const meta: FrameMeta = { fn: fn++, frameIndex, timecode: formatTimecode(frameIndexToTimecode(frameIndex, rate, dropFrame)), analysis, audio: audioAnalyzer?.score(), captions: codec === VideoCodec.H265 ? frameCaptions(src) : undefined }
      // A source (measuring off) keeps no copy: nothing will compare against it. Keyed, like
      // everything downstream of the encoder, by the output index (the encoder's PTS).
      const before = pending.get(outputIndex)?.source
      if (before !== undefined && typeof before !== 'string') pool?.drop(before)
      pending.set(outputIndex, { meta, source: held })
      // IDR on the grid: at every multiple of G, or the first frame past one if that frame is missing.
      // The grid is on the time of day (F past midnight counts on; at 29.97 drop-frame a day is not
      // a whole number of GOPs), so an encoder started after midnight cuts where one running
      // through it does. A restart of the input's timecode starts a GOP too.
      const G = grid.gopFrames
      const idr = lastFrameIndex === undefined || reading.restart || frameIndex - lastFrameIndex >= G || Math.floor((frameIndex % dayFrames) / G) !== Math.floor((lastFrameIndex % dayFrames) / G)
      lastFrameIndex = frameIndex
      if (ptsTicks !== undefined) offset90k = ticks90k(outputIndex) - Math.round((ptsTicks * 90000) / timescale)
      frame.pts = outputIndex
      ;(frame as unknown as { pict_type: string | null }).pict_type = idr ? 'I' : null
      if (options.realtime && stoppedAt === undefined) await pace(outputIndex)
      colour ??= colourDescription(frame as never)
      encoder ??= openEncoder(frame.width, frame.height)
      const encoded = await encodeFrame(encoder, frame)
      // libavcodec keeps its own reference to what it still needs: ours goes back to the decoder's pool.
      releaseFrame(frame)
      packetsOut += encoded.packets.length
      // A codec that failed to open takes frames and says nothing (beamcoder 0.7.1); x264's and
      // x265's lookahead holds at most a few dozen frames, so hundreds without a packet is that.
      if (packetsOut === 0 && fn > 300) throw new EncodeError(EncodeErrorCode.NO_OUTPUT, `the ${codec === VideoCodec.H264 ? 'libx264' : 'libx265'} encoder gave no packet for ${fn} frames (preset ${options.preset}, ${options.bitrateKbps} kb/s)`)
      // After the first encode(): with GLOBAL_HEADER the parameter sets are only in extradata.
      // One thread: a frame-threaded decoder holds each packet's picture until later packets
      // arrive, so when a live input stalls its last packets' scores wait with it (and after 3 s
      // leave unmeasured); decoding our own 3 Mb/s costs the same CPU either way (BENCHMARKS.md).
      if (measuring) recon ??= b.decoder({ name: codec === VideoCodec.H264 ? 'h264' : 'hevc', thread_count: 1, ...(encoder.extradata ? { extradata: encoder.extradata } : {}) } as never)
      await handlePackets(encoded.packets)
    }
    // Scaled: the decoder's own frame (the scaler's were released above).
    if (!frames.includes(src)) releaseFrame(src)
  }

  async function handleVideoPacket(packet: Beamcoder.Packet): Promise<void> {
    videoPackets++
    // Our SEI `tc` in the input sets F only with --timecode input (FrameClock); else it is not read.
    if (options.timecode === TimecodeMode.INPUT) noteTimecode(packet)
    let decoded: Beamcoder.Frame[] = []
    try {
      decoded = (await decoder.decode(packet)).frames
    } catch (err) {
      decodeErrors++
      decodeErrorsSinceFrame++
      const r = errorLog.record('ERR_DECODE')
      if (r) log.warn('input decode error', { error: (err as Error).message, total: r.total })
    }
    await handleSourceFrames(decoded)
  }

  /** Decoded source frames in order, up to --frames and the stop deadline. */
  async function handleSourceFrames(frames: Beamcoder.Frame[]): Promise<void> {
    for (const f of frames) {
      if ((options.maxFrames !== undefined && fn >= options.maxFrames) || pastStopDeadline()) break
      await handleSourceFrame(f)
    }
  }

  /**
   * The input's video has moved to stream `to` (StreamFollower): the old decoder's last frames are
   * encoded, and a decoder for the new stream (its codec may differ) takes over. False, and the
   * old stream followed again, when the new one cannot be decoded.
   */
  async function followVideo(from: number, to: number): Promise<boolean> {
    const streams = input.demuxer.streams
    let next: Beamcoder.Decoder
    try {
      next = b.decoder({ demuxer: input.demuxer, stream_index: to, thread_count: 0 } as never)
    } catch (err) {
      videoFollower.stay(from)
      const r = errorLog.record('ERR_FOLLOW_VIDEO')
      if (r) log.warn('the input video moved to a stream that cannot be decoded: it is not followed', { to: describeStream(streams[to]!), error: beamcoderMessage(err), total: r.total })
      return false
    }
    log.info('the input video moved to another stream (a reconfigured upstream): it is followed there', { from: describeStream(streams[from]!), to: describeStream(streams[to]!) })
    await handleSourceFrames(await flushFrames(decoder))
    decoder = next
    inputVideoCodec = seiCodecOf(streams[to]!.codecpar.name)
    return true
  }

  /**
   * The input's audio has moved to stream `to`: decoded from there (and for AAC encoding, converted
   * by a graph made for its format). Copied audio moves only to the same codec on the same clock
   * (the output's stream is that codec); else, and when it cannot be decoded, the old stream is
   * followed again and the move is reported.
   */
  async function followAudio(from: number, to: number): Promise<boolean> {
    const streams = input.demuxer.streams
    const next = streams[to]!
    const refuse = (why: string, extra: Record<string, unknown> = {}) => {
      audioFollower.stay(from)
      const r = errorLog.record('ERR_FOLLOW_AUDIO')
      if (r) log.warn(`the input audio moved to a stream ${why}: it is not followed`, { to: describeStream(next), ...extra, total: r.total })
      return false
    }
    if (!aac && next.codecpar.name !== audioIn!.codecpar.name) return refuse(`of another codec than the one copied (${audioIn!.codecpar.name})`)
    if (next.time_base[0] !== audioIn!.time_base[0] || next.time_base[1] !== audioIn!.time_base[1]) return refuse('on another time base')
    let nextDecoder: Beamcoder.Decoder
    try {
      nextDecoder = b.decoder({ demuxer: input.demuxer, stream_index: to } as never)
    } catch (err) {
      return refuse('that cannot be decoded', { error: beamcoderMessage(err) })
    }
    log.info('the input audio moved to another stream (a reconfigured upstream): it is followed there', { from: describeStream(streams[from]!), to: describeStream(next) })
    audioDecoder = nextDecoder
    audioIn = next
    return true
  }

  async function pace(frameIndex: number): Promise<void> {
    const mediaMs = (frameIndex * 1000 * rate.den) / rate.num
    if (firstWallMs === undefined || firstPtsTicks === undefined) {
      firstWallMs = performance.now()
      firstPtsTicks = mediaMs
      return
    }
    const dueMs = firstWallMs + (mediaMs - firstPtsTicks)
    const waitMs = dueMs - performance.now()
    if (waitMs > 1) await new Promise((resolve) => setTimeout(resolve, Math.min(waitMs, 5000)))
  }

  async function handlePackets(packets: Beamcoder.Packet[]): Promise<void> {
    for (const p of packets) {
      if (!muxStarted) await startMux(encoder!)
      if (!measuring) {
        enqueueWrite(p, p.pts as number, undefined, 'source')
        continue
      }
      for (const r of release.push(p.pts as number, p, Date.now())) enqueueWrite(r.packet, r.key, r.scores ?? undefined, r.reason)
      let frames: Beamcoder.Frame[] = []
      try {
        frames = (await recon!.decode(p)).frames
      } catch (err) {
        const r = errorLog.record('ERR_RECON_DECODE')
        if (r) log.warn('decoding our own output failed', { error: (err as Error).message, total: r.total })
      }
      for (const rf of frames) await measure(rf)
    }
    drain()
  }

  async function measure(rf: Beamcoder.Frame): Promise<void> {
    const key = rf.pts as number
    const pf = pending.get(key)
    const held = pf?.source
    if (pf) pf.source = undefined
    if (!pool || held === undefined) {
      releaseFrame(rf)
      return
    }
    let run: ReturnType<MetricsPool['tryRun']>
    if (typeof held === 'string') {
      run = held
    } else {
      if (!live) await pool.whenReady()
      run = pool.tryRun(key, held, framePicture(rf as never))
    }
    if (run === 'full') {
      releaseFrame(rf)
      overload++
      const r = errorLog.record('ERR_METRICS_OVERLOAD')
      if (r) log.warn('metrics pool behind (or its slab at 1 GiB): frame left unmeasured', { frameIndex: key, total: r.total })
      release.resolve(key, null)
      return
    }
    if (run === 'geometry') {
      const r = errorLog.record('ERR_METRICS_GEOMETRY')
      if (r) log.warn("frame does not fit the metrics slab's slots (larger than the first measured frame): left unmeasured", { frameIndex: key, width: rf.width, height: rf.height, total: r.total })
      releaseFrame(rf)
      release.resolve(key, null)
      return
    }
    releaseFrame(rf)
    run.then(
      (res) => {
        if (!res.psnr || !res.ssim) return workerFailed(key, 'metrics worker gave no scores: frame left unmeasured', {})
        release.resolve(res.key, { psnrDb: res.psnr.average, psnrYDb: res.psnr.y, ssim: res.ssim.all, ssimY: res.ssim.y, psnrUDb: res.psnr.u, psnrVDb: res.psnr.v, ssimU: res.ssim.u, ssimV: res.ssim.v })
        drain()
      },
      (err: unknown) => {
        // Closing the pool (an encode that failed writing) ends the tasks still running: expected.
        if (!poolClosing) workerFailed(key, 'metrics worker failed: frame left unmeasured', { error: (err as Error).message })
      },
    )
  }

  /** A frame whose worker failed it: unmeasured and counted; a worker that cannot load fails every frame the same way, so one line per window. */
  function workerFailed(key: number, msg: string, fields: Record<string, unknown>): void {
    metricsErrors++
    const r = errorLog.record('ERR_METRICS_WORKER')
    if (r) log.error(msg, { frameIndex: key, ...fields, total: r.total })
    release.resolve(key, null)
    drain()
  }

  function drain(final = false): void {
    for (const r of release.take(Date.now(), final)) enqueueWrite(r.packet, r.key, r.scores ?? undefined, r.reason)
  }

  function enqueueWrite(packet: Beamcoder.Packet, key: number, scores: FidelityScores | undefined, reason: string): void {
    writeChain = writeChain
      .then(() => (writeFailure ? undefined : writePacket(packet, key, scores, reason)))
      .catch((error: unknown) => {
        writeFailure ??= { error }
      })
  }

  async function writePacket(packet: Beamcoder.Packet, key: number, scores: FidelityScores | undefined, reason: string): Promise<void> {
    if (measuring && scores === undefined && (reason === 'timeout' || reason === 'overflow')) {
      late++
      const r = errorLog.record('ERR_METRICS_LATE')
      if (r) log.warn('scores not there in time: frame left unmeasured', { frameIndex: key, reason, total: r.total })
    }
    const pf = pending.get(key)
    pending.delete(key)
    // Its scores came too late or not at all: a source still held gives its slot back.
    if (pf?.source !== undefined && typeof pf.source !== 'string') pool?.drop(pf.source)
    const meta: FrameMeta = pf?.meta ?? { fn: -1, frameIndex: key, timecode: formatTimecode(frameIndexToTimecode(key, rate, dropFrame)), analysis: { errors: 0, dropped: 0, frozen: false, black: false, concealed: false } }
    const keyFrame = Boolean(packet.flags?.KEY)
    const records: MqaRecordInput[] = []
    const record: MqaRecordInput = measuring ? frameRecord(meta, scores, options.weights ?? DEFAULT_MQA_VIDEO_WEIGHTS) : { timecode: meta.timecode }
    if (keyFrame && measuring) {
      const summary = gop.take()
      if (summary) records.push(summary)
    }
    records.push(record)
    gop.add(record)
    const au = new Uint8Array(packet.data.buffer, packet.data.byteOffset, packet.size)
    const stamped = stampAccessUnit(codec, au, records, { keepForeignSei: options.keepForeignSei ?? false, captions: meta.captions })
    await writeAudioUpTo(ticks90k(packet.dts as number))
    await output!.write({
      data: stamped,
      size: stamped.length,
      pts: ticks90k(packet.pts as number),
      dts: ticks90k(packet.dts as number),
      duration: ticks90k(1),
      stream_index: 0,
      flags: { KEY: keyFrame },
    })
    written++
    if (measuring && !record.unmeasured) {
      measured++
      psnrSum += record.psnrDb!
      ssimSum += record.ssim!
      mqaSum += record.mqa!
    }
    lastRecord = record
    if (options.report) report.push({ ...record, ...chromaOf(scores), frameIndex: meta.frameIndex, keyFrame, reason })
    if (options.onProgress && (written % 10 === 0 || written < 10)) {
      const wallS = (performance.now() - started) / 1000
      options.onProgress({ frames: written, fps: written / wallS, speed: (written * rate.den) / rate.num / wallS, last: lastRecord })
    }
  }

  // Made here, right before the main loop, so a setup error above leaves no worker behind.
  const pool = measuring
    ? new MetricsPool({
        workers: Math.max(1, options.workers),
        // The pool restarts its workers itself; its frames meanwhile fail (counted in measure()).
        onWorkerError: (err) => {
          const r = errorLog.record('ERR_METRICS_WORKER')
          if (r) log.error('metrics worker stopped: frames are left unmeasured until it restarts', { error: err.message, total: r.total })
        },
      })
    : undefined
  let poolClosing = false
  try {
    // A live input's frames are refused once the pool has its bound in flight (unmeasured, as
    // overload): a worker still starting would count as behind. Under load that start took seconds
    // and left frames of a piped file unmeasured, so a live encode waits for it; the input's bytes
    // wait meanwhile (the pipe, the UDP queue). A file input waits for the pool at every frame.
    if (pool && live) {
      const warmStarted = performance.now()
      await pool.warm().then(
        (kernels) => log.debug('metrics pool ready', { kernels, ms: Math.round(performance.now() - warmStarted) }),
        // Each frame's task then fails the same way and leaves it unmeasured: said once here too.
        (err: unknown) => log.error('metrics worker did not start: frames will be left unmeasured', { error: (err as Error).message }),
      )
    }
    if (options.signal?.aborted) onAbort()
    for (;;) {
      if (writeFailure) break
      if (stoppedAt !== undefined && (!drainsDemuxerOnStop || pastStopDeadline())) break
      if (options.maxFrames !== undefined && fn >= options.maxFrames) break
      let packet: Beamcoder.Packet | null
      try {
        const read = input.demuxer.read()
        if (stoppedAt === undefined) packet = await read
        else {
          const late = await Promise.race([read, sleep(Math.max(0, stoppedAt + STOP_DRAIN_MS - performance.now())).then(() => 'late' as const)])
          if (late === 'late') break
          packet = late
        }
      } catch (err) {
        const r = errorLog.record('ERR_DEMUX')
        if (r) log.warn('demuxer read failed', { error: (err as Error).message, total: r.total })
        inputErrors++
        if (r && r.total > 1000) throw err
        continue
      }
      if (!packet) break
      const stream = streamOf(packet.stream_index)
      const kind = stream?.kind
      if (kind === 'audio' && audioIn) {
        const seen = audioFollower.observe(packet.stream_index, packet, packetSeconds(audioFollower, packet, stream!.secondsPerTick))
        if (!seen.follow) continue
        if (seen.movedFrom !== undefined && !(await followAudio(seen.movedFrom, packet.stream_index))) continue
        for (const p of [...(seen.backlog ?? []), packet]) await handleAudio(p)
        continue
      }
      if (kind !== 'video') continue
      const seen = videoFollower.observe(packet.stream_index, packet, packetSeconds(videoFollower, packet, stream!.secondsPerTick))
      if (!seen.follow) continue
      if (seen.movedFrom !== undefined && !(await followVideo(seen.movedFrom, packet.stream_index))) continue
      for (const p of [...(seen.backlog ?? []), packet]) await handleVideoPacket(p)
    }
    throwIfWriteFailed()
    // Also after a stop: the frames the decoder holds were received, and make a clean tail.
    if (!pastStopDeadline()) await handleSourceFrames(await flushFrames(decoder))
    if (aac) {
      try {
        await flushAacFilter()
        holdAacPackets((await aac.encoder.flush()).packets)
        await releaseHeldAudio()
      } catch (err) {
        log.warn('AAC encoder flush failed', { error: (err as Error).message })
      }
    }
    if (encoder) {
      const enc = encoder
      const flushed = await enc.flush().catch((err: unknown) => {
        throw /Problem opening encoder/.test((err as Error).message) ? encoderOpenError(err, enc.width, enc.height) : err
      })
      await handlePackets(flushed.packets)
    }
    if (recon) for (const rf of await flushFrames(recon)) await measure(rf)
    // Wait for the pool to finish what it has (after a stop, a little longer than the drain at
    // most: the rest leave unmeasured), then write everything in order.
    while (pool && pool.inFlight > 0 && !(stoppedAt !== undefined && performance.now() - stoppedAt > STOP_DRAIN_MS + 1000)) await sleep(5)
    drain(true)
    await writeChain
    throwIfWriteFailed()
    if (muxStarted && output) {
      await writeAudioUpTo(Infinity)
      await output.close()
    }
    log.debug('encode finished', { videoPackets })
    if (fn === 0 && !options.signal?.aborted) {
      throw new EncodeError(EncodeErrorCode.NO_VIDEO_FRAME, `no video frame could be decoded from ${JSON.stringify(options.input)} (${videoPackets} video packets read, ${decodeErrors} decode errors)`)
    }
    if (written === 0 && fn > 0 && stoppedAt === undefined) {
      throw new EncodeError(EncodeErrorCode.NO_OUTPUT, `the ${codec === VideoCodec.H264 ? 'libx264' : 'libx265'} encoder gave no packet for ${fn} frames (preset ${options.preset}, ${options.bitrateKbps} kb/s): nothing was written`)
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
    poolClosing = true
    if (pool) log.debug('metrics pool closing', { slabSlots: pool.slots, slotsHeld: pool.held, workers: pool.workers })
    await pool?.close()
    await input.close()
  }

  if (options.report) {
    // The output is whole by now; a report that cannot be written after all (the disk filled, the
    // folder went) is one error naming it, not a crash.
    await writeFile(options.report, JSON.stringify({ frames: report }, null, 1)).catch((err: unknown) => {
      throw new OutputError(`cannot write report ${JSON.stringify(options.report)}: ${(err as Error).message}`, { cause: err })
    })
  }
  const wallMs = performance.now() - started
  return {
    frames: written,
    measured,
    unmeasured: written - measured,
    overload,
    metricsErrors,
    late,
    inputErrors: inputErrors + nonMonotonic,
    decodeErrors,
    droppedInputFrames,
    timecodeRestarts,
    inputSeiErrors,
    outputErrors: output?.sendErrors ?? 0,
    wallMs,
    mediaSeconds: (written * rate.den) / rate.num,
    transport: input.transport?.stats,
    audioPackets,
    audio: audioIn ? (aac ? 'aac' : 'copy') : 'none',
    mean: measured > 0 ? { psnrDb: psnrSum / measured, ssim: ssimSum / measured, mqa: mqaSum / measured } : {},
  }

  async function handleAudio(packet: Beamcoder.Packet): Promise<void> {
    let decoded: Beamcoder.Frame[] = []
    if (audioDecoder) {
      try {
        decoded = (await audioDecoder.decode(packet)).frames
        for (const af of decoded) {
          // A change of rate or channels upstream starts the measurement again (its filters are per rate and channel).
          if (audioAnalyzer?.sampleRate !== af.sample_rate || audioAnalyzer.channels !== af.channels) audioAnalyzer = new AudioAnalyzer({ sampleRate: af.sample_rate, channels: af.channels })
          audioAnalyzer.push(floatPlanes(af))
        }
      } catch (err) {
        const r = errorLog.record('ERR_AUDIO_DECODE')
        if (r) log.warn('input audio decode error', { error: (err as Error).message, total: r.total })
      }
    }
    if (aac) {
      for (const af of decoded) await encodeAac(af)
    } else if (typeof packet.pts === 'number') {
      // Copy now: a packet's data is only valid while its packet object lives, and the write is later.
      const data = new Uint8Array(packet.size)
      data.set(packet.data.subarray(0, packet.size))
      audioHeld.push({ data, ptsIn: packet.pts, durationIn: packet.duration ?? 0 })
    }
    await releaseHeldAudio()
  }

  async function releaseHeldAudio(): Promise<void> {
    while (audioHeld.length > 2000) audioHeld.shift() // bounded: before the first video frame only
    if (!muxStarted || offset90k === undefined) return
    while (audioHeld.length > 0) {
      const p = audioHeld.shift()!
      const pts = Math.round((p.ptsIn * 90000) / audioTimescale) + offset90k
      const duration = Math.round((p.durationIn * 90000) / audioTimescale)
      // Before the shared clock's start, or out of order. The one packet just before the start stays:
      // AAC (and AC-3) frames overlap, so the first frame at or after 0 decodes right only after its
      // predecessor; an encoded AAC stream's predecessor is its priming frame, at minus one frame.
      if (pts < -duration || pts <= lastAudioDts) continue
      lastAudioDts = pts
      audioQueue.push({ data: p.data, size: p.data.length, pts, dts: pts, duration, stream_index: audioStreamIndex, flags: { KEY: true } })
      if (audioQueue.length > 3000) audioQueue.shift() // bounded: video stalled for a minute
    }
  }

  /**
   * Decoded audio → AAC, in two filter graphs. The first converts to what FFmpeg's `aac` encoder
   * takes (fltp, the AAC rate and layout); it is made for the input's format and made again when
   * that changes (a source switched upstream: stereo to 5.1, 44.1 to 48 kHz), since FFmpeg's
   * buffer source refuses a frame of another format, and beamcoder's filterer then gives nothing,
   * silently. The second keeps the audio on time (aresample's async fills a gap with silence) and
   * cuts it into the encoder's 1024-sample frames (asetnsamples); it lives as long as the encoder.
   * Encoded packets are timed by counting samples from the first decoded frame's PTS (input ticks).
   */
  async function encodeAac(af: Beamcoder.Frame): Promise<void> {
    if (!aac) return
    const a = aac
    try {
      if (a.anchorIn === undefined && typeof af.pts === 'number') a.anchorIn = af.pts
      const inFormat = { sampleRate: af.sample_rate, format: af.format, layout: layoutOf(af.channel_layout, af.channels) }
      const key = `${inFormat.sampleRate} Hz ${inFormat.format} ${inFormat.layout}`
      if (a.convert?.input !== key) {
        if (a.convert) log.info('the input audio changed: it is converted to the AAC stream as it was opened', { from: a.convert.input, to: key, output: `${a.sampleRate} Hz ${a.layout}` })
        a.convert = {
          input: key,
          filterer: await b.filterer({
            filterType: 'audio',
            inputParams: [{ sampleRate: inFormat.sampleRate, sampleFormat: inFormat.format, channelLayout: inFormat.layout, timeBase: audioIn!.time_base }],
            outputParams: [{ sampleRate: a.sampleRate, sampleFormat: 'fltp', channelLayout: a.layout }],
            filterSpec: `aresample=${a.sampleRate},aformat=sample_fmts=fltp:sample_rates=${a.sampleRate}:channel_layouts=${a.layout}`,
          } as never),
        }
      }
      a.filter ??= await b.filterer({
        filterType: 'audio',
        inputParams: [{ sampleRate: a.sampleRate, sampleFormat: 'fltp', channelLayout: a.layout, timeBase: [1, a.sampleRate] }],
        outputParams: [{ sampleRate: a.sampleRate, sampleFormat: 'fltp', channelLayout: a.layout }],
        filterSpec: `aresample=${a.sampleRate}:async=1:min_hard_comp=0.02,asetnsamples=n=${a.frameSize}:p=0`,
      } as never)
      if (typeof af.pts === 'number' && af.format) {
        a.last = { format: af.format, sampleRate: af.sample_rate, channels: af.channels, layout: inFormat.layout, endIn: af.pts + Math.round((af.nb_samples * audioTimescale) / af.sample_rate) }
      }
      await encodeFiltered(a, [af])
    } catch (err) {
      const r = errorLog.record('ERR_AUDIO_ENCODE')
      if (r) log.warn('audio encode to AAC failed', { error: (err as Error).message, total: r.total })
    }
  }

  /** Frames through the two AAC filters, and what comes out (1024-sample frames) to the encoder; none past `endSample`. */
  async function encodeFiltered(a: AacState, frames: Beamcoder.Frame[], endSample = Infinity): Promise<void> {
    const converted = ((await a.convert!.filterer.filter(frames as never)) as unknown as { frames: Beamcoder.Frame[] }[])[0]?.frames ?? []
    if (converted.length === 0) return
    const out = (await a.filter!.filter(converted as never)) as unknown as { frames: Beamcoder.Frame[] }[]
    for (const ff of out[0]?.frames ?? []) {
      if (a.samples >= endSample) break
      ff.pts = a.samples
      a.samples += ff.nb_samples
      holdAacPackets((await a.encoder.encode(ff)).packets)
    }
  }

  /**
   * At the end of the input, the samples the filter still holds (fewer than a frame: beamcoder's
   * filterer cannot be told the input ended) go out as one last frame padded with silence, as
   * FFmpeg pads an AAC stream's last frame; the silence after it is not encoded.
   */
  async function flushAacFilter(): Promise<void> {
    const a = aac
    if (!a?.filter || !a.convert || !a.last || a.anchorIn === undefined) return
    const endSample = Math.round(((a.last.endIn - a.anchorIn) * a.sampleRate) / audioTimescale)
    if (a.samples >= endSample) return
    const { format, sampleRate, channels, layout, endIn } = a.last
    const silence = b.frame({ format, sample_rate: sampleRate, channels, channel_layout: layout, nb_samples: Math.ceil((a.frameSize * sampleRate) / a.sampleRate), pts: endIn } as never).alloc()
    // Silence is 0 in every sample format but unsigned 8-bit, whose middle is 0x80.
    for (const plane of silence.data) plane.fill(format.startsWith('u8') ? 0x80 : 0)
    await encodeFiltered(a, [silence], endSample)
  }

  function holdAacPackets(packets: Beamcoder.Packet[]): void {
    if (!aac || aac.anchorIn === undefined) return
    const ticksPerSample = audioTimescale / aac.sampleRate
    for (const p of packets) {
      const data = new Uint8Array(p.size)
      data.set(p.data.subarray(0, p.size))
      audioHeld.push({ data, ptsIn: aac.anchorIn + (p.pts as number) * ticksPerSample, durationIn: (p.duration || aac.frameSize) * ticksPerSample })
    }
  }

  function openAacEncoder(stream: Beamcoder.Stream): AacState {
    const par = stream.codecpar
    const sampleRate = AAC_SAMPLE_RATES.includes(par.sample_rate) ? par.sample_rate : 48000
    const { layout, channels } = aacLayout(par.channels)
    if (channels !== par.channels) log.info('the input audio has more channels than an AAC layout mqa writes: it is mixed down', { input: `${par.channels} channels`, output: layout })
    try {
      const enc = b.encoder({
        name: 'aac',
        sample_rate: sampleRate,
        sample_fmt: 'fltp',
        channel_layout: layout,
        channels,
        bit_rate: (options.audioBitrateKbps ?? defaultAacBitrateKbps(channels)) * 1000,
        time_base: [1, sampleRate],
        ...(outputFormatIsMp4() ? { flags: { GLOBAL_HEADER: true } } : {}),
      } as never)
      return { encoder: enc, sampleRate, layout, frameSize: enc.frame_size || 1024, samples: 0, anchorIn: undefined, convert: undefined, filter: undefined, last: undefined }
    } catch (err) {
      throw new EncodeError(EncodeErrorCode.AUDIO_ENCODER, `cannot open the AAC encoder for ${par.name} audio (${sampleRate} Hz, ${layout}): ${(err as Error).message}`, { cause: err })
    }
  }

  /** A decoder's last frames; a decoder that only ever failed has nothing to give, not an error. */
  async function flushFrames(d: Beamcoder.Decoder): Promise<Beamcoder.Frame[]> {
    try {
      return (await d.flush()).frames
    } catch (err) {
      log.debug('decoder flush failed', { error: (err as Error).message })
      return []
    }
  }

  /** Our own `tc` SEI in the input (what `mqa source` writes), keyed by the packet's PTS. */
  function noteTimecode(packet: Beamcoder.Packet): void {
    const inCodec = inputVideoCodec
    // Not H.264 or H.265 (raw video from lavfi, MPEG-2, ...): no SEI of ours.
    if (inCodec === undefined || typeof packet.pts !== 'number') return
    const data = new Uint8Array(packet.data.buffer, packet.data.byteOffset, packet.size)
    try {
      const annexB = data.length > 4 && data[0] === 0 && data[1] === 0 && (data[2] === 1 || (data[2] === 0 && data[3] === 1))
      const nals = annexB ? splitAnnexB(data, inCodec) : splitLengthPrefixed(data, inCodec)
      for (const au of groupAccessUnits(inCodec, nals)) {
        const found = readMqaRecords(inCodec, au)
        const tc = found.records.find((r) => r.timecode !== undefined)?.timecode
        if (tc) {
          tcByPts.set(packet.pts, tc)
          inputTcSeen = true
        } else if (found.errors.length > 0) inputSeiUnreadable(found.errors[0], packet.pts)
      }
    } catch (err) {
      inputSeiUnreadable(err, packet.pts)
    }
    if (tcByPts.size > 1000) tcByPts.delete(tcByPts.keys().next().value as number)
  }

  /**
   * An unreadable input SEI only means no timecode for its frame (the clock falls back), but a
   * contribution link that damages SEI is worth knowing about: counted and said once per window.
   * A broken SEI in a stream that has not carried our `tc` (another encoder's, whose SEI FFmpeg
   * takes as it is) is not ours to report, unless it is our payload that is broken.
   */
  function inputSeiUnreadable(err: unknown, pts: number): void {
    const code = (err as { code?: unknown }).code
    const ours = typeof code === 'string' && code.startsWith('ERR_PAYLOAD_')
    if (!inputTcSeen && !ours) return
    inputSeiErrors++
    const r = errorLog.record(typeof code === 'string' ? code : 'ERR_INPUT_SEI')
    if (r) log.warn("an input access unit's SEI could not be read: its timecode is not used", { code, error: (err as Error).message, pts, total: inputSeiErrors })
  }
}

/**
 * The SMPTE start timecode FFmpeg exposes as a `timecode` tag: on the video stream, else on
 * another stream (an MP4/MOV `tmcd` track), else on the container (MXF, ...). It is the time of
 * the video stream's first frame (its start_time).
 */
function smpteStartOf(input: OpenedInput): SmpteStart | undefined {
  const streams = input.demuxer.streams
  const video = streams[input.videoIndex]!
  const tagOf = (metadata: unknown) => {
    const tc = (metadata as Record<string, unknown> | null | undefined)?.timecode
    return typeof tc === 'string' && tc.length > 0 ? tc : undefined
  }
  const timecode = tagOf(video.metadata) ?? streams.map((st) => tagOf(st.metadata)).find(Boolean) ?? tagOf(input.demuxer.metadata)
  if (!timecode) return undefined
  const start = (video as unknown as { start_time?: number | null }).start_time
  return { timecode, ptsTicks: typeof start === 'number' && Number.isFinite(start) ? start : undefined }
}

/**
 * The first timecode of FFmpeg's S12M side data on a decoded frame (from H.264 pic_timing or
 * H.265 time_code SEI), which beamcoder copies into a Buffer: the count, then up to three SMPTE
 * ST 12-1 words, little-endian uint32.
 */
export function frameSmpteTimecode(frame: Beamcoder.Frame, rate: FrameRate): Timecode | undefined {
  const sd = (frame as unknown as { side_data?: Record<string, unknown> | null }).side_data
  const buf = sd?.s12m_timecode
  if (!(buf instanceof Uint8Array) || buf.length < 8) return undefined
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length)
  return view.getUint32(0, true) >= 1 ? timecodeFromS12m(view.getUint32(4, true), rate) : undefined
}

/** The summary of an encode stopped before its input sent anything. */
function stoppedBeforeInput(wallMs: number): EncodeSummary {
  return { frames: 0, measured: 0, unmeasured: 0, overload: 0, late: 0, metricsErrors: 0, inputErrors: 0, decodeErrors: 0, droppedInputFrames: 0, timecodeRestarts: 0, inputSeiErrors: 0, outputErrors: 0, wallMs, mediaSeconds: 0, audioPackets: 0, audio: 'none', mean: {} }
}

interface AacState {
  readonly encoder: Beamcoder.Encoder
  readonly sampleRate: number
  readonly layout: string
  readonly frameSize: number
  /** Samples given to the encoder so far: the next frame's PTS in 1/sampleRate. */
  samples: number
  /** The first decoded audio frame's PTS, input ticks: where sample 0 sits. */
  anchorIn: number | undefined
  /** The first filter graph, to fltp at the AAC rate and layout, for one input format (`input`). */
  convert: { input: string; filterer: Beamcoder.Filterer } | undefined
  /** The second: on time (gaps filled), in whole encoder frames. */
  filter: Beamcoder.Filterer | undefined
  /** The last decoded frame given to the filter: its format, and where it ends (input ticks). */
  last: { format: string; sampleRate: number; channels: number; layout: string; endIn: number } | undefined
}

/**
 * A decoded frame's closed captions (FFmpeg's A53_CC side data: cc_data triples), copied (the frame
 * goes back to the decoder). libx264's wrapper writes them into H.264 itself; for H.265 the stamp does.
 */
function frameCaptions(frame: Beamcoder.Frame): Uint8Array | undefined {
  const cc = (frame as unknown as { side_data?: { a53_cc?: Uint8Array } | null }).side_data?.a53_cc
  return cc && cc.length >= 3 ? Uint8Array.from(cc.subarray(0, cc.length - (cc.length % 3))) : undefined
}

/** A stream's ISO 639-2 language tag, when the input names one. */
function streamLanguage(stream: Beamcoder.Stream): string | undefined {
  const language = (stream.metadata as Record<string, string> | undefined)?.language
  return language && language !== 'und' ? language : undefined
}

/** "#2 aac stereo fra", for a log line. */
function describeAudio(stream: Beamcoder.Stream): string {
  const par = stream.codecpar
  return [`#${stream.index}`, par.name, layoutOf(par.channel_layout, par.channels), streamLanguage(stream)].filter(Boolean).join(' ')
}

/** "#1 PID 0x1e1 hevc", for a log line (the PID is a TS stream's id). */
function describeStream(stream: Beamcoder.Stream): string {
  const pid = stream.id > 0 ? `PID 0x${stream.id.toString(16)}` : undefined
  return [`#${stream.index}`, pid, stream.codecpar.name].filter(Boolean).join(' ')
}

/** The AAC output stream's parameters, from its encoder (open from the start, so extradata is set). */
function aacCodecpar(enc: Beamcoder.Encoder): Record<string, unknown> {
  const e = enc as unknown as Record<string, unknown>
  return { sample_rate: e.sample_rate, channels: e.channels, channel_layout: e.channel_layout, format: 'fltp', frame_size: e.frame_size, bit_rate: e.bit_rate, extradata: e.extradata, profile: e.profile }
}

/** A channel layout name the filter graph takes; an unknown one is guessed from the channel count. */
function layoutOf(layout: string | undefined, channels: number): string {
  if (layout && layout !== 'unknown' && !/^\d+ channels/.test(layout)) return layout
  return channels === 1 ? 'mono' : channels === 2 ? 'stereo' : `${channels}c`
}

/** Planar float samples of a decoded audio frame (AAC decodes to fltp); other formats give silence-free zeros. */
function floatPlanes(frame: Beamcoder.Frame): Float32Array[] {
  const f = frame as unknown as { format: string; data: Buffer[]; nb_samples: number; channels: number }
  if (f.format === 'fltp') return f.data.slice(0, f.channels).map((d) => new Float32Array(d.buffer, d.byteOffset, f.nb_samples))
  if (f.format === 's16') {
    const all = new Int16Array(f.data[0]!.buffer, f.data[0]!.byteOffset, f.nb_samples * f.channels)
    return Array.from({ length: f.channels }, (_, c) => Float32Array.from({ length: f.nb_samples }, (_, i) => all[i * f.channels + c]! / 32768))
  }
  if (f.format === 's16p') return f.data.slice(0, f.channels).map((d) => Float32Array.from(new Int16Array(d.buffer, d.byteOffset, f.nb_samples), (x) => x / 32768))
  if (f.format === 'flt') {
    const all = new Float32Array(f.data[0]!.buffer, f.data[0]!.byteOffset, f.nb_samples * f.channels)
    return Array.from({ length: f.channels }, (_, c) => Float32Array.from({ length: f.nb_samples }, (_, i) => all[i * f.channels + c]!))
  }
  return []
}

export type { OpenedInput }
