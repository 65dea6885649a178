import { constants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type * as Beamcoder from 'beamcoder'
import { ShellError } from './errors.js'

/**
 * The one module that loads beamcoder (FFmpeg bindings, CommonJS). Everything else gets it from
 * loadBeamcoder(), so that a switch to another binding stays one module (STACK-NOTES.md).
 */
export type BeamcoderModule = typeof Beamcoder
export type { Beamcoder }

let beamcoder: BeamcoderModule | undefined

/**
 * Loads beamcoder once per thread. Its index.js prints a GPL banner and the FFmpeg version with
 * console.log when it is first required; stdout is ours (the CLI may write media or JSON to it), so
 * console.log is a no-op while it loads. Its segfault-handler dependency, which would write
 * crash.log and stop beamcoder loading in worker threads, is a no-op stub (pnpm-workspace.yaml).
 */
export function loadBeamcoder(): BeamcoderModule {
  if (beamcoder !== undefined) return beamcoder
  const require = createRequire(import.meta.url)
  const log = console.log
  console.log = () => undefined
  try {
    beamcoder = require('beamcoder') as BeamcoderModule
  } finally {
    console.log = log
  }
  return beamcoder
}

/**
 * A beamcoder rejection's message without the source file and line it starts with ("In file
 * ../src/mux.cc on line 612, found error: "): what FFmpeg said, for our one-line errors.
 */
export function beamcoderMessage(err: unknown): string {
  return ((err as Error | undefined)?.message ?? String(err)).replace(/^In file \S+ on line \d+, found error: /, '')
}

export const MediaInputErrorCode = {
  /** The demuxer could not open or probe the input. */
  OPEN_FAILED: 'ERR_INPUT_OPEN_FAILED',
  /** The input has no video stream. */
  NO_VIDEO_STREAM: 'ERR_INPUT_NO_VIDEO_STREAM',
} as const
export type MediaInputErrorCode = (typeof MediaInputErrorCode)[keyof typeof MediaInputErrorCode]

export class MediaInputError extends ShellError<MediaInputErrorCode> {}

export interface ProbeAndDecodeOptions {
  /** Stop after this many decoded video frames (default: all of them). */
  readonly maxFrames?: number
}

export interface DecodedFrameInfo {
  /** Presentation time in ticks of the stream's timeBase (as the demuxer gave it). */
  readonly pts: number
  readonly width: number
  readonly height: number
  readonly keyFrame: boolean
  /** The picture type the decoder reports ('I', 'P', 'B', ...), null when unknown. */
  readonly pictType: string | null
}

export interface ProbeAndDecodeResult {
  /** FFmpeg codec name: 'h264', 'hevc', ... */
  readonly codec: string
  readonly width: number
  readonly height: number
  /** FFmpeg pixel format name: 'yuv420p', ... */
  readonly pixFmt: string
  /** The video stream's time base [num, den]: 1/90000 in MPEG-TS, the track timescale in MP4. */
  readonly timeBase: readonly [number, number]
  /** Decoded frames in output (presentation) order. */
  readonly frames: readonly DecodedFrameInfo[]
}

/** A URL FFmpeg opens with a protocol (srt:, udp:, file:, ...), as opposed to a plain file path. */
const URL_SCHEME = /^[a-z][a-z0-9+.-]+:/i

/**
 * A plain file path is checked here first, so the common mistake (a missing or unreadable file, a
 * directory) is one clear error, not FFmpeg's "No such file or directory" from deep in beamcoder;
 * a FIFO or device is let through for live input. (Unpatched beamcoder 0.7.1 could also crash
 * after a failed open: the patch fixed that, docs/encoder.md.) Call it before every
 * beamcoder.demuxer(path).
 */
export async function assertReadableInput(path: string): Promise<void> {
  if (URL_SCHEME.test(path)) return
  try {
    await access(path, constants.R_OK)
    if ((await stat(path)).isDirectory()) throw new Error('it is a directory')
  } catch (err) {
    throw new MediaInputError(MediaInputErrorCode.OPEN_FAILED, `cannot open ${path} for demuxing: ${err instanceof Error ? err.message : String(err)}; pass a readable media file`, { cause: err })
  }
}

/**
 * Demuxes a file, decodes its first video stream (up to maxFrames frames) and describes what came
 * out: FFmpeg's send/receive contract, drained with a flush at the end of the input. Demuxed
 * packets carry their own size and padding, unlike packets made by hand (STACK-NOTES.md).
 * Stopping at maxFrames abandons the decoder without a flush; garbage collection frees it.
 */
export async function probeAndDecode(path: string, options: ProbeAndDecodeOptions = {}): Promise<ProbeAndDecodeResult> {
  const maxFrames = options.maxFrames ?? Number.POSITIVE_INFINITY
  await assertReadableInput(path)
  const bc = loadBeamcoder()
  let demuxer: Beamcoder.Demuxer
  try {
    demuxer = await bc.demuxer(path)
  } catch (err) {
    throw new MediaInputError(MediaInputErrorCode.OPEN_FAILED, `cannot open ${path} for demuxing: ${String(err)}; check that it is a media file FFmpeg can read`, { cause: err })
  }
  try {
    const stream = demuxer.streams.find((s) => s.codecpar.codec_type === 'video')
    if (stream === undefined) {
      throw new MediaInputError(MediaInputErrorCode.NO_VIDEO_STREAM, `${path} has no video stream (streams: ${demuxer.streams.map((s) => s.codecpar.codec_type).join(', ') || 'none'})`)
    }
    // Decoders default to one thread; 0 lets FFmpeg pick (26–30% faster, STACK-NOTES.md).
    const decoder = bc.decoder({ demuxer, stream_index: stream.index, thread_count: 0 })
    const frames: DecodedFrameInfo[] = []
    const take = (decoded: Beamcoder.DecodedFrames): void => {
      for (const frame of decoded.frames) {
        if (frames.length >= maxFrames) return
        frames.push({ pts: frame.pts, width: frame.width, height: frame.height, keyFrame: frame.key_frame, pictType: frame.pict_type })
      }
    }
    while (frames.length < maxFrames) {
      // read() resolves null at the end of the input, which beamcoder's typings do not say.
      const packet = (await demuxer.read()) as Beamcoder.Packet | null
      if (packet === null) {
        take(await decoder.flush())
        break
      }
      if (packet.stream_index === stream.index) take(await decoder.decode(packet))
    }
    const [num = 0, den = 0] = stream.time_base
    return {
      codec: stream.codecpar.name,
      width: stream.codecpar.width,
      height: stream.codecpar.height,
      pixFmt: stream.codecpar.format,
      timeBase: [num, den],
      frames,
    }
  } finally {
    demuxer.forceClose()
  }
}
