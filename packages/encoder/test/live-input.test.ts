import { execFileSync, spawn } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { recordingLogger, VideoCodec } from '@mqa/common'
import { describe, expect, it } from 'vitest'
import { AudioMode, EncodeErrorCode, encode, startImpair, type ReportFrame } from '../src/index.js'
import { IPV4_VETH, IPV6_VETH, inPrivateNetwork, privateNetworkAvailable } from '../../../scripts/lib/private-network.js'
import { ffmpeg, ffmpegDecodeErrors, ffprobe, fixture, workDir } from './helpers.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
/** What every encode here shares: a small fast H.264 encode, one-second GOPs and segments, timecode from the input. */
const live = { codec: VideoCodec.H264, preset: 'ultrafast', bitrateKbps: 300, gopSeconds: 1, segmentSeconds: 1, timecode: 'input', workers: 1, realtime: false } as const
const report = (file: string) => (JSON.parse(readFileSync(file, 'utf8')) as { frames: ReportFrame[] }).frames
let nextPort = 42_000 + Math.floor(Math.random() * 5000) * 2

/** Video frames ffprobe decodes from a file (a TS lists its streams twice: under the program, then alone). */
const countDecodedFrames = (file: string) => Number(execFileSync(ffprobe, ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file], { encoding: 'utf8' }).trim().split('\n')[0])

/**
 * Resolves once a socket is bound to UDP port `port` (Linux: /proc/net/udp lists it), so no
 * datagram is sent before the encoder listens: a fixed sleep was not enough on a loaded machine.
 * Reading the table, not binding a probe socket, so the check can never take the port itself.
 */
async function untilUdpBound(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!udpBound(port)) {
    if (performance.now() > deadline) throw new Error(`nothing bound udp://127.0.0.1:${port} within ${timeoutMs} ms`)
    await sleep(50)
  }
}

/** Whether a socket is bound to UDP port `port`. A line of /proc/net/udp: `<bucket>: <local addr hex>:<local port hex> <remote> ...` (the bucket's width varies). */
function udpBound(port: number): boolean {
  return readFileSync('/proc/net/udp', 'utf8').split('\n').some((line) => Number.parseInt(/^\s*\d+:\s+[0-9A-F]+:([0-9A-F]{4})\s/.exec(line)?.[1] ?? '', 16) === port)
}

/** Send TS bytes as 7-packet datagrams to 127.0.0.1:port at about `kbps`. */
async function sendTs(bytes: Uint8Array, port: number, kbps: number): Promise<void> {
  const socket = createSocket('udp4')
  const size = 188 * 7
  const perDatagramMs = (size * 8) / kbps
  const started = performance.now()
  for (let off = 0, i = 0; off < bytes.length; off += size, i++) {
    await new Promise<void>((resolve) => socket.send(bytes.subarray(off, off + size), port, '127.0.0.1', () => resolve()))
    const due = started + i * perDatagramMs
    const wait = due - performance.now()
    if (wait > 2) await sleep(wait)
  }
  socket.close()
}

