import { describe, expect, it } from 'vitest'
import { isMulticastV4, parseUdpListen } from '../src/index.js'

describe('parseUdpListen', () => {
  it('binds the host and port given', () => {
    expect(parseUdpListen('udp://127.0.0.1:5000')).toEqual({ host: '127.0.0.1', port: 5000, group: undefined, localAddress: undefined })
    expect(parseUdpListen('udp://0.0.0.0:5000')).toEqual({ host: '0.0.0.0', port: 5000, group: undefined, localAddress: undefined })
  })

  it('joins a multicast group on the interface of localaddr (FFmpeg’s name), else on the routed one', () => {
    expect(parseUdpListen('udp://239.1.2.3:5000?localaddr=10.0.0.5')).toEqual({ host: '239.1.2.3', port: 5000, group: '239.1.2.3', localAddress: '10.0.0.5' })
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
