import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  H264NalType,
  H265NalType,
  MQA_SEI_UUID_STRING,
  TsDemuxer,
  VideoCodec,
  buildMqaSeiNal,
  encodeMqaPayload,
  insertSeiAnnexB,
  isKeyframeNal,
  readMqaRecords,
  splitAnnexB,
  joinAnnexB,
  splitLengthPrefixed,
  type MqaRecordInput,
} from '@mqa/common'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveFfmpeg } from '../../../scripts/lib/ffmpeg-bin.js'
import {
  CmafMuxer,
  ParameterSetCarriage,
  buildChunkedSegment,
  buildInitSegment,
  buildMediaSegment,
  createCmafWriter,
  findParameterSets,
  fragmentTrackFor,
  readAdts,
  toSampleData,
  trackTimescale,
  videoTrackInfoFrom,
  audioTrackInfoFrom,
} from '../src/cmaf/index.js'
import { type MediaSample, type TrackInfo } from '../src/media.js'

/**
 * End to end: FFmpeg makes 2 s of testsrc2 + a sine in MPEG-TS (H.264 with B-frames + AAC 48 kHz;
 * H.265 with B-frames + AAC 44.1 kHz), our TsDemuxer reads it, every access unit gets an MQA
 * SEI, and the CMAF writer turns it into init + 2 media segments. FFmpeg must decode the result
 * without a single error, with every frame, the same PTS, and our SEI on every frame; the boxes
 * are walked and their sizes, tfdt and trun values checked against the input.
 */
const { ffmpeg, ffprobe } = resolveFfmpeg()
const work = mkdtempSync(join(tmpdir(), 'mqa-cmaf-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

/** Debian's Chromium (scripts/setup installs it); the MSE tests are skipped without it. */
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium'
let browser: Browser | undefined
let browserError: unknown
beforeAll(async () => {
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] })
  } catch (err) {
    browserError = err
  }
})
afterAll(async () => {
  await browser?.close()
})

const FPS = 25
const FRAME_TICKS = 90000 / FPS

function run(bin: string, args: string[]): { stdout: string; stderr: string } {
  const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 64 << 20 })
  expect(r.status, `${bin} ${args.join(' ')}\n${r.stderr.slice(-3000)}`).toBe(0)
  return { stdout: r.stdout, stderr: r.stderr }
}

function recordFor(i: number): MqaRecordInput {
  return { frameNumber: i, psnrDb: 40 + (i % 7) * 0.25, ssim: 0.98, mqa: 80 + (i % 5) }
}

interface Input {
  codec: VideoCodec
  video: MediaSample[]
  audio: MediaSample[]
  audioConfig: { sampleRate: number; channels: number; audioObjectType: number }
}

/** Demux with TsDemuxer; video AUs get an MQA SEI (frameNumber = decode order); ADTS is stripped. */
function demux(file: string, codec: VideoCodec): Input {
  const demuxer = new TsDemuxer()
  const events = [...demuxer.push(new Uint8Array(readFileSync(file))), ...demuxer.flush()]
  const video: Omit<MediaSample, 'durationTicks'>[] = []
  const audio: MediaSample[] = []
  let audioConfig: Input['audioConfig'] | undefined
  for (const ev of events) {
    if (ev.kind === 'error') throw ev.error
    if (ev.kind !== 'pes' || ev.ptsTicks === undefined) continue
    if (ev.codec === codec) {
      const keyFrame = splitAnnexB(ev.data, codec).some((n) => isKeyframeNal(codec, n.type))
      const data = insertSeiAnnexB(codec, ev.data, buildMqaSeiNal(codec, recordFor(video.length)))
      video.push({ ptsTicks: ev.ptsTicks, dtsTicks: ev.dtsTicks ?? ev.ptsTicks, data, keyFrame })
    } else if (ev.codec === 'aac') {
      const { frames, skippedBytes } = readAdts(ev.data)
      expect(skippedBytes).toBe(0)
      frames.forEach((f, k) => {
        audioConfig ??= { sampleRate: f.sampleRate, channels: f.channels, audioObjectType: f.audioObjectType }
        const pts = ev.ptsTicks! + Math.round((k * 1024 * 90000) / f.sampleRate)
        audio.push({ ptsTicks: pts, dtsTicks: pts, durationTicks: Math.round((1024 * 90000) / f.sampleRate), data: f.payload, keyFrame: true })
      })
    }
  }
  const withDurations = video.map((v, i) => ({ ...v, durationTicks: (video[i + 1]?.dtsTicks ?? v.dtsTicks + FRAME_TICKS) - v.dtsTicks }))
  return { codec, video: withDurations, audio, audioConfig: audioConfig! }
}