describe('live inputs over UDP on 127.0.0.1', () => {
  it('keeps running when the input goes quiet for seconds, and resumes when it comes back', async () => {
    const dir = workDir('udp-resume')
    const ts = join(dir, 'src.ts')
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25', '-t', '6', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-b:v', '300k', '-f', 'mpegts', ts])
    const bytes = new Uint8Array(readFileSync(ts))
    const half = Math.floor(bytes.length / 2 / 188) * 188
    const port = nextPort++
    const controller = new AbortController()
    const out = join(dir, 'out.ts')
    const rep = join(dir, 'report.json')
    const encoding = encode({ input: `udp://127.0.0.1:${port}`, output: out, ...live, bitrateKbps: 200, report: rep, signal: controller.signal })
    await untilUdpBound(port)
    const kbps = ((bytes.length * 8) / 6000) * 1.5
    await sendTs(bytes.subarray(0, half), port, kbps)
    await sleep(3000) // the input goes quiet
    await sendTs(bytes.subarray(half), port, kbps)
    await sleep(1500)
    controller.abort()
    // The demuxer may be waiting for bytes that never come: a last datagram of padding wakes it.
    await sendTs(new Uint8Array(188 * 7 * 40).fill(0xff), port, 10_000)
    const summary = await encoding
    const frames = report(rep).map((r) => r.frameIndex).sort((a, b) => a - b)
    expect(summary.frames).toBeGreaterThan(120)
    expect(frames.some((f) => f < 50)).toBe(true)
    expect(frames.some((f) => f > 110)).toBe(true)
    expect(ffmpegDecodeErrors(out)).toBe('')
  }, 30_000)

  it('a low-bitrate input is encoded as it arrives, not once the demuxer has a full buffer', async () => {
    // 4 s of 300 kb/s video is about 150 KB, under the 256 KB FFmpeg's reads asked for: beamcoder's
    // stream adaptor used to hold every read until it was full, so this input was not even opened
    // (and at 380 kb/s packets then came in bursts 6 s apart).
    const dir = workDir('udp-low-bitrate')
    const ts = join(dir, 'src.ts')
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-t', '4', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-b:v', '300k', '-maxrate', '300k', '-bufsize', '300k', '-f', 'mpegts', ts])
    const bytes = new Uint8Array(readFileSync(ts))
    expect(bytes.length).toBeLessThan(200_000)
    const port = nextPort++
    const controller = new AbortController()
    let written = 0
    const encoding = encode({ input: `udp://127.0.0.1:${port}`, output: join(dir, 'out.ts'), ...live, bitrateKbps: 200, signal: controller.signal, onProgress: (p) => (written = p.frames) })
    await untilUdpBound(port)
    await sendTs(bytes, port, 2000) // then the input goes quiet, open
    const deadline = performance.now() + 10_000
    while (written < 50 && performance.now() < deadline) await sleep(100)
    const seen = written
    controller.abort()
    await encoding
    expect(seen).toBeGreaterThanOrEqual(50) // of 100 sent; the rest wait in the encoder's lookahead for more input
  }, 30_000)

  // The system's default receive buffer (Linux: 208 KB) lost the burst of each I-frame at
  // contribution rates: 31 TS packets in 20 s of an 8 Mb/s 720p feed from `ffmpeg -re`.
  const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'))
  it.skipIf(rmemMax < 4 << 20)('a 1.5 MB burst is not lost: the socket asks for a 4 MiB receive buffer (needs net.core.rmem_max ≥ 4 MiB)', async () => {
    const dir = workDir('udp-burst')
    const ts = join(dir, 'src.ts')
    // About 24 Mb/s: lossless H.264 of a noisy picture.
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30,noise=alls=40:allf=t', '-t', '3', '-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-g', '30', '-f', 'mpegts', ts])
    const bytes = new Uint8Array(readFileSync(ts))
    const burst = 188 * 7 * 1140
    const port = nextPort++
    const stop = new AbortController()
    const encoding = encode({ input: `udp://127.0.0.1:${port}`, output: join(dir, 'out.ts'), ...live, signal: stop.signal })
    await untilUdpBound(port)
    const socket = createSocket('udp4')
    const sends: Promise<void>[] = []
    for (let off = 0; off < burst; off += 188 * 7) sends.push(new Promise((resolve) => socket.send(bytes.subarray(off, off + 188 * 7), port, '127.0.0.1', () => resolve())))
    await Promise.all(sends)
    socket.close()
    await sendTs(bytes.subarray(burst), port, 30_000)
    await sleep(1000)
    stop.abort()
    const summary = await encoding
    expect(summary.transport).toMatchObject({ bytes: bytes.length, lostPackets: 0, continuityErrors: 0 }) // without: 1.4 of 9.2 MB lost
    expect(summary.frames).toBeGreaterThan(30)
  }, 30_000)

  it('a receive buffer the system will not give is one warning naming the input and the limit to raise', async () => {
    const port = nextPort++
    const asked = Math.min(0x7fffffff, rmemMax * 4)
    const logger = recordingLogger()
    const stop = new AbortController()
    const input = `udp://127.0.0.1:${port}?buffer_size=${asked}`
    const encoding = encode({ input, output: join(workDir('udp-buffer'), 'never.ts'), ...live, logger, signal: stop.signal })
    await untilUdpBound(port)
    await sleep(200)
    stop.abort()
    await encoding
    expect(logger.lines.filter((l) => l.level === 'warn').map(({ msg, fields }) => ({ msg, fields }))).toEqual([{ msg: expect.stringContaining(`the receive buffer of input ${JSON.stringify(input)} is ${2 * rmemMax} bytes, not the ${asked} asked`), fields: { code: 'ERR_UDP_BUFFER' } }])
  }, 30_000)

  it('a stop writes what was already received: decoder and encoder drained, a clean tail', async () => {
    const dir = workDir('udp-stop')
    const ts = join(dir, 'src.ts')
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25', '-frames:v', '75', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-bf', '2', '-b:v', '300k', '-f', 'mpegts', ts])
    const bytes = new Uint8Array(readFileSync(ts))
    const port = nextPort++
    const controller = new AbortController()
    const out = join(dir, 'out.ts')
    const rep = join(dir, 'report.json')
    const encoding = encode({ input: `udp://127.0.0.1:${port}`, output: out, ...live, bitrateKbps: 200, timecode: 'pts', bframes: 2, report: rep, signal: controller.signal })
    await untilUdpBound(port)
    await sendTs(bytes, port, 4000) // 3 s of video in about 0.3 s
    controller.abort() // at once: the last frames are still in the demuxer (its last PES ends only at end of input), decoder and encoder
    const started = performance.now()
    const summary = await encoding
    const frameIndices = report(rep).map((f) => f.frameIndex).sort((a, b) => a - b)
    expect({ frames: summary.frames, first: frameIndices[0], last: frameIndices.at(-1), inputErrors: summary.inputErrors }).toEqual({ frames: 75, first: frameIndices[0], last: frameIndices[0]! + 74, inputErrors: 0 })
    expect(performance.now() - started).toBeLessThan(4000) // bounded: 2 s of drain, then the pool's last second
    expect(summary.frames).toBe(75) // every frame received, none lost in flight
    expect(report(rep)).toHaveLength(75)
    expect(ffmpegDecodeErrors(out)).toBe('')
    const decodedFrames = countDecodedFrames(out)
    expect(decodedFrames).toBe(summary.frames)
  }, 30_000)

  it('a stop of a paced file encode mid-way closes the output cleanly', async () => {
    const dir = workDir('file-stop')
    const controller = new AbortController()
    const out = join(dir, 'out.ts')
    const encoding = encode({ input: fixture('h264-bframes-320x180.ts'), output: out, ...live, bitrateKbps: 200, realtime: true, bframes: 3, signal: controller.signal })
    await sleep(1200)
    controller.abort()
    const summary = await encoding
    expect(summary.frames).toBeGreaterThan(10)
    expect(summary.frames).toBeLessThan(75) // stopped mid-way (3 s at 25 fps, paced)
    expect(ffmpegDecodeErrors(out)).toBe('')
    const decodedFrames = countDecodedFrames(out)
    expect(decodedFrames).toBe(summary.frames)
  }, 30_000)

  it('source → impair (2% loss) → encode: frames carry the source timecode, losses count as errors', async () => {
    const dir = workDir('chain')
    const p1 = nextPort++
    const p2 = nextPort++
    const controller = new AbortController()
    const relay = await startImpair({ from: `udp://127.0.0.1:${p1}`, to: `udp://127.0.0.1:${p2}`, loss: 0.02, afterMs: 1500, seed: 7, signal: controller.signal })
    const rep = join(dir, 'report.json')
    const out = join(dir, 'out.ts')
    const encoding = encode({ input: `udp://127.0.0.1:${p2}`, output: out, ...live, segmentSeconds: 2, workers: 2, report: rep, signal: controller.signal })
    await sleep(200)
    const source = await encode({
      input: 'lavfi:testsrc2=size=320x180:rate=25',
      output: `udp://127.0.0.1:${p1}`,
      measure: false,
      codec: VideoCodec.H264,
      preset: 'ultrafast',
      bitrateKbps: 2000,
      gopSeconds: 1,
      segmentSeconds: 1,
      timecode: 'wallclock',
      workers: 1,
      realtime: true,
      bframes: 0,
      maxFrames: 100,
    })
    expect(source.frames).toBe(100)
    await sleep(1500)
    controller.abort()
    await sendTs(new Uint8Array(188 * 7 * 40).fill(0xff), p2, 10_000)
    const summary = await encoding
    const stats = relay.stats()
    expect(stats.dropped).toBeGreaterThan(0)
    const frames = report(rep)
    expect(frames.length).toBeGreaterThan(60)
    // Frame indices come from the source's tc SEI: the time of day, not the input PTS.
    const nowIndex = ((Date.now() % 86_400_000) / 1000) * 25
    expect(Math.abs(frames[0]!.frameIndex - nowIndex)).toBeLessThan(25 * 60)
    expect(summary.inputErrors).toBeGreaterThan(0)
    expect(frames.some((f) => (f.errors ?? 0) > 0)).toBe(true)
  }, 30_000)
})

