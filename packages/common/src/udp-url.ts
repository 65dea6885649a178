import { ErrorCode, MqaError } from './errors.js'

/**
 * What a UDP input (the encoder's, the packager's) listens on, from `udp://host:port` or
 * `udp://[v6 address]:port`: the socket's family, the address and port to bind and, for a multicast
 * group (IPv4 224.0.0.0/4, IPv6 ff00::/8), the group to join and the interface to join it on
 * (`?localaddr=`), and the senders to take datagrams from (`?sources=`, comma-separated: for a
 * group, a source-specific join). The query names are FFmpeg's udp URL options. The packages own
 * the socket; `joinUdpGroup` makes the calls on it.
 */
export interface UdpListen {
  /** The socket to make (node:dgram's type): `udp6` for a bracketed IPv6 address. */
  readonly family: UdpFamily
  /** The address to bind, without brackets: the group for multicast (the socket then takes that group's datagrams only). */
  readonly host: string
  readonly port: number
  /** The multicast group to join, when `host` is one. */
  readonly group: string | undefined
  /**
   * The interface to join the group on, as node:dgram takes it: IPv4, the interface's address; IPv6,
   * an address with the interface as its scope (`::%eth0`; `?localaddr=eth0` is taken as that).
   * Undefined: the one the route to the group names.
   */
  readonly localAddress: string | undefined
  /** Senders whose datagrams are taken (empty: any), in canonical form. For a group, joined source by source. */
  readonly sources: readonly string[]
  /** The socket's receive buffer to ask for, bytes (`?buffer_size=`, FFmpeg's name; else UDP_RECEIVE_BUFFER_BYTES). */
  readonly receiveBufferBytes: number
  /** Whether the URL asked for it (`?buffer_size=`), rather than the default. */
  readonly receiveBufferFromUrl: boolean
}

/**
 * The receive buffer a UDP input asks for unless its URL says (`?buffer_size=`): 4 MiB, 0.7 s at
 * 50 Mb/s. The system's default (Linux: 208 KB, about 90 datagrams of 7 TS packets) loses the
 * burst a sender makes of each I-frame: an idle reader lost 177 datagrams in 8 s of an 8 Mb/s
 * 720p feed from `ffmpeg -re`, none with this.
 */
export const UDP_RECEIVE_BUFFER_BYTES = 4 << 20

export type UdpFamily = 'udp4' | 'udp6'

/** The membership calls of a UDP socket (node:dgram's `Socket` has them). */
export interface UdpMembership {
  addMembership(group: string, iface?: string): void
  addSourceSpecificMembership(source: string, group: string, iface?: string): void
}

/**
 * Reads a UDP input URL. Without a port (or with 0) the socket would bind a port the system picks,
 * one no sender knows, and wait for ever: that is an `ERR_URL_INVALID` naming the input.
 */
export function parseUdpListen(spec: string): UdpListen {
  const url = parseUrlWithPort(spec, 'udp', 'input')
  const { host, family } = udpHostOf(url)
  const group = isMulticast(host) ? host : undefined
  const sources: string[] = []
  for (const source of (url.searchParams.get('sources') ?? '').split(',').filter((s) => s !== '')) {
    const address = family === 'udp6' ? canonicalIPv6(source) : isIPv4Address(source) ? source : undefined
    if (address === undefined) throw new MqaError(ErrorCode.URL_INVALID, `input ${JSON.stringify(spec)}: sources must be ${family === 'udp6' ? 'IPv6' : 'IPv4'} addresses (as the input's address is), got ${JSON.stringify(source)}`)
    sources.push(address)
  }
  const localAddress = group === undefined ? undefined : localAddressOf(url, family)
  const bufferSize = url.searchParams.get('buffer_size')
  const receiveBufferBytes = bufferSize === null ? UDP_RECEIVE_BUFFER_BYTES : /^\d{1,10}$/.test(bufferSize) ? Number(bufferSize) : NaN
  if (!(receiveBufferBytes >= 1 && receiveBufferBytes <= 0x7fffffff)) throw new MqaError(ErrorCode.URL_INVALID, `input ${JSON.stringify(spec)}: buffer_size must be a number of bytes from 1 to ${0x7fffffff}, got ${JSON.stringify(bufferSize)}`)
  return { family, host, port: Number(url.port), group, localAddress, sources, receiveBufferBytes, receiveBufferFromUrl: bufferSize !== null }
}

/** The receive-buffer calls of a UDP socket (node:dgram's `Socket` has them; only once it is bound). */
export interface UdpReceiveBuffer {
  setRecvBufferSize(size: number): void
  getRecvBufferSize(): number
}

/** What to log about a UDP input's receive buffer (as `ERR_UDP_BUFFER`). */
export interface UdpBufferNotice {
  /** `warn` when the URL asked for the size (or it could not be set at all); `info` for the default. */
  readonly level: 'warn' | 'info'
  readonly message: string
}

/**
 * Asks the system for `listen`'s receive buffer on a bound socket. When it gave less (Linux keeps
 * at most net.core.rmem_max, 208 KB unless raised, and reports twice what it keeps), a sender's
 * burst above that is lost before it is read: the notice names the input, what it got and the
 * limit to raise. A warning when `?buffer_size=` asked; for the default, information, since every
 * stock system gives less and a feed of a few Mb/s does not need it. Undefined when it gave what
 * was asked.
 */