// ---- a minimal ISO BMFF walker, for checking what we wrote ----

interface Box {
  type: string
  start: number
  size: number
  /** Payload start (after the header and any fixed fields before child boxes). */
  body: number
  children: Box[]
}

const CONTAINERS: Record<string, number> = { moov: 0, trak: 0, mdia: 0, minf: 0, dinf: 0, stbl: 0, mvex: 0, moof: 0, traf: 0, stsd: 8, dref: 8, avc1: 78, avc3: 78, hvc1: 78, hev1: 78, mp4a: 28 }

/** Boxes in [start, end); throws unless they tile the range exactly. */
function walk(b: Uint8Array, start = 0, end = b.length): Box[] {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const out: Box[] = []
  let p = start
  while (p < end) {
    const size = view.getUint32(p)
    const type = String.fromCharCode(...b.subarray(p + 4, p + 8))
    if (size < 8 || p + size > end) throw new Error(`box '${type}' at ${p} of size ${size} overruns ${end}`)
    const skip = CONTAINERS[type]
    const body = p + 8 + (skip ?? 0)
    out.push({ type, start: p, size, body, children: skip === undefined ? [] : walk(b, body, p + size) })
    p += size
  }
  if (p !== end) throw new Error(`boxes end at ${p}, not ${end}`)
  return out
}

function find(boxes: Box[], path: string): Box[] {
  const [head, ...rest] = path.split('/')
  const hits = boxes.filter((x) => x.type === head)
  return rest.length === 0 ? hits : hits.flatMap((h) => find(h.children, rest.join('/')))
}

interface Trun {
  version: number
  flags: number
  dataOffset: number
  samples: { duration: number; size: number; flags: number; cto: number }[]
}

function readTrun(b: Uint8Array, box: Box): Trun {
  const v = new DataView(b.buffer, b.byteOffset + box.start, box.size)
  const version = v.getUint8(8)
  const flags = v.getUint32(8) & 0xffffff
  const count = v.getUint32(12)
  const dataOffset = v.getInt32(16)
  const samples: Trun['samples'] = []
  let p = 20
  for (let i = 0; i < count; i++) {
    const duration = v.getUint32(p)
    const size = v.getUint32(p + 4)
    const sflags = v.getUint32(p + 8)
    const cto = flags & 0x800 ? (version === 1 ? v.getInt32(p + 12) : v.getUint32(p + 12)) : 0
    samples.push({ duration, size, flags: sflags, cto })
    p += flags & 0x800 ? 16 : 12
  }
  expect(p).toBe(box.size)
  return { version, flags, dataOffset, samples }
}

function u32At(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset).getUint32(at)
}

function tfdtOf(b: Uint8Array, traf: Box): number {
  const t = find(traf.children, 'tfdt')[0]!
  expect(b[t.start + 8]).toBe(1)
  return u32At(b, t.start + 12) * 2 ** 32 + u32At(b, t.start + 16)
}

function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts))
}

/** The showinfo user-data SEI per output frame: [uuid, text] pairs. */
function showinfoUserData(file: string): [string, string][][] {
  const { stderr } = run(ffmpeg, ['-hide_banner', '-nostats', '-i', file, '-map', '0:v:0', '-vf', 'showinfo', '-f', 'null', '-'])
  const frames: [string, string][][] = []
  let uuid: string | undefined
  for (const line of stderr.split('\n')) {
    const body = line.replace(/^\[Parsed_showinfo[^\]]*\]\s*/, '')
    if (/^n:\s*\d+\s+pts:/.test(body)) frames.push([])
    const u = /^UUID=([0-9a-f-]+)/.exec(body)
    if (u) uuid = u[1]
    const d = /^User Data=([0-9a-f]*)/.exec(body)
    if (d && uuid !== undefined) {
      frames.at(-1)!.push([uuid, Buffer.from(d[1]!, 'hex').toString('latin1')])
      uuid = undefined
    }
  }
  return frames
}

function probeFrames(file: string, stream: 'v' | 'a'): { pts: number; key: boolean }[] {
  const { stdout } = run(ffprobe, ['-v', 'error', '-select_streams', `${stream}:0`, '-show_entries', 'frame=pts,key_frame', '-of', 'json', file])
  return (JSON.parse(stdout) as { frames: { pts: number; key_frame: number }[] }).frames.map((f) => ({ pts: f.pts, key: f.key_frame === 1 }))
}