describe('SRT input', () => {
  it('encodes a stream an SRT caller sends to our listener (FFmpeg libsrt)', async () => {
    const dir = workDir('srt')
    const port = nextPort++
    const out = join(dir, 'out.ts')
    const encoding = encode({ input: `srt://127.0.0.1:${port}?mode=listener`, output: out, ...live, maxFrames: 50 })
    await untilUdpBound(port)
    // A live feed goes on: the clip three times over (the demuxer's byte stream hands on whole reads, so a feed that stopped after 2 s would hold its last frames back).
    const sender = spawn(ffmpeg, ['-v', 'error', '-re', '-stream_loop', '2', '-i', fixture('h264-320x180.ts'), '-c', 'copy', '-f', 'mpegts', `srt://127.0.0.1:${port}?mode=caller`])
    const summary = await encoding
    sender.kill()
    // A live input does not wait for the pool: a frame that finds it full, or whose scores do not
    // come in time, leaves unmeasured and is counted (never a made-up score). SRT delivers in bursts.
    expect(summary.frames).toBeGreaterThanOrEqual(45)
    expect(summary.measured).toBeGreaterThanOrEqual(summary.frames - 5)
    expect(summary.unmeasured).toBe(summary.overload + summary.late)
    expect(ffmpegDecodeErrors(out)).toBe('')
  }, 30_000)
})

