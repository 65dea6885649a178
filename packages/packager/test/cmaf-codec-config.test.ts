import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { H264NalType, H265NalType, MqaError, VideoCodec, escapeRbsp, joinAnnexB, splitAnnexB } from '@mqa/common'
import { afterAll, describe, expect, it } from 'vitest'
import { resolveFfmpeg } from '../../../scripts/lib/ffmpeg-bin.js'
import {
  BitReader,
  aacCodecsString,
  buildAudioSpecificConfig,
  buildAvcC,
  buildEsds,
  buildHvcC,
  box,
  fullBox,
  h264CodecsString,
  h265CodecsString,
  parseAdtsHeader,
  parseH264Sps,
  parseH265Sps,
  readAdts,
  splitAdts,
  u16,
  u24,
  u32,
  u64,
  videoTrackInfoFrom,
} from '../src/cmaf/index.js'

/**
 * Unit tests of the CMAF building blocks. SPS vectors are made here by FFmpeg (libx264/libx265,
 * one frame each, in the formats listed) and checked against what ffprobe reports for the same
 * stream, so a misread field anywhere before the VUI shows up as a wrong size or level.
 */
const { ffmpeg, ffprobe } = resolveFfmpeg()
const work = mkdtempSync(join(tmpdir(), 'mqa-cmaf-config-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '')
  return Uint8Array.from({ length: clean.length / 2 }, (_, i) => parseInt(clean.slice(2 * i, 2 * i + 2), 16))
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex')
}

describe('box writer', () => {
  it('writes size-prefixed boxes and full boxes big-endian', () => {
    expect(toHex(box('free'))).toBe('0000000866726565')
    expect(toHex(fullBox('mfhd', 0, 0, u32(7)))).toBe('000000106d66686400000000' + '00000007')
    expect(toHex(u16(0x1234))).toBe('1234')
    expect(toHex(u24(0x123456))).toBe('123456')
    expect(toHex(u64(2 ** 40 + 5))).toBe('0000010000000005')
  })

  it('refuses values that do not fit', () => {
    expect(() => u16(0x10000)).toThrow(MqaError)
    expect(() => u32(-1)).toThrow(/u32/)
    expect(() => u64(2 ** 53)).toThrow(MqaError)
    expect(() => box('toolong')).toThrow(/four-character/)
  })
})

describe('BitReader', () => {
  it('reads fixed bits and Exp-Golomb codes', () => {
    // 1 | 010 | 011 | 00100 | 00101 | 0001000 → ue 0, 1, 2, 3, 4, se(7) = 4
    const r = new BitReader(hex('a6 42 88'))
    expect([r.ue(), r.ue(), r.ue(), r.ue(), r.ue()]).toEqual([0, 1, 2, 3, 4])
    expect(r.se()).toBe(4)
  })

  it('says which field ran past the end', () => {
    const r = new BitReader(hex('ff'))
    r.u(6)
    expect(() => r.u(4, 'level_idc')).toThrow(/level_idc: needs 4 bits, 2 left/)
  })
})

describe('ADTS', () => {
  /** An ADTS header (13818-7 §6.2.1) built field by field. */
  function adts(o: { aot: number; rateIndex: number; channels: number; frameBytes: number; crc?: boolean; blocks?: number }): Uint8Array {
    const h = new Uint8Array(o.crc ? 9 : 7)
    h[0] = 0xff
    h[1] = 0xf0 | (o.crc ? 0 : 1)
    h[2] = ((o.aot - 1) << 6) | (o.rateIndex << 2) | (o.channels >> 2)
    h[3] = ((o.channels & 3) << 6) | (o.frameBytes >> 11)
    h[4] = (o.frameBytes >> 3) & 0xff
    h[5] = ((o.frameBytes & 7) << 5) | 0x1f
    h[6] = 0xfc | ((o.blocks ?? 1) - 1)
    return h
  }
  function frame(payload: number[], o: { crc?: boolean; blocks?: number } = {}): Uint8Array {
    const header = adts({ aot: 2, rateIndex: 3, channels: 2, frameBytes: (o.crc ? 9 : 7) + payload.length, ...o })
    return Uint8Array.from([...header, ...payload])
  }

  it('parses the header fields', () => {
    const h = parseAdtsHeader(adts({ aot: 2, rateIndex: 4, channels: 1, frameBytes: 300 }))
    expect(h).toEqual({ headerBytes: 7, frameBytes: 300, audioObjectType: 2, samplingFrequencyIndex: 4, sampleRate: 44100, channels: 1, rawDataBlocks: 1 })
    expect(parseAdtsHeader(adts({ aot: 2, rateIndex: 3, channels: 2, frameBytes: 20, crc: true }))?.headerBytes).toBe(9)
    expect(parseAdtsHeader(hex('ff f1 3c'))).toBeUndefined()
    expect(parseAdtsHeader(adts({ aot: 2, rateIndex: 13, channels: 2, frameBytes: 20 }))).toBeUndefined()
  })

  it('strips 7- and 9-byte headers and keeps the raw frames as views', () => {
    const data = Uint8Array.from([...frame([1, 2, 3]), ...frame([4, 5], { crc: true }), ...frame([6])])
    const frames = splitAdts(data)
    expect(frames.map((f) => Array.from(f.payload))).toEqual([[1, 2, 3], [4, 5], [6]])
    expect(frames.map((f) => f.offset)).toEqual([0, 10, 21])
    expect(frames[0]!.payload.buffer).toBe(data.buffer)
    expect(frames[0]).toMatchObject({ sampleRate: 48000, channels: 2, audioObjectType: 2 })
  })

  it('skips garbage, multi-block frames and a cut-off frame, and counts the bytes', () => {
    const good = frame([9, 9])
    const multi = frame([7, 7, 7], { blocks: 2 })
    const data = Uint8Array.from([0x00, 0xff, 0x00, ...good, ...multi, ...good, ...good.subarray(0, 6)])
    const r = readAdts(data)
    expect(r.frames.map((f) => f.offset)).toEqual([3, 22])
    expect(r.skippedBytes).toBe(3 + multi.length + 6)
  })
})

describe('AudioSpecificConfig and esds', () => {
  it('matches the bytes FFmpeg writes for AAC LC', () => {
    // FFmpeg's aac encoder extradata for 48 kHz stereo / 44.1 kHz mono.
    expect(toHex(buildAudioSpecificConfig({ audioObjectType: 2, sampleRate: 48000, channels: 2 }))).toBe('1190')
    expect(toHex(buildAudioSpecificConfig({ audioObjectType: 2, sampleRate: 44100, channels: 1 }))).toBe('1208')
    // A rate outside the table goes as an explicit 24-bit frequency.
    expect(toHex(buildAudioSpecificConfig({ audioObjectType: 2, sampleRate: 50000, channels: 2 }))).toBe('178061a810')
  })

  it('nests ES, DecoderConfig (0x40, audio) and DecoderSpecificInfo descriptors', () => {
    const esds = buildEsds({ audioObjectType: 2, sampleRate: 48000, channels: 2 }, { trackId: 2 })
    expect(toHex(esds)).toBe(
      '00000027' + '65736473' + '00000000' + '03' + '19' + '0002' + '00' + '04' + '11' + '40' + '15' + '000000' + '00000000' + '00000000' + '05' + '02' + '1190' + '06' + '01' + '02',
    )
    expect(aacCodecsString(2)).toBe('mp4a.40.2')
  })
})

interface Probe {
  profile: string
  level: number
  width: number
  height: number
  pix_fmt: string
}

/** One frame of testsrc2 encoded raw (Annex B), and what ffprobe says about it. */
function encodeOne(name: string, args: string[], raw: 'h264' | 'hevc'): { es: Uint8Array; probe: Probe } {
  const file = join(work, `${name}.${raw}`)
  const r = spawnSync(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-frames:v', '2', ...args, '-f', raw, file], { encoding: 'utf8' })
  expect(r.status, r.stderr).toBe(0)
  const out = execFileSync(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=profile,level,width,height,pix_fmt', '-of', 'json', file], { encoding: 'utf8' })
  const probe = (JSON.parse(out) as { streams: Probe[] }).streams[0]!
  return { es: new Uint8Array(readFileSync(file)), probe }
}

const H264_PROFILES: Record<string, number> = { Baseline: 66, 'Constrained Baseline': 66, Main: 77, High: 100, 'High 10': 110, 'High 4:2:2': 122, 'High 4:4:4 Predictive': 244 }

describe.each([
  { name: 'high-420', args: ['-c:v', 'libx264', '-pix_fmt', 'yuv420p'], chroma: 1, depth: 8 },
  { name: 'baseline', args: ['-c:v', 'libx264', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p'], chroma: 1, depth: 8 },
  { name: 'high422-10', args: ['-c:v', 'libx264', '-pix_fmt', 'yuv422p10le', '-x264-params', 'cqm=jvt'], chroma: 2, depth: 10 },
  { name: 'high444', args: ['-c:v', 'libx264', '-pix_fmt', 'yuv444p', '-vf', 'setsar=4/3'], chroma: 3, depth: 8, sar: [4, 3] },
  { name: 'interlaced', args: ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-flags', '+ildct+ilme', '-vf', 'setsar=5/7'], chroma: 1, depth: 8, sar: [5, 7] },
])('H.264 SPS from libx264 $name', ({ name, args, chroma, depth, sar }) => {
  it('reads size after cropping, profile, level, chroma and bit depth as ffprobe does', () => {
    const { es, probe } = encodeOne(`h264-${name}`, args, 'h264')
    const nals = splitAnnexB(es, VideoCodec.H264)
    const spsNal = nals.find((n) => n.type === H264NalType.SPS)!.data
    const ppsNal = nals.find((n) => n.type === H264NalType.PPS)!.data
    const sps = parseH264Sps(spsNal)
    expect({ width: sps.width, height: sps.height }).toEqual({ width: probe.width, height: probe.height })
    expect(sps.profileIdc).toBe(H264_PROFILES[probe.profile])
    expect(sps.levelIdc).toBe(probe.level)
    expect([sps.chromaFormatIdc, sps.bitDepthLuma, sps.bitDepthChroma]).toEqual([chroma, depth, depth])
    expect([sps.sarWidth, sps.sarHeight]).toEqual(sar ?? [1, 1])
    expect(sps.frameRate).toEqual({ num: 25, den: 1 })
    // 320x180 is not a whole number of macroblocks: the SPS crops 12 (or, interlaced, 12) lines.
    expect(sps.codedHeight).toBe(192)
    expect(sps.frameMbsOnly).toBe(name !== 'interlaced')

    const codecs = h264CodecsString(spsNal)
    expect(codecs).toBe(`avc1.${toHex(spsNal.subarray(1, 4))}`)
    expect(parseInt(codecs.slice(5, 7), 16)).toBe(H264_PROFILES[probe.profile])
    expect(parseInt(codecs.slice(9, 11), 16)).toBe(probe.level)
    expect(h264CodecsString(spsNal, 'avc3').startsWith('avc3.')).toBe(true)

    const avcC = buildAvcC({ sps: [spsNal], pps: [ppsNal] })
    const body = avcC.subarray(8)
    expect(Array.from(body.subarray(0, 6))).toEqual([1, spsNal[1], spsNal[2], spsNal[3], 0xff, 0xe1])
    expect((body[6]! << 8) | body[7]!).toBe(spsNal.length)
    expect(toHex(body.subarray(8, 8 + spsNal.length))).toBe(toHex(spsNal))
    const ext = [100, 110, 122, 144].includes(sps.profileIdc) ? 4 : 0
    expect(avcC.length).toBe(8 + 6 + 2 + spsNal.length + 1 + 2 + ppsNal.length + ext)
    if (ext) expect(Array.from(body.subarray(body.length - 4))).toEqual([0xfc | chroma, 0xf8 | (depth - 8), 0xf8 | (depth - 8), 0])
  })
})

const H265_PROFILES: Record<string, number> = { Main: 1, 'Main 10': 2, 'Main Still Picture': 3, Rext: 4 }

describe.each([
  { name: 'main', pixFmt: 'yuv420p', x265: '', chroma: 1, depth: 8 },
  { name: 'main10', pixFmt: 'yuv420p10le', x265: '', chroma: 1, depth: 10 },
  { name: 'rext-444', pixFmt: 'yuv444p', x265: '', chroma: 3, depth: 8 },
  { name: 'temporal-layers', pixFmt: 'yuv420p', x265: ':temporal-layers=1:bframes=3:b-pyramid=1:scaling-list=default', chroma: 1, depth: 8, sar: [10, 11] },
])('H.265 SPS from libx265 $name', ({ name, pixFmt, x265, chroma, depth, sar }) => {
  it('reads size, profile, tier, level, chroma and bit depth as ffprobe does; hvcC and codecs string agree', () => {
    const vf = sar ? ['-vf', `setsar=${sar[0]}/${sar[1]}`] : []
    const { es, probe } = encodeOne(`h265-${name}`, ['-c:v', 'libx265', '-pix_fmt', pixFmt, '-x265-params', `log-level=error${x265}`, ...vf], 'hevc')
    const nals = splitAnnexB(es, VideoCodec.H265)
    const pick = (t: number) => nals.find((n) => n.type === t)!.data
    const [vps, spsNal, pps] = [pick(H265NalType.VPS), pick(H265NalType.SPS), pick(H265NalType.PPS)]
    const sps = parseH265Sps(spsNal)
    expect({ width: sps.width, height: sps.height }).toEqual({ width: probe.width, height: probe.height })
    expect(sps.profileIdc).toBe(H265_PROFILES[probe.profile])
    expect(sps.levelIdc).toBe(probe.level)
    expect([sps.chromaFormatIdc, sps.bitDepthLuma, sps.bitDepthChroma]).toEqual([chroma, depth, depth])
    expect([sps.sarWidth, sps.sarHeight]).toEqual(sar ?? [1, 1])
    expect(sps.frameRate).toEqual({ num: 25, den: 1 })
    if (name === 'temporal-layers') expect(sps.maxSubLayers).toBeGreaterThan(1)

    // Profile compatibility flag j is bit j from the MSB; the codecs string writes them reversed.
    expect((sps.profileCompatibilityFlags >>> (31 - sps.profileIdc)) & 1).toBe(1)
    const codecs = h265CodecsString(spsNal)
    const [entry, profile, compat, tierLevel, ...constraints] = codecs.split('.')
    expect(entry).toBe('hvc1')
    expect(Number(profile)).toBe(H265_PROFILES[probe.profile])
    expect(parseInt(compat!, 16) & (1 << sps.profileIdc)).not.toBe(0)
    expect(tierLevel).toBe(`L${probe.level}`)
    // x265 marks its output progressive and frame-only, never interlaced or packed (0b1001 in the
    // high nibble); RExt adds max_12bit, max_10bit, max_8bit for 4:4:4 8-bit (0b1110).
    expect(constraints[0]).toBe(name === 'rext-444' ? '9E' : '90')
    if (name === 'main') expect(codecs).toBe(`hvc1.1.6.L${probe.level}.90`)

    const hvcC = buildHvcC({ vps: [vps], sps: [spsNal], pps: [pps] }).subarray(8)
    expect(hvcC[0]).toBe(1)
    expect(hvcC[1]).toBe(sps.profileIdc)
    expect(toHex(hvcC.subarray(2, 6))).toBe(sps.profileCompatibilityFlags.toString(16).padStart(8, '0'))
    expect(hvcC[12]).toBe(sps.levelIdc)
    expect([hvcC[16]! & 3, (hvcC[17]! & 7) + 8, (hvcC[18]! & 7) + 8]).toEqual([chroma, depth, depth])
    expect(hvcC[21]! & 3).toBe(3) // lengthSizeMinusOne
    expect((hvcC[21]! >> 3) & 7).toBe(sps.maxSubLayers)
    expect(hvcC[22]).toBe(3)
    // VPS, SPS, PPS arrays with array_completeness set (hvc1), each one NAL unit.
    let p = 23
    for (const [type, nal] of [[H265NalType.VPS, vps], [H265NalType.SPS, spsNal], [H265NalType.PPS, pps]] as const) {
      expect(hvcC[p]).toBe(0x80 | type)
      expect((hvcC[p + 1]! << 8) | hvcC[p + 2]!).toBe(1)
      expect((hvcC[p + 3]! << 8) | hvcC[p + 4]!).toBe(nal.length)
      expect(toHex(hvcC.subarray(p + 5, p + 5 + nal.length))).toBe(toHex(nal))
      p += 5 + nal.length
    }
    expect(p).toBe(hvcC.length)
    expect(buildHvcC({ vps: [vps], sps: [spsNal], pps: [pps] }, { complete: false })[8 + 23]).toBe(H265NalType.VPS)

    const info = videoTrackInfoFrom({ codec: VideoCodec.H265, parameterSets: { vps, sps: spsNal, pps }, inBandParameterSets: true })
    expect(info).toMatchObject({ width: probe.width, height: probe.height, frameRate: { num: 25, den: 1 } })
    expect(info.codecsString).toBe(codecs.replace('hvc1', 'hev1'))
  })
})

/** MSB-first bit writer with Exp-Golomb codes, for SPS vectors with features our encoders never emit. */
class BitWriter {
  readonly #bits: number[] = []
  u(value: number, n: number): this {
    for (let i = n - 1; i >= 0; i--) this.#bits.push(Math.floor(value / 2 ** i) % 2)
    return this
  }
  flag(b: boolean | number): this {
    return this.u(b ? 1 : 0, 1)
  }
  ue(value: number): this {
    const len = Math.floor(Math.log2(value + 1))
    return this.u(0, len).u(value + 1, len + 1)
  }
  se(value: number): this {
    return this.ue(value > 0 ? 2 * value - 1 : -2 * value)
  }
  /** NAL header + escaped RBSP with rbsp_trailing_bits. */
  nal(header: number[]): Uint8Array {
    const bits = [...this.#bits, 1]
    while (bits.length % 8) bits.push(0)
    const rbsp = Uint8Array.from({ length: bits.length / 8 }, (_, i) => bits.slice(i * 8, i * 8 + 8).reduce((a, b) => a * 2 + b, 0))
    return Uint8Array.from([...header, ...escapeRbsp(rbsp)])
  }
}

interface StreamProbe {
  width: number
  height: number
  sample_aspect_ratio?: string
  color_range?: string
  color_space?: string
  color_primaries?: string
  color_transfer?: string
  r_frame_rate: string
  profile: string
  level: number
}

interface SpsProbe {
  /** ffprobe's stream fields. */
  stream: StreamProbe
  /** FFmpeg's spec-exact syntax trace (trace_headers) of the SPS: element name → values in order. */
  trace: Map<string, number[]>
}

/**
 * What FFmpeg reads from an SPS: it replaces the SPS of a real 2-frame stream (FFmpeg reports the
 * stream from the SPS it saw, whatever the slices say), and the trace_headers filter lists every
 * syntax element it parsed.
 */
function probeWithSps(codec: VideoCodec, spsNal: Uint8Array): SpsProbe {
  const h264 = codec === VideoCodec.H264
  const raw = h264 ? 'h264' : 'hevc'
  const { es } = encodeOne(`splice-${codec}`, h264 ? ['-c:v', 'libx264'] : ['-c:v', 'libx265', '-x265-params', 'log-level=error'], raw)
  const spsType = h264 ? H264NalType.SPS : H265NalType.SPS
  const nals = splitAnnexB(es, codec).map((n) => (n.type === spsType ? spsNal : n.data))
  const file = join(work, `spliced-${codec}.${raw}`)
  writeFileSync(file, joinAnnexB(nals))
  const r = spawnSync(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_streams', '-of', 'json', file], { encoding: 'utf8' })
  const stream = (JSON.parse(r.stdout) as { streams: StreamProbe[] }).streams[0]!
  expect(stream.width, `ffprobe could not use the SPS: ${r.stderr}`).toBeGreaterThan(0)
  const t = spawnSync(ffmpeg, ['-hide_banner', '-f', raw, '-i', file, '-c', 'copy', '-bsf:v', 'trace_headers', '-f', raw, '-y', '/dev/null'], { encoding: 'utf8' })
  const trace = new Map<string, number[]>()
  let inSps = false
  for (const line of t.stderr.split('\n')) {
    const body = line.replace(/^\[trace_headers[^\]]*\]\s*/, '')
    // A header line starts a syntax structure; only the first SPS is collected.
    if (/^[A-Z]/.test(body)) inSps = body.startsWith('Sequence Parameter Set') && trace.size === 0
    const m = /^\d+\s+([a-z_0-9]+)(?:\[[^\]]*\])*\s+[01]+ = (-?\d+)$/.exec(body)
    if (inSps && m) trace.set(m[1]!, [...(trace.get(m[1]!) ?? []), Number(m[2])])
  }
  expect(trace.size, t.stderr.slice(-2000)).toBeGreaterThan(20)
  return { stream, trace }
}

describe('SPS features our encoders never emit (vectors written bit by bit, read back by FFmpeg too)', () => {
  it('H.265: inter-predicted short-term RPS (with a zero delta dropped), scaling lists, PCM, long-term refs, full VUI', () => {
    const w = new BitWriter()
    w.u(0, 4).u(0, 3).flag(1) // vps id, max_sub_layers_minus1, temporal_id_nesting
    w.u(0, 2).flag(0).u(1, 5).u(0x6000_0000, 32).u(0b1001, 4).u(0, 32).u(0, 12).u(120, 8) // Main, L4
    w.ue(0).ue(1).ue(1920).ue(1088).flag(1).ue(0).ue(0).ue(0).ue(4) // 4:2:0, crop 8 lines
    w.ue(0).ue(0).ue(4) // 8-bit, log2_max_poc_lsb 8
    w.flag(1).ue(4).ue(2).ue(0)
    w.ue(0).ue(3).ue(0).ue(3).ue(1).ue(1)
    // scaling_list_data: matrix 0 of each size explicit, the others predicted.
    w.flag(1).flag(1)
    for (let sizeId = 0; sizeId < 4; sizeId++) {
      for (let matrixId = 0; matrixId < 6; matrixId += sizeId === 3 ? 3 : 1) {
        if (matrixId !== 0) {
          w.flag(0).ue(0)
          continue
        }
        w.flag(1)
        if (sizeId > 1) w.se(8)
        for (let i = 0; i < Math.min(64, 1 << (4 + (sizeId << 1))); i++) w.se((i % 3) - 1)
      }
    }
    w.flag(1).flag(1) // amp, sao
    w.flag(1).u(7, 4).u(7, 4).ue(0).ue(1).flag(0) // pcm
    w.ue(5)
    w.ue(2).ue(0).ue(0).flag(1).ue(1).flag(1) // set 0: S0 = [-1, -3]
    w.flag(1).flag(1).ue(0).flag(1).flag(0).flag(1).flag(1) // set 1: ΔRPS −1 → S0 = [-1, -2, -4]
    w.flag(1).flag(0).ue(1).flag(1).flag(0).flag(0).flag(1).flag(1) // set 2: ΔRPS +2 → S0 = [-2], S1 = [1, 2] (−2+2 = 0 dropped)
    w.flag(1).flag(1).ue(0).flag(1).flag(1).flag(1).flag(1) // set 3: ΔRPS −1 from 3 pictures → S0 = [-1, -3], S1 = [1]
    w.flag(1).flag(0).ue(0).flag(1).flag(1).flag(1).flag(1) // set 4: ΔRPS +1 from 3 pictures
    w.flag(1).ue(2).u(17, 8).flag(1).u(200, 8).flag(0) // long-term refs
    w.flag(1).flag(1) // temporal mvp, strong intra smoothing
    w.flag(1) // VUI
    w.flag(1).u(255, 8).u(7, 16).u(5, 16) // SAR 7:5
    w.flag(0).flag(1).u(5, 3).flag(1).flag(1).u(9, 8).u(16, 8).u(9, 8) // full range, BT.2020 PQ
    w.flag(0).flag(0).flag(0).flag(0).flag(0) // chroma loc, neutral chroma, field seq, frame field info, display window
    w.flag(1).u(1001, 32).u(60000, 32).flag(0).flag(0) // timing 60000/1001, no poc proportional, no HRD
    w.flag(0).flag(0) // bitstream_restriction, sps_extension
    const nal = w.nal([0x42, 0x01])

    const sps = parseH265Sps(nal)
    expect(sps).toMatchObject({ width: 1920, height: 1080, codedHeight: 1088, profileIdc: 1, levelIdc: 120, sarWidth: 7, sarHeight: 5, frameRate: { num: 60000, den: 1001 } })
    expect(sps.colour).toEqual({ primaries: 9, transfer: 16, matrix: 9, fullRange: true })
    expect(h265CodecsString(sps)).toBe('hvc1.1.6.L120.90')
    const { stream, trace } = probeWithSps(VideoCodec.H265, nal)
    expect(stream).toMatchObject({ width: 1920, height: 1080, level: 120 })
    // FFmpeg's CBS reads 3 flags for set 1 and 4 each for sets 2..4: the RPS sizes (NumDeltaPocs) we derived.
    expect(trace.get('used_by_curr_pic_flag')).toHaveLength(3 + 4 + 4 + 4)
    const last = (name: string) => trace.get(name)?.at(-1)
    expect([last('sar_width'), last('sar_height'), last('colour_primaries'), last('transfer_characteristics'), last('matrix_coefficients'), last('video_full_range_flag')]).toEqual([7, 5, 9, 16, 9, 1])
    expect([last('vui_num_units_in_tick'), last('vui_time_scale'), last('conf_win_bottom_offset'), last('sps_extension_present_flag')]).toEqual([1001, 60000, 4, 0])
  })

  it('H.264: POC type 1, explicit scaling lists, field coding with all four crops, full VUI', () => {
    const w = new BitWriter()
    w.u(100, 8).u(0, 8).u(40, 8).ue(0) // High, level 4.0
    w.ue(1).ue(0).ue(0).flag(0) // 4:2:0, 8-bit
    w.flag(1) // seq_scaling_matrix_present_flag
    for (let i = 0; i < 8; i++) {
      w.flag(i === 0 || i === 6)
      if (i === 0) for (let j = 0; j < 16; j++) w.se(j === 0 ? 8 : 1)
      if (i === 6) for (let j = 0; j < 64; j++) w.se(j < 10 ? 2 : 0)
    }
    w.ue(0) // log2_max_frame_num_minus4
    w.ue(1).flag(0).se(-2).se(1).ue(3).se(2).se(-1).se(4) // POC type 1, cycle of 3
    w.ue(4).flag(0)
    w.ue(119).ue(33).flag(0).flag(1).flag(1) // 1920 x 2·34·16 = 1088, field coding (MBAFF), direct_8x8
    w.flag(1).ue(2).ue(3).ue(1).ue(1) // crop: 4 left, 6 right (2 per unit), 4 top, 4 bottom (4 per unit)
    w.flag(1) // VUI
    w.flag(1).u(14, 8) // SAR 4:3 from Table E-1
    w.flag(1).flag(0) // overscan
    w.flag(1).u(5, 3).flag(0).flag(1).u(1, 8).u(1, 8).u(1, 8) // BT.709, limited range
    w.flag(0) // chroma loc
    w.flag(1).u(1, 32).u(50, 32).flag(1) // 25 frames/s as 50 fields/s
    w.flag(0).flag(0).flag(0).flag(0) // no HRD, no pic_struct, no bitstream_restriction
    const nal = w.nal([0x67])

    const sps = parseH264Sps(nal)
    expect(sps).toMatchObject({ width: 1910, height: 1080, codedWidth: 1920, codedHeight: 1088, frameMbsOnly: false, sarWidth: 4, sarHeight: 3, frameRate: { num: 25, den: 1 } })
    expect(sps.colour).toEqual({ primaries: 1, transfer: 1, matrix: 1, fullRange: false })
    expect(h264CodecsString(nal)).toBe('avc1.640028')
    const { stream, trace } = probeWithSps(VideoCodec.H264, nal)
    expect(stream).toMatchObject({ width: 1910, height: 1080, sample_aspect_ratio: '4:3', color_primaries: 'bt709', color_transfer: 'bt709', color_space: 'bt709', profile: 'High', level: 40 })
    expect(trace.get('offset_for_ref_frame')).toEqual([2, -1, 4])
    expect(trace.get('frame_crop_right_offset')).toEqual([3])
  })
})

describe('a published SPS vector', () => {
  it('Main 10 960x540 from Eyevinn/mp4ff hevc/sps_test.go: nine short-term RPS, BT.709; Apple\'s hvc1.2.4.L123.B0', () => {
    // spsNalu in github.com/Eyevinn/mp4ff hevc/sps_test.go (MIT), where it parses to the same values.
    const nal = hex('420101022000000300b0000003000003007ba0078200887db6718b92448053888892cf24a69272c9124922dc91aa48fca223ff000100016a02020201')
    const sps = parseH265Sps(nal)
    expect(sps).toMatchObject({ width: 960, height: 540, codedHeight: 544, profileIdc: 2, levelIdc: 123, bitDepthLuma: 10, bitDepthChroma: 10, sarWidth: 1, sarHeight: 1 })
    expect(sps.colour).toEqual({ primaries: 1, transfer: 1, matrix: 1, fullRange: false })
    expect(h265CodecsString(sps)).toBe('hvc1.2.4.L123.B0')
  })
})

describe('SPS errors', () => {
  it('names the field a truncated SPS lost', () => {
    expect(() => parseH264Sps(hex('67 64 00'))).toThrow(/level_idc/)
    expect(() => parseH265Sps(hex('42 01 01 01 60 00'))).toThrow(MqaError)
    expect(() => parseH264Sps(hex('68 ce 38 80'))).toThrow(/nal_unit_type 8/)
  })
})
