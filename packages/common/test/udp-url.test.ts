import { createSocket } from 'node:dgram'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { UDP_RECEIVE_BUFFER_BYTES, type UdpMembership, acceptsSender, isMulticast, isMulticastV4, joinUdpGroup, parseUdpListen, parseUrlWithPort, setUdpReceiveBuffer } from '../src/index.js'

describe('parseUdpListen', () => {
  it('binds the host and port given', () => {
    expect(parseUdpListen('udp://127.0.0.1:5000')).toEqual({ family: 'udp4', host: '127.0.0.1', port: 5000, group: undefined, localAddress: undefined, sources: [], receiveBufferBytes: UDP_RECEIVE_BUFFER_BYTES, receiveBufferFromUrl: false })
    expect(parseUdpListen('udp://0.0.0.0:5000')).toEqual({ family: 'udp4', host: '0.0.0.0', port: 5000, group: undefined, localAddress: undefined, sources: [], receiveBufferBytes: UDP_RECEIVE_BUFFER_BYTES, receiveBufferFromUrl: false })
  })

  it('takes an IPv6 address in brackets: a udp6 socket bound to the bare address', () => {
    expect(parseUdpListen('udp://[::1]:5000')).toEqual({ family: 'udp6', host: '::1', port: 5000, group: undefined, localAddress: undefined, sources: [], receiveBufferBytes: UDP_RECEIVE_BUFFER_BYTES, receiveBufferFromUrl: false })
    expect(parseUdpListen('udp://[::]:5000')).toMatchObject({ family: 'udp6', host: '::', group: undefined })
    // The URL parser writes the address in canonical form (lower case, zeros compressed).
    expect(parseUdpListen('udp://[FF15:0:0:0:0:0:0:1234]:5000')).toMatchObject({ family: 'udp6', host: 'ff15::1234', group: 'ff15::1234' })
  })

  it('joins an IPv6 group on the interface localaddr names: an address with its scope, or the interface alone', () => {
    expect(parseUdpListen('udp://[ff15::1234]:5000?localaddr=::%25eth0')).toMatchObject({ group: 'ff15::1234', localAddress: '::%eth0' })
    expect(parseUdpListen('udp://[ff15::1234]:5000?localaddr=eth0')).toMatchObject({ group: 'ff15::1234', localAddress: '::%eth0' })
    expect(parseUdpListen('udp://[ff02::1]:5000')).toMatchObject({ group: 'ff02::1', localAddress: undefined })
  })

  it('joins a multicast group on the interface of localaddr (FFmpeg’s name), else on the routed one', () => {
    expect(parseUdpListen('udp://239.1.2.3:5000?localaddr=10.0.0.5')).toEqual({ family: 'udp4', host: '239.1.2.3', port: 5000, group: '239.1.2.3', localAddress: '10.0.0.5', sources: [], receiveBufferBytes: UDP_RECEIVE_BUFFER_BYTES, receiveBufferFromUrl: false })
    expect(parseUdpListen('udp://224.0.0.1:5000')).toMatchObject({ group: '224.0.0.1', localAddress: undefined })
    // localaddr only means something for a group.
    expect(parseUdpListen('udp://127.0.0.1:5000?localaddr=10.0.0.5')).toMatchObject({ group: undefined, localAddress: undefined })
  })

  it('refuses a URL without a port, with port 0, out of range or of another scheme, naming it', () => {
    for (const [spec, message] of [
      ['udp://127.0.0.1', 'input "udp://127.0.0.1" has no port'],
      ['udp://127.0.0.1:0', 'input "udp://127.0.0.1:0": port 0 is not a port to receive on (1-65535)'],
      ['udp://127.0.0.1:70000', 'input "udp://127.0.0.1:70000" is not udp://host:port'],
      ['udp://[nope', 'input "udp://[nope" is not udp://host:port'],
      ['srt://127.0.0.1:5000', 'input "srt://127.0.0.1:5000" is not udp://host:port'],
      ['udp://232.1.1.1:5000?sources=10.0.0.1,encoder-a', 'input "udp://232.1.1.1:5000?sources=10.0.0.1,encoder-a": sources must be IPv4 addresses (as the input\'s address is), got "encoder-a"'],
      ['udp://232.1.1.1:5000?sources=2001:db8::1', 'input "udp://232.1.1.1:5000?sources=2001:db8::1": sources must be IPv4 addresses (as the input\'s address is), got "2001:db8::1"'],
      ['udp://[ff35::1]:5000?sources=10.0.0.1', 'input "udp://[ff35::1]:5000?sources=10.0.0.1": sources must be IPv6 addresses (as the input\'s address is), got "10.0.0.1"'],
      ['udp://[ff35::1]:5000?sources=2001:db8::zz', 'input "udp://[ff35::1]:5000?sources=2001:db8::zz": sources must be IPv6 addresses (as the input\'s address is), got "2001:db8::zz"'],
    ] as const) {
      expect(() => parseUdpListen(spec)).toThrow(expect.objectContaining({ code: 'ERR_URL_INVALID', message }))
    }
  })
})