/**
 * Send bytes over SRT exactly as given (ffmpeg's `data` demuxer and muxer copy them: no remux, so
 * a gap in them stays a continuity error), at about `kbps`, then hold the connection 1.5 s so SRT
 * delivers the tail before the caller closes.
 */
async function sendSrt(bytes: Uint8Array, port: number, kbps: number): Promise<void> {
  const sender = spawn(ffmpeg, ['-v', 'error', '-f', 'data', '-i', 'pipe:0', '-map', '0', '-c', 'copy', '-f', 'data', `srt://127.0.0.1:${port}?mode=caller`], { stdio: ['pipe', 'ignore', 'inherit'] })
  const exited = new Promise<number | null>((resolve) => sender.on('close', (code) => resolve(code)))
  const size = 188 * 7
  const started = performance.now()
  for (let off = 0, i = 0; off < bytes.length; off += size, i++) {
    sender.stdin.write(bytes.subarray(off, off + size))
    const due = started + (i * size * 8) / kbps
    if (due > performance.now()) await sleep(due - performance.now())
  }
  await sleep(1500)
  sender.stdin.end()
  expect(await exited).toBe(0)
}

describe('a live input without a port to listen on', () => {
  // Without a port the socket took one the system picked, which no sender knew: the encode waited
  // for ever, with no error. Now it is refused before anything opens.
  it.each([
    ['udp://127.0.0.1', 'input "udp://127.0.0.1" has no port'],
    ['udp://127.0.0.1:0', 'input "udp://127.0.0.1:0": port 0 is not a port to receive on (1-65535)'],
    ['udp://127.0.0.1:70000', 'input "udp://127.0.0.1:70000" is not udp://host:port'],
    ['srt://127.0.0.1?mode=listener', 'input "srt://127.0.0.1?mode=listener" has no port'],
  ])('%s is refused at once, naming it', async (input, message) => {
    await expect(encode({ input, output: join(workDir('no-port'), 'out.ts'), ...live })).rejects.toMatchObject({ code: 'ERR_INPUT', message })
  })
})

const cli = new URL('../../cli/dist/main.js', import.meta.url).pathname

/** A shell test that waits until UDP sockets are bound to all `ports` (this namespace's /proc/net/udp or udp6). */
const untilBoundInShell = (file: 'udp' | 'udp6', ...ports: number[]) =>
  `until ${ports.map((p) => `grep -qi ':${p.toString(16).padStart(4, '0')} ' /proc/net/${file}`).join(' && ')}; do sleep 0.05; done`

