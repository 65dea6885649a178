import { ErrorCode, MqaError } from './errors.js'

/**
 * What a UDP input (the encoder's, the packager's) listens on, from `udp://host:port`: the address
 * and port to bind and, for an IPv4 multicast group (224.0.0.0/4), the group to join and the
 * interface to join it on (`?localaddr=`, the name FFmpeg's udp URLs use). The packages bind and
 * join; this only reads the URL.
 */
export interface UdpListen {
  /** The address to bind: the group for multicast (the socket then takes that group's datagrams only). */
  readonly host: string
  readonly port: number
  /** The multicast group to join, when `host` is one. */
  readonly group: string | undefined
  /** The local address of the interface to join the group on; undefined: the one the route to the group names. */
  readonly localAddress: string | undefined
}

/**
 * Reads a UDP input URL. Without a port (or with 0) the socket would bind a port the system picks,
 * one no sender knows, and wait for ever: that is an `ERR_URL_INVALID` naming the input.
 */
export function parseUdpListen(spec: string): UdpListen {
  let url: URL
  try {
    url = new URL(spec)
  } catch {
    throw new MqaError(ErrorCode.URL_INVALID, `input ${JSON.stringify(spec)} is not udp://host:port`)
  }
  if (url.protocol !== 'udp:') throw new MqaError(ErrorCode.URL_INVALID, `input ${JSON.stringify(spec)} is not udp://host:port`)
  if (!url.port) throw new MqaError(ErrorCode.URL_INVALID, `input ${JSON.stringify(spec)} has no port`)
  if (url.port === '0') throw new MqaError(ErrorCode.URL_INVALID, `input ${JSON.stringify(spec)}: port 0 is not a port to receive on (1-65535)`)
  const host = url.hostname
  const group = isMulticastV4(host) ? host : undefined
  return { host, port: Number(url.port), group, localAddress: group === undefined ? undefined : (url.searchParams.get('localaddr') ?? undefined) }
}

/** An IPv4 multicast address in dotted-quad form (as the URL parser leaves it): 224.0.0.0 to 239.255.255.255. */
export function isMulticastV4(host: string): boolean {
  const octets = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host)?.slice(1).map(Number)
  return octets !== undefined && octets.every((o) => o <= 255) && octets[0]! >= 224 && octets[0]! <= 239
}
