import {
  type FrameRate,
  type MqaError,
  type SegmentQuality,
  type TsEvent,
  type VideoCodec,
  TsDemuxer,
  durationMsOf,
  parseFrameRate,
  segmentQualityOf,
} from '@mqa/common'
import { splitAdts } from './cmaf/adts.js'
import { type ClosedSegment, Segmenter } from './segmenter.js'

/** A segment as published: its bytes per format and what its responses say about it. */
export interface PublishedSegment {
  readonly number: number
  readonly firstFrameIndex: number
  readonly frames: number
  readonly durationMs: number
  readonly discontinuity: boolean
  /** Wall-clock ms the segment became available (CMSD `at`). */
  readonly availableAtMs: number
  /** PTS of the first frame, 90 kHz (for EXT-X-PROGRAM-DATE-TIME and DASH times). */
  readonly startPtsTicks: number
  readonly quality: SegmentQuality
  readonly hasAudio: boolean
  /** MPEG-TS bytes: PAT + PMT, then the segment's packets as they came. */
  readonly ts: Uint8Array
  /** Bytes of PAT/PMT in front of the packets, and the stream offset the packets start at. */
  readonly psiBytes: number
  readonly tsStart: number
  /** CMAF media segment, when the CMAF writer is present. */
  cmaf?: Uint8Array | undefined
}

export interface PackagerCoreOptions {
  readonly segmentSeconds: number
  /** Frame rate, when known; otherwise inferred from the first video timestamps. */
  readonly rate?: FrameRate | undefined
  readonly now?: () => number
  /** Writes the CMAF media segment of a closed segment (plugged in by the CMAF writer). */
  readonly cmaf?: CmafWriter | undefined
  /** The last segment number already published (restored from --out-dir): numbering goes on after it. */
  readonly resumeAfter?: number | undefined
}

export interface CmafWriter {
  /** Called once with the first segment (its parameter sets) to make the init segment. */
  init(segment: ClosedSegment, codec: VideoCodec, rate: FrameRate, audio: AudioConfig | undefined): Uint8Array
  segment(segment: ClosedSegment, sequence: number): Uint8Array
}

export interface AudioConfig {
  readonly sampleRate: number
  readonly channels: number
  readonly audioObjectType: number
}

export interface IngestStats {
  bytes: number
  videoFrames: number
  audioPes: number
  damagedFrames: number
  errors: Record<string, number>
}

/**
 * The packager's core, pure: MPEG-TS bytes in (push), published segments out. Demux (with
 * transport error counting), read each access unit's MQA SEI, segment on the grid, slice the TS
 * bytes of each segment, aggregate its scores for CMSD.
 */
export class PackagerCore {
  readonly ingest: IngestStats = { bytes: 0, videoFrames: 0, audioPes: 0, damagedFrames: 0, errors: {} }
  readonly #o: PackagerCoreOptions
  readonly #demuxer = new TsDemuxer()
  #segmenter: Segmenter | undefined
  #codec: VideoCodec | undefined
  #videoPid: number | undefined
  #rate: FrameRate | undefined
  readonly #rateProbe: number[] = []
  readonly #early: TsEvent[] = []
  /** Raw TS bytes from #rawStart on, for slicing segments. */
  #raw: Uint8Array[] = []
  #rawStart = 0
  #rawEnd = 0
  #pat: Uint8Array | undefined
  #pmt: Uint8Array | undefined
  #init: Uint8Array | undefined
  #cmafSequence = 0
  #audioConfig: AudioConfig | undefined
  readonly errors: MqaError[] = []

  constructor(options: PackagerCoreOptions) {
    this.#o = options
    this.#rate = options.rate
  }

  /** The video track as the CMAF writer described it (codecs string, size), once known. */
  videoTrack: { codecs: string; width: number; height: number } | undefined

  get initSegment(): Uint8Array | undefined {
    return this.#init
  }

  get rate(): FrameRate | undefined {
    return this.#rate
  }

  get codec(): VideoCodec | undefined {
    return this.#codec
  }

  get segmenter(): Segmenter | undefined {
    return this.#segmenter
  }

  push(chunk: Uint8Array): PublishedSegment[] {
    this.ingest.bytes += chunk.length
    this.#raw.push(chunk)
    this.#rawEnd += chunk.length
    const events = this.#demuxer.push(chunk)
    // After the demuxer, which learns the PMT's PID from this chunk's PAT; before the events, so a
    // segment that closes in this chunk (the first, from a file read in large chunks) has the PMT.
    this.#capturePsi(chunk)
    const out: PublishedSegment[] = []
    for (const ev of events) this.#event(ev, out)
    this.#trimRaw()
    return out
  }