/** ffmpeg sending the 320x180 fixture to `url` in real time, looped, in 1316-byte datagrams. */
const loopFixtureTo = (url: string) => `${ffmpeg} -hide_banner -loglevel error -re -stream_loop -1 -i ${fixture('h264-320x180.ts')} -c copy -f mpegts '${url}${url.includes('?') ? '&' : '?'}pkt_size=1316'`

/**
 * The script of a receive test in a private network: after `setup`, `mqa encode -i input` writes
 * `frames` frames to `out` (ended by `timeout 20` if nothing comes), with a relay started beside it;
 * once UDP sockets are bound to all `ports`, `sender` starts. Its status is the encoder's, and the
 * sender and relay are stopped with it.
 */
function encodeWhileSending(o: { setup?: string; input: string; out: string; frames: number; timecodePts?: boolean; relay?: string; file: 'udp' | 'udp6'; ports: number[]; sender: string }): string {
  return [
    ...(o.setup ? [o.setup] : []),
    `timeout 20 node ${cli} encode -i '${o.input}' -o ${o.out} --frames ${o.frames} --preset ultrafast --bitrate 300k --workers 1${o.timecodePts ? ' --timecode pts' : ''} & enc=$!`,
    ...(o.relay ? [`${o.relay} & relay=$!`] : []),
    untilBoundInShell(o.file, ...o.ports),
    `${o.sender} & snd=$!`,
    `wait $enc; status=$?; kill $snd${o.relay ? ' $relay' : ''}; exit $status`,
  ].join('\n')
}

describe('multicast UDP input (in a private network namespace)', () => {
  // Bound to the group's address without joining it, the socket got nothing: the encoder waited
  // for ever (this test timed out).
  it.skipIf(!privateNetworkAvailable)('joins the group on the localaddr interface and encodes what is sent to it', () => {
    const out = join(workDir('multicast'), 'out.ts')
    // `timeout`: an encoder that never gets a datagram ends, and the sender is stopped with it. The
    // encoder's socket is bound (this namespace's /proc/net/udp) before a datagram is sent.
    const r = inPrivateNetwork(
      encodeWhileSending({ input: 'udp://239.255.0.1:5004?localaddr=127.0.0.1', out, frames: 40, timecodePts: true, file: 'udp', ports: [5004], sender: loopFixtureTo('udp://239.255.0.1:5004?localaddr=127.0.0.1') }),
      40_000,
    )
    expect(r.status, r.stderr).toBe(0)
    expect(countDecodedFrames(out)).toBe(40)
  })

  // The output side is FFmpeg's udp protocol, given the output's query (ttl, localaddr) as it is.
  // A veth pair takes the route to multicast: had localaddr been dropped from the query (as it
  // was), the source would send out of it, and the encoder, joined on the loopback, get nothing.
  it.skipIf(!privateNetworkAvailable)('mqa source sends to a multicast group (ttl, localaddr), mqa encode takes it from there', () => {
    const out = join(workDir('multicast'), 'from-source.ts')
    const group = 'udp://239.255.0.2:5030'
    const r = inPrivateNetwork(
      encodeWhileSending({
        setup: IPV4_VETH,
        input: `${group}?localaddr=127.0.0.1`,
        out,
        frames: 30,
        file: 'udp',
        ports: [5030],
        sender: `node ${cli} source -o '${group}?localaddr=127.0.0.1&ttl=1' --size 320x180 --bitrate 500k --duration 20`,
      }),
      40_000,
    )
    expect(r.status, r.stderr).toBe(0)
    expect(countDecodedFrames(out)).toBe(30)
  })

  it.skipIf(!privateNetworkAvailable)('a group it cannot join on the given interface is one clear error', () => {
    const r = inPrivateNetwork(`timeout 20 node ${cli} encode -i 'udp://239.255.0.1:5006?localaddr=192.0.2.1' -o ${join(workDir('multicast'), 'never.ts')}`, 40_000)
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/mqa encode: cannot join multicast group 239\.255\.0\.1 on 192\.0\.2\.1 for input "udp:\/\/239\.255\.0\.1:5006\?localaddr=192\.0\.2\.1": addMembership E[A-Z]+$/m)
  })
})

