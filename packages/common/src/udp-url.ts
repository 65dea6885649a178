import { ErrorCode, MqaError } from './errors.js'

/**
 * What a UDP input (the encoder's, the packager's) listens on, from `udp://host:port`: the address
 * and port to bind and, for an IPv4 multicast group (224.0.0.0/4), the group to join and the
 * interface to join it on (`?localaddr=`), and the senders to take datagrams from (`?sources=`,
 * comma-separated: for a group, a source-specific join). The query names are FFmpeg's udp URL
 * options. The packages own the socket; `joinUdpGroup` makes the calls on it.
 */
export interface UdpListen {
  /** The address to bind: the group for multicast (the socket then takes that group's datagrams only). */
  readonly host: string
  readonly port: number
  /** The multicast group to join, when `host` is one. */
  readonly group: string | undefined
  /** The local address of the interface to join the group on; undefined: the one the route to the group names. */
  readonly localAddress: string | undefined
  /** Senders whose datagrams are taken (empty: any). For a group, joined source by source. */
  readonly sources: readonly string[]
}

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
  const host = url.hostname
  const group = isMulticastV4(host) ? host : undefined
  const sources = (url.searchParams.get('sources') ?? '').split(',').filter((s) => s !== '')
  const notIp = sources.find((s) => !isIPv4Address(s))
  if (notIp !== undefined) throw new MqaError(ErrorCode.URL_INVALID, `input ${JSON.stringify(spec)}: sources must be IPv4 addresses, got ${JSON.stringify(notIp)}`)
  return { host, port: Number(url.port), group, localAddress: group === undefined ? undefined : (url.searchParams.get('localaddr') ?? undefined), sources }
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

/** Whether a datagram from `address` is taken: any sender, or one of `sources`. */
export function acceptsSender(listen: UdpListen, address: string): boolean {
  return listen.sources.length === 0 || listen.sources.includes(address)
}

/** An IPv4 multicast address in dotted-quad form (as the URL parser leaves it): 224.0.0.0 to 239.255.255.255. */
export function isMulticastV4(host: string): boolean {
  const first = isIPv4Address(host) ? Number(host.split('.')[0]) : NaN
  return first >= 224 && first <= 239
}

/** An IPv4 address in dotted-quad form. */
function isIPv4Address(s: string): boolean {
  const octets = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s)?.slice(1).map(Number)
  return octets !== undefined && octets.every((o) => o <= 255)
}