  flush(): PublishedSegment[] {
    const out: PublishedSegment[] = []
    for (const ev of this.#demuxer.flush()) this.#event(ev, out)
    if (this.#segmenter) for (const s of this.#segmenter.flush(this.#rawEnd)) out.push(this.#publish(s))
    return out
  }

  #event(ev: TsEvent, out: PublishedSegment[]): void {
    if (ev.kind === 'error') {
      this.ingest.errors[ev.error.code] = (this.ingest.errors[ev.error.code] ?? 0) + 1
      if (this.errors.length < 100) this.errors.push(ev.error)
      return
    }
    if (ev.kind === 'program') {
      this.#videoPid = ev.videoPid
      this.#codec = ev.videoCodec
      return
    }
    if (ev.pid !== this.#videoPid) {
      if (ev.codec === 'aac') this.ingest.audioPes++
      this.#audio(ev)
      return
    }
    this.ingest.videoFrames++
    if (ev.damaged) this.ingest.damagedFrames++
    if (!this.#segmenter) {
      if (!this.#startSegmenter(ev)) return
      // Replay what waited for the frame rate.
      for (const e of this.#early.splice(0)) this.#video(e, out)
    }
    this.#video(ev, out)
  }

  /** The segmenter needs the frame rate: from the options, else from the first DTS steps. */
  #startSegmenter(ev: TsEvent): boolean {
    if (!this.#rate) {
      if (ev.kind === 'pes' && ev.ptsTicks !== undefined) this.#rateProbe.push(ev.dtsTicks ?? ev.ptsTicks)
      if (this.#rateProbe.length < 6) {
        this.#early.push(ev)
        return false
      }
      const steps = this.#rateProbe
        .slice(1)
        .map((t, i) => t - this.#rateProbe[i]!)
        .filter((d) => d > 0)
        .sort((a, b) => a - b)
      const step = steps[0] ?? 3600
      this.#rate = parseFrameRate(String(Math.round((90000 / step) * 1000) / 1000))
    }
    const segmentFrames = Math.round((this.#o.segmentSeconds * this.#rate.num) / this.#rate.den)
    this.#segmenter = new Segmenter({ codec: this.#codec ?? 'h264', rate: this.#rate, segmentFrames: Math.max(1, segmentFrames), resumeAfter: this.#o.resumeAfter })
    return true
  }

  #video(ev: TsEvent, out: PublishedSegment[]): void {
    if (ev.kind !== 'pes' || ev.ptsTicks === undefined) return
    for (const s of this.#segmenter!.pushVideo({ ptsTicks: ev.ptsTicks, dtsTicks: ev.dtsTicks ?? ev.ptsTicks, data: ev.data, damaged: ev.damaged, tsOffset: ev.offset })) {
      out.push(this.#publish(s))
    }
    // Bytes before this access unit's first packet surely belong to the open segment; bytes after
    // it may already be the next segment's IDR, still being assembled.
    this.#safeEnd = ev.offset
  }

  #audio(ev: TsEvent): void {
    if (ev.kind !== 'pes' || ev.codec !== 'aac' || ev.ptsTicks === undefined || !this.#segmenter) return
    // Frame k of a PES starts k·1024 samples after its PTS: computed from k, so rounding to
    // 90 kHz never accumulates.
    splitAdts(ev.data).forEach((frame, k) => {
      this.#audioConfig ??= { sampleRate: frame.sampleRate, channels: frame.channels, audioObjectType: frame.audioObjectType }
      const at = (n: number) => Math.round((n * 1024 * 90000) / frame.sampleRate)
      this.#segmenter!.pushAudio({ ptsTicks: ev.ptsTicks! + at(k), durationTicks: at(k + 1) - at(k), data: frame.payload })
    })
  }

  #publish(s: ClosedSegment): PublishedSegment {
    const rate = this.#rate!
    const now = this.#o.now?.() ?? Date.now()
    const ts = this.#slice(s.tsStart, s.tsEnd)
    const psiBytes = ts.length - Math.max(0, s.tsEnd - Math.max(s.tsStart, this.#rawStart))
    this.#lastCloseEnd = s.tsEnd
    let cmaf: Uint8Array | undefined
    if (this.#o.cmaf && this.#codec) {
      try {
        this.#init ??= this.#o.cmaf.init(s, this.#codec, rate, this.#audioConfig)
        cmaf = this.#o.cmaf.segment(s, ++this.#cmafSequence)
      } catch (err) {
        this.ingest.errors.ERR_CMAF = (this.ingest.errors.ERR_CMAF ?? 0) + 1
        void err
      }
    }
    return {
      number: s.number,
      firstFrameIndex: s.firstFrameIndex,
      frames: s.frames.length,
      durationMs: durationMsOf(s.frames.length, rate),
      discontinuity: s.discontinuity,
      availableAtMs: now,
      startPtsTicks: s.startPtsTicks,
      quality: segmentQualityOf(s.number, s.aggregate),
      hasAudio: s.audio.length > 0,
      ts,
      psiBytes,
      tsStart: s.tsStart,
      cmaf,
    }
  }

  /** PAT/PMT packets as they pass, kept to start every TS segment with them (chunks may split packets). */
  #capturePsi(chunk: Uint8Array): void {
    let buf = chunk
    if (this.#psiCarry.length) {
      buf = new Uint8Array(this.#psiCarry.length + chunk.length)
      buf.set(this.#psiCarry, 0)
      buf.set(chunk, this.#psiCarry.length)
    }
    let i = 0
    while (i + 188 <= buf.length) {
      if (buf[i] !== 0x47 || (i + 188 < buf.length && buf[i + 188] !== 0x47)) {
        i++ // out of step: find the next sync byte (the demuxer counts the loss)
        continue
      }
      const pid = ((buf[i + 1]! & 0x1f) << 8) | buf[i + 2]!
      if (pid === 0) this.#pat = buf.slice(i, i + 188)
      else if (pid === this.#demuxer.pmtPid) this.#pmt = buf.slice(i, i + 188)
      i += 188
    }
    this.#psiCarry = buf.slice(i)
  }

  #psiCarry: Uint8Array = new Uint8Array(0)

  /**
   * The stream's bytes [start, end), PAT and PMT first when `withPsi`. Their continuity counters
   * are set one below those of the segment's own first PAT and PMT, so that each PID counts on
   * without a jump (the copies kept are the latest, which can be later than the segment's).
   */
  #slice(start: number, end: number, withPsi = true): Uint8Array {
    const psi = withPsi ? [this.#pat, this.#pmt].filter((p): p is Uint8Array => p !== undefined) : []
    const from = Math.max(start, this.#rawStart)
    const size = Math.max(0, end - from)
    const out = new Uint8Array(psi.length * 188 + size)
    let o = 0
    for (const p of psi) {
      out.set(p, o)
      o += 188
    }
    let pos = this.#rawStart
    for (const c of this.#raw) {
      const cEnd = pos + c.length
      if (cEnd > from && pos < end) {
        const a = Math.max(from, pos) - pos
        const b = Math.min(end, cEnd) - pos
        out.set(c.subarray(a, b), o)
        o += b - a
      }
      pos = cEnd
    }
    if (psi.length) alignPsiContinuity(out, psi.length)
    return out
  }

  /** Keep raw bytes only from the open segment's start (bounded: 256 MB at most). */
  #trimRaw(): void {
    // Before a segment opens (the first IDR, or the frame rate still being learnt), keep enough
    // for its first access unit whatever its size: its PES is only emitted once the next starts.
    const keepFrom = this.#segmenter?.open ? this.#openStart() : this.#rawEnd - 32 * 1024 * 1024
    let pos = this.#rawStart
    while (this.#raw.length > 1 && pos + this.#raw[0]!.length <= keepFrom) {
      pos += this.#raw.shift()!.length
    }
    while (this.#rawEnd - pos > 256 * 1024 * 1024 && this.#raw.length > 1) pos += this.#raw.shift()!.length
    this.#rawStart = pos
  }

  /**
   * The segment being built, for low-latency serving: its number and its TS bytes from `from`
   * (a stream offset; undefined = from its start, PAT/PMT first) to what has arrived so far.
   */
  openSegmentBytes(from?: number): { number: number; bytes: Uint8Array; next: number } | undefined {
    const open = this.#segmenter?.open
    if (!open) return undefined
    const start = open.tsStart
    const end = Math.max(start, this.#safeEnd)
    if (from === undefined) return { number: open.number, bytes: this.#slice(start, end), next: end }
    return { number: open.number, bytes: this.#slice(Math.max(from, start), end, false), next: Math.max(from, end) }
  }

  /** Stream offset where the segment published last ended (the open one's start). */
  get lastCloseEnd(): number {
    return this.#lastCloseEnd
  }

  #openStart(): number {
    return Math.min(this.#segmenter?.open?.tsStart ?? this.#lastCloseEnd, this.#lastCloseEnd || Infinity)
  }

  #lastCloseEnd = 0
  #safeEnd = 0
}

/**
 * `ts` starts with `count` PSI packets (PAT, PMT) put in front of a run of the stream's packets:
 * give each the continuity counter one below that of the first packet of its PID in the run (a
 * packet of the same PID with a payload), if there is one. Stops at the first packet whose sync
 * byte is missing: past it packet boundaries are not known.
 */
function alignPsiContinuity(ts: Uint8Array, count: number): void {
  const pending = new Map<number, number>() // PID → offset of its copy in front
  for (let k = 0; k < count; k++) pending.set(((ts[k * 188 + 1]! & 0x1f) << 8) | ts[k * 188 + 2]!, k * 188)
  for (let i = count * 188; pending.size && i + 188 <= ts.length && ts[i] === 0x47; i += 188) {
    const pid = ((ts[i + 1]! & 0x1f) << 8) | ts[i + 2]!
    const at = pending.get(pid)
    if (at === undefined || !(ts[i + 3]! & 0x10)) continue
    ts[at + 3] = (ts[at + 3]! & 0xf0) | (((ts[i + 3]! & 0x0f) + 15) & 0x0f)
    pending.delete(pid)
  }
}