describe('mqa impair between multicast groups (in a private network namespace)', () => {
  // --from listens as a UDP input does: the group is joined, so the relay gets what is sent to it.
  // --to sends from localaddr's interface with its ttl, as a multicast sender must. A second
  // interface (a veth pair) takes the route to multicast, so a relay that ignored localaddr would
  // send there, and the encoder, which joined on the loopback, would get nothing.
  it.skipIf(!privateNetworkAvailable)('joins the group it relays from, and sends to another from the interface asked for', () => {
    const out = join(workDir('multicast'), 'via-impair.ts')
    // Both sockets (the encoder's and the relay's) are bound before a datagram is sent.
    const r = inPrivateNetwork(
      encodeWhileSending({
        setup: IPV4_VETH,
        input: 'udp://239.255.0.4:5041?localaddr=127.0.0.1',
        out,
        frames: 30,
        timecodePts: true,
        relay: `node ${cli} impair --from 'udp://239.255.0.3:5040?localaddr=127.0.0.1' --to 'udp://239.255.0.4:5041?localaddr=127.0.0.1&ttl=1' --loss 0`,
        file: 'udp',
        ports: [5041, 5040],
        sender: loopFixtureTo('udp://239.255.0.3:5040?localaddr=127.0.0.1'),
      }),
      40_000,
    )
    expect(r.status, r.stderr).toBe(0)
    expect(countDecodedFrames(out)).toBe(30)
  })
})

describe('IPv6 UDP (in a private network namespace)', () => {
  // udp://[v6]:port was looked up as a host name ("getaddrinfo ENOTFOUND [ff15::5]"): every socket was udp4.
  it.skipIf(!privateNetworkAvailable)('impair joins an IPv6 group and relays to [::1], where the encoder takes that sender only (sources=)', () => {
    const out = join(workDir('ipv6'), 'via-impair.ts')
    const r = inPrivateNetwork(
      encodeWhileSending({
        setup: IPV6_VETH,
        input: 'udp://[::1]:5051?sources=0:0:0:0:0:0:0:1',
        out,
        frames: 30,
        timecodePts: true,
        relay: `node ${cli} impair --from 'udp://[ff15::5]:5050?localaddr=v0' --to 'udp://[::1]:5051' --loss 0`,
        file: 'udp6',
        ports: [5050, 5051],
        sender: loopFixtureTo('udp://[ff15::5]:5050'),
      }),
      40_000,
    )
    expect(r.status, r.stderr).toBe(0)
    expect(countDecodedFrames(out)).toBe(30)
  })

  it.skipIf(!privateNetworkAvailable)('mqa source sends to an IPv6 group (FFmpeg’s output, hop limit 1), mqa encode joins it on the interface named', () => {
    const out = join(workDir('ipv6'), 'from-source.ts')
    const r = inPrivateNetwork(
      encodeWhileSending({ setup: IPV6_VETH, input: 'udp://[ff15::6]:5052?localaddr=v0', out, frames: 30, file: 'udp6', ports: [5052], sender: `node ${cli} source -o 'udp://[ff15::6]:5052?ttl=1' --size 320x180 --bitrate 500k --duration 20` }),
      40_000,
    )
    expect(r.status, r.stderr).toBe(0)
    expect(countDecodedFrames(out)).toBe(30)
  })

  it.skipIf(!privateNetworkAvailable)('an IPv6 group it cannot join on the interface named is one clear error', () => {
    const r = inPrivateNetwork(`timeout 20 node ${cli} encode -i 'udp://[ff15::7]:5053?localaddr=nosuch0' -o ${join(workDir('ipv6'), 'never.ts')}`, 40_000)
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/mqa encode: cannot join multicast group ff15::7 on ::%nosuch0 for input "udp:\/\/\[ff15::7\]:5053\?localaddr=nosuch0": addMembership E[A-Z]+$/m)
  })
})

