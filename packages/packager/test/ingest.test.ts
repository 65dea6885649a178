import { createSocket } from 'node:dgram'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { IPV6_VETH, inPrivateNetwork, privateNetworkAvailable } from '../../../scripts/lib/private-network.js'
import { openIngest } from '../src/io/ingest.js'

const ingestModule = new URL('../dist/io/ingest.js', import.meta.url).href

/** Where the child sends: IPv4 from the loopback, IPv6 from the veth pair's v0 (IPV6_VETH). */
const SEND = {
  v4: { family: 'udp4', from: '127.0.0.1', iface: '127.0.0.1', group: '239.255.0.1', setup: '' },
  v6: { family: 'udp6', from: 'fd99::1', iface: '::%v0', group: 'ff15::10', setup: `${IPV6_VETH} && ` },
} as const

/**
 * A child in a private network namespace (multicast cannot leave it) that opens the packager's UDP
 * ingest on `input`, sends 20 datagrams of 7 TS packets to the group (239.255.0.1:5010, or
 * [ff15::10]:5010) from `send.from`, and prints what the ingest yielded in `waitMs` (or once it had
 * all 20), or the error it threw.
 */
function multicastChild(input: string, waitMs = 5000, send: (typeof SEND)[keyof typeof SEND] = SEND.v4) {
  const code = `
    import { createSocket } from 'node:dgram'
    const { openIngest } = await import(${JSON.stringify(ingestModule)})
    const ingest = openIngest(process.argv[1])
    const tx = createSocket('${send.family}')
    await new Promise((r) => tx.bind(0, '${send.from}', r))
    tx.setMulticastInterface('${send.iface}')
    let bytes = 0
    let sender
    const timer = setTimeout(() => { console.log(JSON.stringify({ bytes })); process.exit(0) }, ${waitMs})
    try {
      const it = ingest.chunks()[Symbol.asyncIterator]()
      const first = it.next()
      // The ingest binds and joins before its first chunk; send once that has had time to happen.
      sender = setTimeout(() => { for (let i = 0; i < 20; i++) tx.send(Buffer.alloc(1316, 0x47), 5010, '${send.group}') }, 200)
      for (let r = await first; !r.done; r = await it.next()) {
        bytes += r.value.length
        if (bytes >= 20 * 1316) break
      }
      console.log(JSON.stringify({ bytes }))
    } catch (err) {
      console.log(JSON.stringify({ error: err.message, code: err.code }))
    }
    clearTimeout(timer)
    clearTimeout(sender)
    await ingest.close()
    tx.close()
  `
  const r = inPrivateNetwork(`${send.setup}node --input-type=module -e ${shellQuote(code)} ${shellQuote(input)}`, 20_000)
  expect(r.status, r.stderr).toBe(0)
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { bytes?: number; error?: string; code?: string }
}