/** Decodes every stream; FFmpeg at -v error prints nothing for a clean file. */
function expectCleanDecode(file: string): void {
  const { stderr } = run(ffmpeg, ['-v', 'error', '-xerror', '-i', file, '-f', 'null', '-'])
  expect(stderr).toBe('')
}

/**
 * MD5 of every decoded frame of one stream, in output order. FFmpeg conceals damage quietly
 * (nothing at -v error), so bit-exact frames against the source are the real test.
 */
function frameHashes(file: string, stream: 'v' | 'a'): string[] {
  const { stdout } = run(ffmpeg, ['-v', 'error', '-i', file, '-map', `0:${stream}:0`, '-f', 'framemd5', '-'])
  return stdout
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(',').at(-1)!.trim())
}


interface MseSource {
  /** The SourceBuffer type, e.g. video/mp4; codecs="avc1.64000d". */
  mime: string
  /** Init segment, then media segments, appended in order. */
  parts: Uint8Array[]
}

interface MseResult {
  supported: boolean[]
  errors: string[]
  buffered: [number, number][][]
  decodedFrames: number
  audioBytes: number
  ended: boolean
}

/**
 * Plays the sources through Media Source Extensions in Chromium, as hls.js (fMP4: init and
 * segments passed through) and dash.js do: append everything, then play at 4x to the end.
 */
async function playInChromium(sources: MseSource[]): Promise<MseResult> {
  const page = await browser!.newPage()
  try {
    await page.setContent('<video muted playsinline></video>')
    const input = sources.map((s) => ({ mime: s.mime, parts: s.parts.map((p) => Buffer.from(p).toString('base64')) }))
    return await page.evaluate(async (srcs) => {
      const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
      const video = document.querySelector('video')!
      const errors: string[] = []
      const supported = srcs.map((s) => MediaSource.isTypeSupported(s.mime))
      const empty = { supported, errors, buffered: [], decodedFrames: 0, audioBytes: 0, ended: false }
      if (supported.includes(false)) return empty
      video.addEventListener('error', () => errors.push(`video: ${video.error?.message ?? video.error?.code}`))
      const ms = new MediaSource()
      video.src = URL.createObjectURL(ms)
      await new Promise((r) => ms.addEventListener('sourceopen', r, { once: true }))
      const buffers = srcs.map((s) => ms.addSourceBuffer(s.mime))
      for (const [i, sb] of buffers.entries()) {
        for (const part of srcs[i]!.parts) {
          await new Promise<void>((resolve) => {
            sb.addEventListener('updateend', () => resolve(), { once: true })
            sb.addEventListener('error', () => errors.push(`append to ${srcs[i]!.mime}`), { once: true })
            try {
              sb.appendBuffer(bytes(part))
            } catch (err) {
              errors.push(String(err))
              resolve()
            }
          })
        }
      }
      const buffered = buffers.map((sb) => Array.from({ length: sb.buffered.length }, (_, k) => [sb.buffered.start(k), sb.buffered.end(k)] as [number, number]))
      if (errors.length > 0) return { ...empty, buffered }
      ms.endOfStream()
      video.currentTime = Math.max(...buffered.map((r) => r[0]?.[0] ?? 0))
      video.playbackRate = 4
      const ended = await new Promise<boolean>((resolve) => {
        video.addEventListener('ended', () => resolve(true), { once: true })
        setTimeout(() => resolve(false), 15_000)
        video.play().catch((err: unknown) => {
          errors.push(`play: ${String(err)}`)
          resolve(false)
        })
      })
      const v = video as HTMLVideoElement & { webkitDecodedFrameCount?: number; webkitAudioDecodedByteCount?: number }
      return { supported, errors, buffered, decodedFrames: v.webkitDecodedFrameCount ?? -1, audioBytes: v.webkitAudioDecodedByteCount ?? -1, ended }
    }, input)
  } finally {
    await page.close()
  }
}

const H264_PROFILES: Record<string, number> = { Baseline: 66, 'Constrained Baseline': 66, Main: 77, High: 100 }
const H265_PROFILES: Record<string, number> = { Main: 1, 'Main 10': 2 }