describe('sources= on a UDP input', () => {
  it('takes datagrams from the listed senders only: a stream from another one is not encoded', async () => {
    const port = nextPort++
    const stop = new AbortController()
    const encoding = encode({ input: `udp://127.0.0.1:${port}?sources=127.0.0.2`, output: join(workDir('sources'), 'out.ts'), ...live, signal: stop.signal })
    await untilUdpBound(port)
    // Three copies of the clip (340 KB: past the demuxer's probe) from 127.0.0.1, which is not listed.
    const clip = readFileSync(fixture('h264-320x180.ts'))
    await sendTs(Buffer.concat([clip, clip, clip]), port, 8000)
    await sleep(1000)
    stop.abort()
    await expect(encoding).resolves.toMatchObject({ frames: 0 })
  })
})

describe('a stop before a live input sent anything', () => {
  it.each(['udp', 'srt'])('%s: a stop, not an error: an empty summary, the socket and relay gone', async (kind) => {
    const port = nextPort++
    const input = kind === 'udp' ? `udp://127.0.0.1:${port}` : `srt://127.0.0.1:${port}?mode=listener`
    const stop = new AbortController()
    const encoding = encode({ input, output: join(workDir('stop-early'), 'out.ts'), ...live, signal: stop.signal })
    await untilUdpBound(port)
    stop.abort()
    await expect(encoding).resolves.toMatchObject({ frames: 0, measured: 0 })
    // Nothing listens on the port any more (the SRT relay was stopped with it).
    const deadline = performance.now() + 5000
    while (udpBound(port) && performance.now() < deadline) await sleep(50)
    expect(udpBound(port)).toBe(false)
  }, 20_000)
})

describe('a setup error after a live input opened', () => {
  it('udp: audio that cannot be copied is one clear error, and the socket is closed with it', async () => {
    const dir = workDir('udp-setup-error')
    const ts = join(dir, 'opus.ts')
    // H.264 with Opus audio: MPEG-TS carries it, but the encoder copies only AAC, MP2, MP3 and AC-3.
    execFileSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '3', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-c:a', 'libopus', '-b:a', '64k', '-f', 'mpegts', '-y', ts])
    const bytes = readFileSync(ts)
    const port = nextPort++
    const encoding = encode({ input: `udp://127.0.0.1:${port}`, output: join(dir, 'out.ts'), audio: AudioMode.COPY, ...live })
    let settled = false
    const outcome = encoding.then(
      () => { settled = true; return undefined },
      (err: unknown) => { settled = true; return err },
    )
    await untilUdpBound(port)
    // The demuxer decides what the streams are once it has probed enough bytes: send until it has.
    for (let i = 0; i < 5 && !settled; i++) await sendTs(bytes, port, 4000)
    expect(await outcome).toMatchObject({ code: EncodeErrorCode.AUDIO_COPY, message: expect.stringMatching(/^the input audio is opus, which cannot be copied/) })
    expect(udpBound(port)).toBe(false)
  }, 40_000)
})

describe('SRT input, reconnecting', () => {
  it('keeps running when the caller goes away, resumes on the next connection, and counts the packets lost in it as transport errors', async () => {
    const dir = workDir('srt-reconnect')
    const port = nextPort++
    const out = join(dir, 'out.ts')
    const rep = join(dir, 'report.json')
    const clean = new Uint8Array(readFileSync(fixture('h264-320x180.ts')))
    // The second connection carries the same clip with 20 TS packets cut from its middle.
    const cut = new Uint8Array(clean.length - 20 * 188)
    cut.set(clean.subarray(0, 200 * 188))
    cut.set(clean.subarray(220 * 188), 200 * 188)
    const stop = new AbortController()
    const encoding = encode({ input: `srt://127.0.0.1:${port}?mode=listener`, output: out, ...live, report: rep, signal: stop.signal })
    await untilUdpBound(port)
    await sendSrt(clean, port, 1500)
    // The relay for the next caller binds the port again after the first one exits.
    await sleep(1500)
    await untilUdpBound(port)
    await sendSrt(cut, port, 1500)
    await sleep(1500)
    stop.abort()
    const summary = await encoding
    const clipFrames = countDecodedFrames(fixture('h264-320x180.ts'))
    // Both connections' frames (the second starts its PTS again: the count carries on).
    expect(summary.frames).toBeGreaterThan(clipFrames + clipFrames / 2)
    // Every frame has its own index (the report is in decode order: B-frames).
    const indices = report(rep).map((f) => f.frameIndex)
    expect(new Set(indices).size).toBe(indices.length)
    // The cut: lost TS packets, counted by the transport monitor (FFmpeg's own SRT demuxing saw none of them).
    expect(summary.inputErrors).toBeGreaterThan(0)
    expect(ffmpegDecodeErrors(out)).toBe('')
  }, 60_000)
})