describe('isMulticastV4', () => {
  it('is 224.0.0.0/4 in dotted quads, nothing else', () => {
    expect(['224.0.0.0', '239.255.255.255', '232.1.1.1'].map(isMulticastV4)).toEqual([true, true, true])
    expect(['223.255.255.255', '240.0.0.1', '127.0.0.1', '0.0.0.0', '239.1.2.256', 'localhost', '[ff02::1]'].map(isMulticastV4)).toEqual([false, false, false, false, false, false, false])
  })
})

describe('isMulticast', () => {
  it('is IPv4 224.0.0.0/4 and IPv6 ff00::/8 (brackets off), nothing else', () => {
    expect(['239.1.2.3', 'ff02::1', 'ff15::1234', 'FF3E::8000:1'].map(isMulticast)).toEqual([true, true, true, true])
    expect(['127.0.0.1', '::1', 'fe80::1', '2001:db8::1', 'ff', 'ffff.example', '[ff02::1]'].map(isMulticast)).toEqual([false, false, false, false, false, false, false])
  })
})

describe('sources (FFmpeg’s udp option): the senders a UDP input takes', () => {
  it('reads a comma-separated list, and takes only those senders', () => {
    const listen = parseUdpListen('udp://232.1.1.1:5000?sources=10.0.0.1,10.0.0.2&localaddr=10.9.0.1')
    expect(listen.sources).toEqual(['10.0.0.1', '10.0.0.2'])
    expect(['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((a) => acceptsSender(listen, a))).toEqual([true, true, false])
    expect(acceptsSender(parseUdpListen('udp://127.0.0.1:5000'), '10.0.0.3')).toBe(true)
  })

  it('IPv6: compares canonical forms, without the sender’s zone', () => {
    const listen = parseUdpListen('udp://[ff35::1]:5000?sources=2001:DB8:0:0::1,fe80::14b1:39ff:fea8:dc25')
    expect(listen.sources).toEqual(['2001:db8::1', 'fe80::14b1:39ff:fea8:dc25'])
    expect(['2001:db8::1', 'fe80::14b1:39ff:fea8:dc25%veth0', '2001:db8::2'].map((a) => acceptsSender(listen, a))).toEqual([true, true, false])
  })
})

describe('joinUdpGroup', () => {
  /** A socket that records the membership calls made on it, and refuses one interface as the system would. */
  function recordingSocket(): UdpMembership & { calls: string[] } {
    const calls: string[] = []
    const refuse = (iface?: string) => {
      if (iface === '192.0.2.1') throw Object.assign(new Error('addMembership ENODEV'), { code: 'ENODEV' })
    }
    return {
      calls,
      addMembership: (group, iface) => (refuse(iface), void calls.push(`any ${group} ${iface}`)),
      addSourceSpecificMembership: (source, group, iface) => (refuse(iface), void calls.push(`${source} ${group} ${iface}`)),
    }
  }

  it('joins a group from any source, or source by source; nothing for unicast', () => {
    const s = recordingSocket()
    joinUdpGroup(s, parseUdpListen('udp://239.1.1.1:5000?localaddr=10.9.0.1'), 'a')
    joinUdpGroup(s, parseUdpListen('udp://232.1.1.1:5000?sources=10.0.0.1,10.0.0.2'), 'b')
    joinUdpGroup(s, parseUdpListen('udp://127.0.0.1:5000?sources=10.0.0.1'), 'c')
    expect(s.calls).toEqual(['any 239.1.1.1 10.9.0.1', '10.0.0.1 232.1.1.1 undefined', '10.0.0.2 232.1.1.1 undefined'])
  })

  it('a join the system refuses is ERR_UDP_JOIN naming the group, the sources, the interface and the input', () => {
    const spec = 'udp://232.1.1.1:5000?sources=10.0.0.1&localaddr=192.0.2.1'
    expect(() => joinUdpGroup(recordingSocket(), parseUdpListen(spec), spec)).toThrow(
      expect.objectContaining({ code: 'ERR_UDP_JOIN', message: `cannot join multicast group 232.1.1.1 from 10.0.0.1 on 192.0.2.1 for input "${spec}": addMembership ENODEV` }),
    )
  })
})

describe('parseUrlWithPort: a live URL must name a port', () => {
  it('words port 0 by role, and names the scheme it wanted', () => {
    expect(parseUrlWithPort('srt://127.0.0.1:9000?mode=listener', 'srt', 'input').port).toBe('9000')
    expect(() => parseUrlWithPort('udp://127.0.0.1:0', 'udp', 'output')).toThrow(expect.objectContaining({ code: 'ERR_URL_INVALID', message: 'output "udp://127.0.0.1:0": port 0 is not a destination (1-65535)' }))
    expect(() => parseUrlWithPort('srt://127.0.0.1', 'srt', 'input')).toThrow(expect.objectContaining({ code: 'ERR_URL_INVALID', message: 'input "srt://127.0.0.1" has no port' }))
    expect(() => parseUrlWithPort('udp://127.0.0.1:5000', 'srt', 'input')).toThrow('input "udp://127.0.0.1:5000" is not srt://host:port')
  })
})

describe('the receive buffer of a UDP input', () => {
  it('asks 4 MiB unless buffer_size (FFmpeg’s name, bytes) says; a buffer_size that is not a byte count is refused', () => {
    expect(parseUdpListen('udp://127.0.0.1:5000').receiveBufferBytes).toBe(4 * 1024 * 1024)
    expect(parseUdpListen('udp://127.0.0.1:5000?buffer_size=65536').receiveBufferBytes).toBe(65536)
    for (const bad of ['0', '-1', '1.5', 'abc', '', '4294967296']) {
      const spec = `udp://127.0.0.1:5000?buffer_size=${bad}`
      expect(() => parseUdpListen(spec)).toThrow(expect.objectContaining({ code: 'ERR_URL_INVALID', message: `input ${JSON.stringify(spec)}: buffer_size must be a number of bytes from 1 to 2147483647, got ${JSON.stringify(bad)}` }))
    }
  })

  it('sets it on a bound socket; when the system gives less than buffer_size asked, a warning names the input, what it got and the limit to raise', async () => {
    const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'))
    const socket = createSocket('udp4')
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
    try {
      const small = 'udp://127.0.0.1:5000?buffer_size=65536'
      expect(setUdpReceiveBuffer(socket, parseUdpListen(small), small)).toBeUndefined()
      expect(socket.getRecvBufferSize()).toBeGreaterThanOrEqual(65536)
      const asked = Math.min(0x7fffffff, rmemMax * 4)
      const big = `udp://127.0.0.1:5000?buffer_size=${asked}`
      // Linux keeps at most rmem_max and reports twice what it keeps.
      expect(setUdpReceiveBuffer(socket, parseUdpListen(big), big)).toEqual({
        level: 'warn',
        message: `the receive buffer of input ${JSON.stringify(big)} is ${2 * rmemMax} bytes, not the ${asked} asked: a burst larger than that is lost before it is read; raise the system's limit (sysctl -w net.core.rmem_max=${asked}) or ask less with ?buffer_size=`,
      })
      // The default (4 MiB) is only information when not given: stock systems give less, and a feed of a few Mb/s does not need it.
      const plain = 'udp://127.0.0.1:5000'
      const notice = setUdpReceiveBuffer(socket, parseUdpListen(plain), plain)
      if (2 * rmemMax < UDP_RECEIVE_BUFFER_BYTES) expect(notice).toMatchObject({ level: 'info' })
      else expect(notice).toBeUndefined()
    } finally {
      socket.close()
    }
  })
})