export function setUdpReceiveBuffer(socket: UdpReceiveBuffer, listen: UdpListen, spec: string): UdpBufferNotice | undefined {
  const asked = listen.receiveBufferBytes
  let got: number
  try {
    socket.setRecvBufferSize(asked)
    got = socket.getRecvBufferSize()
  } catch (err) {
    return { level: 'warn', message: `cannot set the receive buffer of input ${JSON.stringify(spec)} to ${asked} bytes: ${(err as Error).message}; bursts above the system's default are lost` }
  }
  if (got >= asked) return undefined
  return {
    level: listen.receiveBufferFromUrl ? 'warn' : 'info',
    message: `the receive buffer of input ${JSON.stringify(spec)} is ${got} bytes, not the ${asked} asked: a burst larger than that is lost before it is read; raise the system's limit (sysctl -w net.core.rmem_max=${asked}) or ask less with ?buffer_size=`,
  }
}

/**
 * A UDP URL's `?localaddr=` as node:dgram takes it (undefined when absent): IPv4, the address as
 * given; IPv6, an address with the interface as its scope (`::%eth0`, `fe80::1%eth0`), where a bare
 * interface name (`eth0`) stands for `::%eth0`.
 */
export function localAddressOf(url: URL, family: UdpFamily): string | undefined {
  const localaddr = url.searchParams.get('localaddr') ?? undefined
  return family === 'udp6' && localaddr !== undefined && !localaddr.includes(':') ? `::%${localaddr}` : localaddr
}

/**
 * The bare address of a UDP URL's host and the socket family it takes: a bracketed IPv6 literal
 * (`udp://[ff15::1]:5000`; the URL parser leaves the brackets on) is `udp6`, anything else `udp4`.
 */
export function udpHostOf(url: URL): { host: string; family: UdpFamily } {
  const h = url.hostname
  return h.startsWith('[') && h.endsWith(']') ? { host: h.slice(1, -1), family: 'udp6' } : { host: h, family: 'udp4' }
}

/**
 * A live input's or output's URL (`udp://`, `srt://`), which must name a port: an input without
 * one (or with 0) would bind a port no sender knows, an output would send nowhere. The URL parser
 * refuses ports above 65535 itself. Errors are `ERR_URL_INVALID` naming the URL; callers raise
 * them as their own input or output error, message unchanged.
 */
export function parseUrlWithPort(spec: string, scheme: 'udp' | 'srt', role: 'input' | 'output'): URL {
  let url: URL | undefined
  try {
    url = new URL(spec)
  } catch {
    url = undefined
  }
  if (url?.protocol !== `${scheme}:`) throw new MqaError(ErrorCode.URL_INVALID, `${role} ${JSON.stringify(spec)} is not ${scheme}://host:port`)
  if (!url.port) throw new MqaError(ErrorCode.URL_INVALID, `${role} ${JSON.stringify(spec)} has no port`)
  const zero = role === 'input' ? 'is not a port to receive on' : 'is not a destination'
  if (url.port === '0') throw new MqaError(ErrorCode.URL_INVALID, `${role} ${JSON.stringify(spec)}: port 0 ${zero} (1-65535)`)
  return url
}

/**
 * Joins `listen`'s multicast group on `socket` once it is bound (nothing to do for unicast): any
 * source, or each of `sources` (IGMPv3 source-specific joins). A join the system refuses (no such
 * interface, no route to the group) is an `ERR_UDP_JOIN` naming the group, the interface and the input.
 */
export function joinUdpGroup(socket: UdpMembership, listen: UdpListen, spec: string): void {
  const { group, localAddress, sources } = listen
  if (group === undefined) return
  try {
    if (sources.length === 0) socket.addMembership(group, localAddress)
    for (const source of sources) socket.addSourceSpecificMembership(source, group, localAddress)
  } catch (err) {
    const from = sources.length ? ` from ${sources.join(', ')}` : ''
    throw new MqaError(ErrorCode.UDP_JOIN, `cannot join multicast group ${group}${from}${localAddress ? ` on ${localAddress}` : ''} for input ${JSON.stringify(spec)}: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * Whether a datagram from `address` (node:dgram's `rinfo.address`) is taken: any sender, or one
 * of `sources`. An IPv6 sender's zone (`fe80::1%eth0`) is not part of the comparison.
 */
export function acceptsSender(listen: UdpListen, address: string): boolean {
  if (listen.sources.length === 0) return true
  const zone = address.indexOf('%')
  return listen.sources.includes(zone < 0 ? address : address.slice(0, zone))
}

/** A multicast address: IPv4 224.0.0.0/4 or IPv6 ff00::/8, as the URL parser leaves them (brackets off). */
export function isMulticast(host: string): boolean {
  return isMulticastV4(host) || /^ff[0-9a-f]{2}:/i.test(host)
}

/** An IPv4 multicast address in dotted-quad form (as the URL parser leaves it): 224.0.0.0 to 239.255.255.255. */
export function isMulticastV4(host: string): boolean {
  const first = isIPv4Address(host) ? Number(host.split('.')[0]) : NaN
  return first >= 224 && first <= 239
}

/** An IPv6 address in the form node:dgram reports senders in (lower case, zeros compressed), or undefined if `s` is none. */
function canonicalIPv6(s: string): string | undefined {
  if (!s.includes(':')) return undefined
  try {
    return new URL(`http://[${s}]/`).hostname.slice(1, -1)
  } catch {
    return undefined
  }
}

/** An IPv4 address in dotted-quad form. */
function isIPv4Address(s: string): boolean {
  const octets = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s)?.slice(1).map(Number)
  return octets !== undefined && octets.every((o) => o <= 255)
}