describe('scores given up on', () => {
  it('gives back the metrics slab slots of frames whose scores it stopped waiting for', async () => {
    const dir = workDir('given-up')
    // Live (paced), and no wait at all for scores: most packets leave before their recon frame is
    // even decoded, while their source pictures are held in the slab.
    const logger = recordingLogger()
    const summary = await encode({ input: fixture('h264-320x180.ts'), output: join(dir, 'out.ts'), ...live, realtime: true, maxScoreWaitMs: 0, maxFrames: 40, logger })
    const pool = logger.lines.filter((l) => l.level === 'debug' && l.msg.startsWith('metrics pool'))
    expect(summary.frames).toBe(40)
    expect(summary.late).toBeGreaterThan(20)
    expect(summary.unmeasured).toBe(summary.overload + summary.late)
    // A live encode waits for a worker (kernels compiled) before its first frame, then closes.
    expect(pool.map((p) => p.msg)).toEqual(['metrics pool ready', 'metrics pool closing'])
    expect(pool[0]!.fields).toMatchObject({ kernels: 'wasm' })
    expect(pool[1]!.fields).toMatchObject({ slotsHeld: 0, slabSlots: 32 })
  }, 30_000)
})

describe('damaged input', () => {
  it('scores damaged frames lower than clean ones and finishes', async () => {
    const dir = workDir('damaged')
    const clean = new Uint8Array(readFileSync(fixture('h264-320x180.ts')))
    const damaged = clean.slice()
    // Drop 30 TS packets around the middle (moving the rest up) and corrupt bytes in 20 more.
    const packets = damaged.length / 188
    const dropFrom = Math.floor(packets * 0.45)
    const kept = new Uint8Array(damaged.length - 30 * 188)
    kept.set(damaged.subarray(0, dropFrom * 188))
    kept.set(damaged.subarray((dropFrom + 30) * 188), dropFrom * 188)
    for (let p = Math.floor(packets * 0.7); p < Math.floor(packets * 0.7) + 20; p++) {
      for (let i = 20; i < 188; i += 7) kept[p * 188 + i] = (kept[p * 188 + i]! * 31 + 17) & 0xff
    }
    const input = join(dir, 'damaged.ts')
    writeFileSync(input, kept)
    const run = async (file: string, name: string) => {
      const rep = join(dir, `${name}.json`)
      // The metrics pool's last word: every source picture it held was measured or given back.
      const logger = recordingLogger()
      const summary = await encode({ input: file, output: join(dir, `${name}-out.ts`), ...live, workers: 2, report: rep, logger })
      const closing = logger.lines.filter((l) => l.msg === 'metrics pool closing').map((l) => l.fields)
      expect(closing).toHaveLength(1)
      expect(closing[0]).toMatchObject({ slotsHeld: 0 })
      expect(closing[0]!.slabSlots).toBeLessThanOrEqual(48)
      return { summary, frames: new Map(report(rep).map((f) => [f.frameIndex, f])) }
    }
    const bad = await run(input, 'damaged')
    const good = await run(fixture('h264-320x180.ts'), 'clean')
    expect(bad.summary.frames).toBeGreaterThan(50)
    expect(bad.summary.inputErrors).toBeGreaterThan(0)
    expect(bad.summary.transport?.continuityErrors).toBeGreaterThan(0)
    expect(good.summary.inputErrors).toBe(0)
    // The same frames, clean and damaged: fidelity alone may even rise on a damaged frame (the
    // encoder faithfully codes the concealed picture); the composite must not.
    const hit = [...bad.frames.values()].filter((f) => (f.errors ?? 0) > 0 && good.frames.has(f.frameIndex))
    expect(hit.length).toBeGreaterThan(3)
    for (const f of hit) expect(f.mqa!, `frame ${f.frameIndex}`).toBeLessThan(good.frames.get(f.frameIndex)!.mqa!)
    const untouched = [...bad.frames.values()].filter((f) => (f.errors ?? 0) === 0)
    expect(untouched.length).toBeGreaterThan(10)
  }, 30_000)
})
