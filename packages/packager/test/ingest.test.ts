import { describe, expect, it } from 'vitest'
import { inPrivateNetwork, privateNetworkAvailable } from '../../../scripts/lib/private-network.js'
import { openIngest } from '../src/io/ingest.js'

const ingestModule = new URL('../dist/io/ingest.js', import.meta.url).href

/**
 * A child in a private network namespace (only a loopback: multicast cannot leave it) that opens
 * the packager's UDP ingest on `input`, sends 20 datagrams of 7 TS packets to 239.255.0.1:5010
 * from 127.0.0.1, and prints what the ingest yielded, or the error it threw.
 */
function multicastChild(input: string) {
  const code = `
    import { createSocket } from 'node:dgram'
    const { openIngest } = await import(${JSON.stringify(ingestModule)})
    const ingest = openIngest(process.argv[1])
    const tx = createSocket('udp4')
    await new Promise((r) => tx.bind(0, '127.0.0.1', r))
    tx.setMulticastInterface('127.0.0.1')
    let bytes = 0
    let sender
    const timer = setTimeout(() => { console.log(JSON.stringify({ bytes })); process.exit(0) }, 5000)
    try {
      const it = ingest.chunks()[Symbol.asyncIterator]()
      const first = it.next()
      // The ingest binds and joins before its first chunk; send once that has had time to happen.
      sender = setTimeout(() => { for (let i = 0; i < 20; i++) tx.send(Buffer.alloc(1316, 0x47), 5010, '239.255.0.1') }, 200)
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
  const r = inPrivateNetwork(`node --input-type=module -e ${shellQuote(code)} ${shellQuote(input)}`, 20_000)
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

  it.skipIf(!privateNetworkAvailable)('a group it cannot join on the given interface is an ERR_INGEST naming it', () => {
    const r = multicastChild('udp://239.255.0.1:5010?localaddr=192.0.2.1')
    expect(r.code).toBe('ERR_INGEST')
    expect(r.error).toMatch(/^cannot join multicast group 239\.255\.0\.1 on 192\.0\.2\.1 for input "udp:\/\/239\.255\.0\.1:5010\?localaddr=192\.0\.2\.1": addMembership E[A-Z]+$/)
  })
})