describe.each([
  {
    name: 'h264',
    codec: VideoCodec.H264,
    encode: ['-c:v', 'libx264', '-preset', 'veryfast', '-bf', '2', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0'],
    audioRate: 48000,
    entries: ['avc1', 'avc3'],
  },
  {
    name: 'h265',
    codec: VideoCodec.H265,
    encode: ['-c:v', 'libx265', '-preset', 'veryfast', '-x265-params', 'keyint=25:min-keyint=25:scenecut=0:bframes=2:log-level=error'],
    audioRate: 44100,
    entries: ['hvc1', 'hev1'],
  },
])('CMAF from $name + AAC ($audioRate Hz) MPEG-TS', ({ name, codec, encode, audioRate, entries }) => {
  let input: Input
  let segments: { video: MediaSample[]; audio: MediaSample[] }[]
  let tracks: TrackInfo[]
  /** Decoded frames of the source TS: what every MP4 we write must decode to. */
  let sourceVideo: string[]
  let sourceAudio: string[]

  beforeAll(() => {
    const ts = join(work, `${name}.ts`)
    run(ffmpeg, [
      '-v', 'error', '-y',
      '-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=${FPS}`,
      '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${audioRate}`,
      '-t', '2', '-map', '0:v', '-map', '1:a', ...encode, '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '64k', '-f', 'mpegts', ts,
    ])
    input = demux(ts, codec)
    sourceVideo = frameHashes(ts, 'v')
    sourceAudio = frameHashes(ts, 'a')
    // Two segments, cut at the second key frame (decode order); audio by PTS against that frame's PTS.
    const cut = input.video.findIndex((v, i) => i > 0 && v.keyFrame)
    const cutPts = input.video[cut]!.ptsTicks
    segments = [
      { video: input.video.slice(0, cut), audio: input.audio.filter((a) => a.ptsTicks < cutPts) },
      { video: input.video.slice(cut), audio: input.audio.filter((a) => a.ptsTicks >= cutPts) },
    ]
    const firstAu = splitAnnexB(input.video[0]!.data, codec)
    tracks = [videoTrackInfoFrom({ codec, parameterSets: findParameterSets(codec, firstAu) }), audioTrackInfoFrom(input.audioConfig)]
  })

  /** init + one segment per entry of `segments`, video track 1 and audio track 2 multiplexed. */
  function writeMuxed(carriage: ParameterSetCarriage): { bytes: Uint8Array; file: string } {
    const t = tracks.map((info, i) => fragmentTrackFor(info, i + 1, { parameterSets: carriage }))
    const parts = [buildInitSegment(tracks, { parameterSets: carriage })]
    segments.forEach((s, k) => parts.push(buildMediaSegment({ sequenceNumber: k + 1, tracks: [{ ...t[0]!, samples: s.video }, { ...t[1]!, samples: s.audio }] })))
    const bytes = concat(parts)
    const file = join(work, `${name}-${carriage}.mp4`)
    writeFileSync(file, bytes)
    return { bytes, file }
  }

  it('demuxed 2 s: 50 frames with B-frames (PTS ≠ DTS) and 2 key frames; AAC frames of 1024 samples', () => {
    expect(input.video).toHaveLength(50)
    expect(input.video.filter((v) => v.keyFrame)).toHaveLength(2)
    expect(input.video.some((v) => v.ptsTicks !== v.dtsTicks)).toBe(true)
    expect(input.audioConfig).toEqual({ sampleRate: audioRate, channels: 1, audioObjectType: 2 })
    expect(segments.map((s) => s.video.length)).toEqual([25, 25])
  })

  it('the track info and codecs string match what ffprobe reads from the MP4', () => {
    const { file } = writeMuxed(ParameterSetCarriage.OUT_OF_BAND)
    const { stdout } = run(ffprobe, ['-v', 'error', '-show_entries', 'stream=codec_type,codec_tag_string,profile,level,width,height,sample_rate,channels', '-of', 'json', file])
    const streams = (JSON.parse(stdout) as { streams: Record<string, string | number>[] }).streams
    const v = streams.find((s) => s.codec_type === 'video')!
    const a = streams.find((s) => s.codec_type === 'audio')!
    const video = tracks[0]!
    if (video.kind !== 'video') throw new Error('track 0 is video')
    expect([video.width, video.height]).toEqual([320, 180])
    expect([v.width, v.height]).toEqual([320, 180])
    expect(v.codec_tag_string).toBe(entries[0])
    const parts = video.codecsString.split('.')
    expect(parts[0]).toBe(entries[0])
    if (codec === VideoCodec.H264) {
      expect(parseInt(parts[1]!.slice(0, 2), 16)).toBe(H264_PROFILES[v.profile as string])
      expect(parseInt(parts[1]!.slice(4, 6), 16)).toBe(v.level)
    } else {
      expect(Number(parts[1])).toBe(H265_PROFILES[v.profile as string])
      expect(parts[3]).toBe(`L${v.level}`)
      expect(video.codecsString).toBe(`hvc1.1.6.L${v.level}.90`)
    }
    expect(a).toMatchObject({ codec_tag_string: 'mp4a', profile: 'LC', sample_rate: String(audioRate), channels: 1 })
    expect(tracks[1]!.codecsString).toBe('mp4a.40.2')
  })

  it.each([ParameterSetCarriage.OUT_OF_BAND, ParameterSetCarriage.IN_BAND])('init + 2 segments (%s) decode cleanly: every frame, the same PTS, the audio', (carriage) => {
    const { file, bytes } = writeMuxed(carriage)
    expectCleanDecode(file)
    const frames = probeFrames(file, 'v')
    expect(frames.map((f) => f.pts)).toEqual(input.video.map((v) => v.ptsTicks).sort((x, y) => x - y))
    expect(frames.filter((f) => f.key)).toHaveLength(2)
    // Audio: every AAC frame, 1024 samples apart, from the first PTS converted to the sample rate.
    const audioFrames = probeFrames(file, 'a')
    expect(audioFrames).toHaveLength(input.audio.length)
    const first = Math.round((input.audio[0]!.ptsTicks * audioRate) / 90000)
    expect(audioFrames.map((f) => f.pts)).toEqual(input.audio.map((_, i) => first + i * 1024))
    expect(frameHashes(file, 'v')).toEqual(sourceVideo)
    expect(frameHashes(file, 'a')).toEqual(sourceAudio)
    const top = walk(bytes)
    const entry = find(top, 'moov/trak/mdia/minf/stbl/stsd')[0]!.children[0]!
    const inBand = carriage === ParameterSetCarriage.IN_BAND
    expect(entry.type).toBe(inBand ? entries[1] : entries[0])
    if (codec === VideoCodec.H265) {
      // array_completeness: 1 for hvc1 (all parameter sets here), 0 for hev1 (more may come in band).
      const hvcC = entry.children.find((c) => c.type === 'hvcC')!
      expect(bytes[hvcC.start + 8 + 23]! & 0x80).toBe(inBand ? 0 : 0x80)
    }
    // The key frame that starts each segment: its own SPS only when in band, never an AUD.
    const sps = codec === VideoCodec.H264 ? H264NalType.SPS : H265NalType.SPS
    const aud = codec === VideoCodec.H264 ? H264NalType.AUD : H265NalType.AUD
    for (const moof of top.filter((b) => b.type === 'moof')) {
      const vt = readTrun(bytes, find(moof.children, 'traf/trun')[0]!)
      const types = splitLengthPrefixed(bytes.subarray(moof.start + vt.dataOffset, moof.start + vt.dataOffset + vt.samples[0]!.size), codec).map((n) => n.type)
      expect(types.includes(sps)).toBe(inBand)
      expect(types.includes(aud)).toBe(false)
    }
  })

  it('our SEI survives: FFmpeg reports the MQA UUID and payload on every frame', () => {
    const { file } = writeMuxed(ParameterSetCarriage.OUT_OF_BAND)
    const frames = showinfoUserData(file)
    expect(frames).toHaveLength(50)
    const ours = frames.map((f) => f.filter(([u]) => u === MQA_SEI_UUID_STRING).map(([, d]) => d))
    for (const [i, list] of ours.entries()) expect(list, `frame ${i}`).toHaveLength(1)
    expect(ours.map((l) => l[0]).sort()).toEqual(input.video.map((_, i) => encodeMqaPayload(recordFor(i))).sort())
  })

  it('boxes: sizes tile the file; mfhd, tfdt, trun and mdat hold what the input says', () => {
    const { bytes } = writeMuxed(ParameterSetCarriage.OUT_OF_BAND)
    const top = walk(bytes)
    expect(top.map((b) => b.type)).toEqual(['ftyp', 'moov', 'styp', 'moof', 'mdat', 'styp', 'moof', 'mdat'])
    expect(find(top, 'moov/trak/mdia/mdhd').map((m) => u32At(bytes, m.start + 20))).toEqual([90000, audioRate])
    expect(find(top, 'moov/mvex/trex').map((t) => u32At(bytes, t.start + 12))).toEqual([1, 2])
    const psTypes = codec === VideoCodec.H264 ? [H264NalType.SPS, H264NalType.PPS, H264NalType.AUD] : [H265NalType.VPS, H265NalType.SPS, H265NalType.PPS, H265NalType.AUD]

    const moofs = top.filter((b) => b.type === 'moof')
    let nextAudio: number | undefined
    moofs.forEach((moof, k) => {
      const seg = segments[k]!
      const mdat = top[top.indexOf(moof) + 1]!
      expect(u32At(bytes, find(moof.children, 'mfhd')[0]!.start + 12)).toBe(k + 1)
      const [vTraf, aTraf] = find(moof.children, 'traf')
      // tfhd: default-base-is-moof, track ids 1 and 2.
      for (const [traf, id] of [[vTraf!, 1], [aTraf!, 2]] as const) {
        const tfhd = find(traf.children, 'tfhd')[0]!
        expect(u32At(bytes, tfhd.start + 8) & 0xffffff).toBe(0x020000)
        expect(u32At(bytes, tfhd.start + 12)).toBe(id)
      }
      // Video: tfdt = first DTS; durations = DTS steps; composition offsets = PTS − DTS; sync flags.
      expect(tfdtOf(bytes, vTraf!)).toBe(seg.video[0]!.dtsTicks)
      const vt = readTrun(bytes, find(vTraf!.children, 'trun')[0]!)
      expect(vt.version).toBe(1)
      expect(vt.samples.map((s) => s.duration)).toEqual(seg.video.map((s) => s.durationTicks))
      expect(vt.samples.map((s) => s.cto)).toEqual(seg.video.map((s) => s.ptsTicks - s.dtsTicks))
      // sample_flags: the key frame depends on nothing (depends_on 2), the rest do (1) and are non-sync.
      // is_depended_on: H.264 from nal_ref_idc (1 referenced, 2 disposable); H.265 unknown (0).
      expect(seg.video.map((s) => s.keyFrame)).toEqual(seg.video.map((_, i) => i === 0))
      expect(vt.samples.map((s) => [(s.flags >>> 24) & 3, s.flags & 0x10000])).toEqual(seg.video.map((_, i) => (i === 0 ? [2, 0] : [1, 0x10000])))
      const dependedOn = seg.video.map((s) => {
        if (codec === VideoCodec.H265) return 0
        const slices = splitAnnexB(s.data, codec).filter((n) => n.type === H264NalType.SLICE || n.type === H264NalType.IDR)
        return slices.some((n) => (n.data[0]! & 0x60) !== 0) ? 1 : 2
      })
      expect(vt.samples.map((s) => (s.flags >>> 22) & 3)).toEqual(dependedOn)
      if (codec === VideoCodec.H264) expect(dependedOn).toContain(2)
      expect(vt.samples.map((s) => s.flags & 0x30ffff)).toEqual(seg.video.map(() => 0))
      // Data offset: from the moof's start to the first byte of the track's data in the mdat.
      expect(vt.dataOffset).toBe(moof.size + 8)
      let p = moof.start + vt.dataOffset
      for (const [i, s] of vt.samples.entries()) {
        const nals = splitLengthPrefixed(bytes.subarray(p, p + s.size), codec)
        expect(nals.some((n) => psTypes.includes(n.type as never)), `sample ${i}: no AUD or parameter set left`).toBe(false)
        const found = readMqaRecords(codec, nals)
        expect(found.records.map((r) => r.frameNumber)).toEqual([k === 0 ? i : segments[0]!.video.length + i])
        p += s.size
      }
      // Audio: tfdt in the sample rate, continuous across segments; 1024 per frame; no composition offsets.
      const at = readTrun(bytes, find(aTraf!.children, 'trun')[0]!)
      expect(at.version).toBe(0)
      expect(at.flags & 0x800).toBe(0)
      expect(at.samples.map((s) => s.duration)).toEqual(seg.audio.map(() => 1024))
      expect(at.samples.map((s) => s.size)).toEqual(seg.audio.map((s) => s.data.length))
      expect(at.dataOffset).toBe(p - moof.start)
      const aBase = tfdtOf(bytes, aTraf!)
      expect(aBase).toBe(Math.round((seg.audio[0]!.ptsTicks * audioRate) / 90000))
      if (nextAudio !== undefined) expect(aBase).toBe(nextAudio)
      nextAudio = aBase + 1024 * seg.audio.length
      for (const s of at.samples) p += s.size
      expect(p).toBe(mdat.start + mdat.size)
    })
  })

  it('a segment sent as CMAF chunks (5 frames each) concatenates to a playable track', () => {
    const video = tracks[0]!
    const t = fragmentTrackFor(video, 1)
    const parts = [buildInitSegment([video])]
    let sequenceNumber = 1
    const chunkCounts: number[] = []
    for (const s of segments) {
      const chunks = buildChunkedSegment({ sequenceNumber, tracks: [{ ...t, samples: s.video }], chunkDurationTicks: 5 * FRAME_TICKS })
      chunkCounts.push(chunks.length)
      sequenceNumber += chunks.length
      parts.push(...chunks)
    }
    expect(chunkCounts).toEqual([5, 5])
    const bytes = concat(parts)
    const file = join(work, `${name}-chunked.mp4`)
    writeFileSync(file, bytes)
    expectCleanDecode(file)
    expect(frameHashes(file, 'v')).toEqual(sourceVideo)
    expect(probeFrames(file, 'v').map((f) => f.pts)).toEqual(input.video.map((v) => v.ptsTicks).sort((x, y) => x - y))
    const top = walk(bytes)
    expect(top.filter((b) => b.type === 'styp')).toHaveLength(2)
    expect(top.filter((b) => b.type === 'moof').map((m) => u32At(bytes, find(m.children, 'mfhd')[0]!.start + 12))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    // Each chunk's tfdt is its first sample's DTS.
    const firstDts = input.video.filter((_, i) => i % 5 === 0).map((v) => v.dtsTicks)
    expect(top.filter((b) => b.type === 'moof').map((m) => tfdtOf(bytes, find(m.children, 'traf')[0]!))).toEqual(firstDts)
    // A single-track init is a CMAF header.
    const ftyp = top[0]!
    expect(Buffer.from(bytes.subarray(ftyp.start + 16, ftyp.start + ftyp.size)).toString('latin1')).toContain('cmfc')
  })

  it('an audio-only CMAF track decodes every AAC frame', () => {
    const audio = tracks[1]!
    const t = fragmentTrackFor(audio, 1)
    expect(t.timescale).toBe(trackTimescale(audio))
    const muxer = new CmafMuxer([audio])
    const bytes = concat([muxer.initSegment, ...segments.map((s) => muxer.segment([s.audio]))])
    const file = join(work, `${name}-audio.mp4`)
    writeFileSync(file, bytes)
    expectCleanDecode(file)
    expect(probeFrames(file, 'a')).toHaveLength(input.audio.length)
    expect(frameHashes(file, 'a')).toEqual(sourceAudio)
  })

  it('avcC / hvcC are byte for byte what FFmpeg writes for the same stream', () => {
    const ffFile = join(work, `${name}-ffmpeg.mp4`)
    run(ffmpeg, ['-v', 'error', '-y', '-i', join(work, `${name}.ts`), '-map', '0:v', '-c', 'copy', '-tag:v', entries[0]!, '-movflags', 'frag_keyframe+empty_moov+default_base_moof', ffFile])
    const configOf = (bytes: Uint8Array) => {
      const entry = find(walk(bytes), 'moov/trak/mdia/minf/stbl/stsd')[0]!.children[0]!
      expect(entry.type).toBe(entries[0])
      const config = entry.children.find((c) => c.type === 'avcC' || c.type === 'hvcC')!
      return Buffer.from(bytes.subarray(config.start, config.start + config.size)).toString('hex')
    }
    const ours = configOf(buildInitSegment([tracks[0]!]))
    expect(ours).toBe(configOf(new Uint8Array(readFileSync(ffFile))))
  })

  it.for([
    { layout: 'one SourceBuffer per CMAF track (DASH)', muxed: false, carriage: ParameterSetCarriage.OUT_OF_BAND },
    { layout: 'multiplexed fMP4 in one SourceBuffer (HLS)', muxed: true, carriage: ParameterSetCarriage.OUT_OF_BAND },
    { layout: 'multiplexed fMP4, in-band parameter sets', muxed: true, carriage: ParameterSetCarriage.IN_BAND },
  ])('Chromium MSE plays it: $layout', async ({ muxed, carriage }, ctx) => {
    if (!browser) return ctx.skip(`no Chromium at ${CHROMIUM}: ${String(browserError)}`)
    const carried = tracks.map((info) => (info.kind === 'video' ? videoTrackInfoFrom({ codec, parameterSets: findParameterSets(codec, splitAnnexB(input.video[0]!.data, codec)), inBandParameterSets: carriage === ParameterSetCarriage.IN_BAND }) : info))
    let sources: MseSource[]
    if (muxed) {
      sources = [{ mime: `video/mp4; codecs="${carried.map((t) => t.codecsString).join(',')}"`, parts: [writeMuxed(carriage).bytes] }]
    } else {
      sources = carried.map((info, i) => {
        const muxer = new CmafMuxer([info], { parameterSets: carriage })
        const media = segments.map((s) => muxer.segment([i === 0 ? s.video : s.audio]))
        return { mime: `${info.kind}/mp4; codecs="${info.codecsString}"`, parts: [muxer.initSegment, ...media] }
      })
    }
    const result = await playInChromium(sources)
    if (result.supported.includes(false)) return ctx.skip(`this Chromium has no decoder for ${sources.map((s) => s.mime).join(' + ')}`)
    expect(result.errors).toEqual([])
    expect(result.ended).toBe(true)
    expect(result.decodedFrames).toBe(input.video.length)
    expect(result.audioBytes).toBeGreaterThan(0)
    // One continuous range per SourceBuffer from the first PTS (MSE works in presentation time; a
    // muxed buffer reports where both tracks have data).
    const firstPts = Math.min(...input.video.map((v) => v.ptsTicks)) / 90000
    for (const ranges of result.buffered) expect(ranges).toHaveLength(1)
    expect(result.buffered[0]![0]![0]).toBeCloseTo(muxed ? Math.max(firstPts, input.audio[0]!.ptsTicks / 90000) : firstPts, 3)
  })

  it('createCmafWriter (the packager core plug-in) writes the same bytes as the pure builders', () => {
    const writer = createCmafWriter()
    const closed = segments.map((s) => ({ frames: s.video.map((sample) => ({ sample })), audio: s.audio, keyFrameNals: splitAnnexB(s.video[0]!.data, codec) }))
    const init = writer.init(closed[0]!, codec, { num: FPS, den: 1 }, input.audioConfig)
    const bytes = concat([init, ...closed.map((c, k) => writer.segment(c, k + 1))])
    expect(writer.tracks?.map((x) => x.codecsString)).toEqual(tracks.map((x) => x.codecsString))
    expect(Buffer.from(bytes).equals(Buffer.from(writeMuxed(ParameterSetCarriage.OUT_OF_BAND).bytes))).toBe(true)
  })
})

describe('toSampleData', () => {
  const sps = Uint8Array.from([0x67, 0x64, 0x00, 0x0d, 0xac])
  const pps = Uint8Array.from([0x68, 0xee, 0x3c, 0x80])
  const otherPps = Uint8Array.from([0x68, 0xee, 0x3c, 0xb0])
  const sei = buildMqaSeiNal(VideoCodec.H264, { frameNumber: 3 })
  const aud = Uint8Array.from([0x09, 0xf0])
  const idr = Uint8Array.from([0x65, 0x88, 0x84, 0x00, 0x33])
  const nonRef = Uint8Array.from([0x01, 0x9e, 0x02, 0x00, 0x03])

  it('drops the AUD and the init segment\'s parameter sets, keeps the SEI and a changed PPS, 4-byte lengths', () => {
    const au = joinAnnexB([aud, sps, pps, sei, idr])
    const out = toSampleData(VideoCodec.H264, au, [sps, pps])
    expect(splitLengthPrefixed(out.data, VideoCodec.H264).map((n) => Array.from(n.data))).toEqual([Array.from(sei), Array.from(idr)])
    expect(out.referenced).toBe(true)
    const changed = toSampleData(VideoCodec.H264, joinAnnexB([aud, sps, otherPps, sei, idr]), [sps, pps])
    expect(splitLengthPrefixed(changed.data, VideoCodec.H264).map((n) => n.type)).toEqual([H264NalType.PPS, 6, H264NalType.IDR])
    // In band: only the AUD goes.
    expect(splitLengthPrefixed(toSampleData(VideoCodec.H264, au).data, VideoCodec.H264).map((n) => n.type)).toEqual([7, 8, 6, 5])
  })

  it('marks a picture with nal_ref_idc 0 as not referenced (disposable), and refuses an access unit with nothing left', () => {
    expect(toSampleData(VideoCodec.H264, joinAnnexB([aud, sei, nonRef])).referenced).toBe(false)
    expect(toSampleData(VideoCodec.H265, joinAnnexB([Uint8Array.from([0x02, 0x01, 0xd0, 0x00])])).referenced).toBeUndefined()
    expect(() => toSampleData(VideoCodec.H264, joinAnnexB([aud]))).toThrow(/no NAL unit/)
  })
})
