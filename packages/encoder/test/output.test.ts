import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Outputs, ioUrl, outputFormat } from '../src/io/output.js'
import { workDir } from './helpers.js'

/** The PID of every PES start in an MPEG-TS file, in file order (PAT and PMT left out). */
function pesStarts(file: string): number[] {
  const ts = readFileSync(file)
  const pids: number[] = []
  for (let i = 0; i + 188 <= ts.length; i += 188) {
    const pid = ((ts[i + 1]! & 0x1f) << 8) | ts[i + 2]!
    if ((ts[i + 1]! & 0x40) !== 0 && pid >= 0x100 && pid < 0x1000) pids.push(pid)
  }
  return pids
}

describe('Outputs', () => {
  // FFmpeg's interleaving queue holds a packet past its JavaScript object's life and frees it on a
  // worker thread, where beamcoder deletes a JavaScript reference: a segfault a minute or two into
  // an encode with audio (docs/encoder.md, "Memory over hours"). The muxer must write each packet
  // as it is given, which shows in the file: interleaving would put the two audio packets (DTS 1000
  // and 2000) between the video ones (0 and 3000), here they follow the video as written.
  it('writes packets in the order given, not through FFmpeg’s interleaving queue', async () => {
    const file = join(workDir('output'), 'order.ts')
    const out = new Outputs([file])
    const video = out.addStream({ name: 'h264', codecpar: { codec_type: 'video', name: 'h264', width: 64, height: 64, format: 'yuv420p' } })
    const audio = out.addStream({ name: 'mp2', codecpar: { codec_type: 'audio', name: 'mp2', sample_rate: 48000, channels: 2, channel_layout: 'stereo', format: 's16' } })
    await out.open()
    const aud = new Uint8Array([0, 0, 0, 1, 9, 0xf0]) // an H.264 access unit delimiter: enough for the muxer
    // Audio packets over the muxer's PES payload size, so each starts a PES of its own at once.
    const pcm = new Uint8Array(4000)
    for (const dts of [0, 3000, 6000]) await out.write({ data: aud, size: aud.length, pts: dts, dts, duration: 3000, stream_index: video, flags: { KEY: true } })
    for (const dts of [1000, 2000]) await out.write({ data: pcm, size: pcm.length, pts: dts, dts, duration: 1000, stream_index: audio, flags: { KEY: true } })
    await out.close()
    expect(pesStarts(file)).toEqual([0x100, 0x100, 0x100, 0x101, 0x101])
  })
})

describe('ioUrl: the URL FFmpeg opens for an output', () => {
  it('sends 7-packet datagrams on UDP unless the output names its own pkt_size', () => {
    expect(ioUrl('udp://127.0.0.1:5000')).toBe('udp://127.0.0.1:5000?pkt_size=1316')
    expect(ioUrl('udp://127.0.0.1:5000?pkt_size=188')).toBe('udp://127.0.0.1:5000?pkt_size=188')
  })

  it("passes the other options of FFmpeg's udp protocol on as given (multicast TTL, interface, connect)", () => {
    expect(ioUrl('udp://239.1.2.3:5000?ttl=4&localaddr=127.0.0.1&connect=1')).toBe('udp://239.1.2.3:5000?ttl=4&localaddr=127.0.0.1&connect=1&pkt_size=1316')
  })

  it('refuses a UDP output without a port, with port 0 or a port out of range, naming it', () => {
    expect(() => ioUrl('udp://127.0.0.1')).toThrow('output "udp://127.0.0.1" has no port')
    expect(() => ioUrl('udp://127.0.0.1:0')).toThrow('output "udp://127.0.0.1:0": port 0 is not a destination (1-65535)')
    expect(() => ioUrl('udp://127.0.0.1:70000')).toThrow('output "udp://127.0.0.1:70000" is not udp://host:port')
  })

  it('writes stdout as pipe:1 and a file by its name', () => {
    expect(ioUrl('-')).toBe('pipe:1')
    expect(ioUrl('out/a.ts')).toBe('out/a.ts')
    expect(outputFormat('udp://127.0.0.1:5000?ttl=4')).toBe('mpegts')
  })
})