const shellQuote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`

describe('UDP ingest', () => {
  it('refuses an input without a port or with port 0 at once, naming it (it listened on a port no sender knew)', () => {
    expect(() => openIngest('udp://127.0.0.1')).toThrow(expect.objectContaining({ code: 'ERR_INGEST', message: 'input "udp://127.0.0.1" has no port' }))
    expect(() => openIngest('udp://127.0.0.1:0')).toThrow(expect.objectContaining({ code: 'ERR_INGEST', message: 'input "udp://127.0.0.1:0": port 0 is not a port to receive on (1-65535)' }))
  })

  // Bound to the group's address without joining it, the socket got nothing.
  it.skipIf(!privateNetworkAvailable)('joins a multicast group on the localaddr interface and yields what is sent to it', () => {
    expect(multicastChild('udp://239.255.0.1:5010?localaddr=127.0.0.1')).toEqual({ bytes: 20 * 1316 })
  })

  // Source-specific multicast: the kernel takes the group's datagrams from the listed senders only.
  it.skipIf(!privateNetworkAvailable)('joins a group source by source (sources=): datagrams from a listed sender come in, others do not', () => {
    expect(multicastChild('udp://239.255.0.1:5010?localaddr=127.0.0.1&sources=127.0.0.1')).toEqual({ bytes: 20 * 1316 })
    expect(multicastChild('udp://239.255.0.1:5010?localaddr=127.0.0.1&sources=127.0.0.2', 1000)).toEqual({ bytes: 0 })
  })

  it('asks for the receive buffer of buffer_size (4 MiB unless given); one the system will not give is a warning naming the limit', async () => {
    const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'))
    const probe = createSocket('udp4')
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r))
    const port = probe.address().port
    await new Promise<void>((r) => probe.close(r))
    const asked = Math.min(0x7fffffff, rmemMax * 4)
    const warnings: string[] = []
    const spec = `udp://127.0.0.1:${port}?buffer_size=${asked}`
    const ingest = openIngest(spec, { onBufferNotice: (n) => void warnings.push(`${n.level}: ${n.message}`) })
    void ingest.chunks()[Symbol.asyncIterator]().next() // binds
    await new Promise((r) => setTimeout(r, 200))
    await ingest.close()
    expect(warnings).toEqual([expect.stringContaining(`warn: the receive buffer of input ${JSON.stringify(spec)} is ${2 * rmemMax} bytes, not the ${asked} asked`)])
    expect(() => openIngest(`udp://127.0.0.1:${port}?buffer_size=lots`)).toThrow(expect.objectContaining({ code: 'ERR_INGEST', message: expect.stringContaining('buffer_size must be a number of bytes') }))
  })

  it('on unicast, sources= takes datagrams from the listed senders only', async () => {
    const probe = createSocket('udp4')
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r))
    const port = probe.address().port
    await new Promise<void>((r) => probe.close(r))
    const ingest = openIngest(`udp://127.0.0.1:${port}?sources=127.0.0.2`)
    const chunks = ingest.chunks()[Symbol.asyncIterator]()
    const first = chunks.next() // binds
    const senders = await Promise.all(['127.0.0.1', '127.0.0.2'].map(async (address) => {
      const s = createSocket('udp4')
      await new Promise<void>((r) => s.bind(0, address, r))
      return s
    }))
    try {
      await new Promise((r) => setTimeout(r, 100))
      // 5 datagrams from a sender not listed, each marked 0x01, then 5 from the listed one (0x02).
      for (const [i, s] of senders.entries()) for (let k = 0; k < 5; k++) await new Promise<void>((r) => s.send(Buffer.alloc(1316, i + 1), port, '127.0.0.1', () => r()))
      const got: number[] = []
      for (let r = await first; !r.done; r = await chunks.next()) {
        got.push(r.value[0]!)
        if (got.length === 5) break
      }
      expect(got).toEqual([2, 2, 2, 2, 2])
    } finally {
      for (const s of senders) s.close()
      await ingest.close()
    }
  })

  // It was a udp4 socket, which looked "[ff15::10]" up as a host name.
  it.skipIf(!privateNetworkAvailable)('IPv6: joins a group on the interface localaddr names, source by source with sources=', () => {
    expect(multicastChild('udp://[ff15::10]:5010?localaddr=v0', 5000, SEND.v6)).toEqual({ bytes: 20 * 1316 })
    expect(multicastChild('udp://[ff15::10]:5010?localaddr=v0&sources=fd99::1', 5000, SEND.v6)).toEqual({ bytes: 20 * 1316 })
    expect(multicastChild('udp://[ff15::10]:5010?localaddr=v0&sources=fd99::2', 1000, SEND.v6)).toEqual({ bytes: 0 })
  })

  it.skipIf(!privateNetworkAvailable)('a group it cannot join on the given interface is an ERR_INGEST naming it', () => {
    const r = multicastChild('udp://239.255.0.1:5010?localaddr=192.0.2.1')
    expect(r.code).toBe('ERR_INGEST')
    expect(r.error).toMatch(/^cannot join multicast group 239\.255\.0\.1 on 192\.0\.2\.1 for input "udp:\/\/239\.255\.0\.1:5010\?localaddr=192\.0\.2\.1": addMembership E[A-Z]+$/)
  })
})
