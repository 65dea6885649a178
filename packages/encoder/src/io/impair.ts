import { createSocket, type Socket } from 'node:dgram'
import { type Logger, type UdpFamily, type UdpListen, acceptsSender, isMulticast, joinUdpGroup, localAddressOf, parseUdpListen, setUdpReceiveBuffer, silentLogger, udpHostOf } from '@mqa/common'
import { Impairer, type ImpairSchedule } from '../impair-schedule.js'
import { ShellError } from './errors.js'

export interface ImpairOptions extends ImpairSchedule {
  readonly from: string
  readonly to: string
  readonly seed?: number
  readonly logger?: Logger
  readonly signal?: AbortSignal
}

export interface ImpairStats {
  readonly passed: number
  readonly dropped: number
  readonly active: boolean
}

/**
 * A UDP relay that drops datagrams on a schedule: the rain-fade simulator. Runs until the signal
 * aborts. Returns a handle for its counters.
 */
export async function startImpair(options: ImpairOptions): Promise<{ stats(): ImpairStats; closed: Promise<void>; close(): Promise<void> }> {
  const log = options.logger ?? silentLogger
  // --from listens as a UDP input does: a multicast group is joined (?localaddr=, ?sources=).
  let from: UdpListen
  try {
    from = parseUdpListen(options.from)
  } catch (err) {
    throw new ImpairError(`--from: ${(err as Error).message}`, { cause: err })
  }
  const to = parseUdp(options.to, '--to')
  const impairer = new Impairer(options, options.seed ?? 1)
  const rx = createSocket({ type: from.family, reuseAddr: true })
  const tx = createSocket(to.family)
  try {
    await prepareSender(tx, to, options.to)
  } catch (err) {
    rx.close()
    tx.close()
    throw err
  }
  const started = performance.now()
  let wasActive = false
  rx.on('message', (msg, sender) => {
    if (!acceptsSender(from, sender.address)) return
    const elapsed = performance.now() - started
    const active = impairer.active(elapsed)
    if (active !== wasActive) {
      wasActive = active
      log.info(active ? 'impairment on' : 'impairment off', { loss: options.loss, passed: impairer.passed, dropped: impairer.dropped })
    }
    if (impairer.drop(elapsed)) return
    tx.send(msg, to.port, to.host)
  })
  rx.on('error', (err) => log.error('relay socket error', { error: err.message }))
  tx.on('error', (err) => log.warn('relay send error', { error: err.message }))
  await new Promise<void>((resolve, reject) => {
    rx.once('error', reject)
    rx.bind(from.port, from.host, () => {
      rx.off('error', reject)
      const notice = setUdpReceiveBuffer(rx, from, options.from)
      if (notice !== undefined) log[notice.level](`--from: ${notice.message}`, { code: 'ERR_UDP_BUFFER' })
      try {
        joinUdpGroup(rx, from, options.from)
        resolve()
      } catch (err) {
        rx.close()
        tx.close()
        reject(new ImpairError(`--from: ${(err as Error).message}`, { cause: err }))
      }
    })
  })
  let resolveClosed!: () => void
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve))
  const close = async () => {
    await Promise.all([new Promise<void>((r) => rx.close(() => r())), new Promise<void>((r) => tx.close(() => r()))]).catch(() => undefined)
    resolveClosed()
  }
  options.signal?.addEventListener('abort', () => void close(), { once: true })
  return { stats: () => ({ passed: impairer.passed, dropped: impairer.dropped, active: wasActive }), closed, close }
}

/**
 * A destination: `udp://host:port` or `udp://[v6 address]:port`, with `?localaddr=` (the address
 * to send from; for a multicast group, its interface: for IPv6, `::%eth0` or just `eth0`) and
 * `?ttl=` (0-255, the hop limit for IPv6), as FFmpeg's udp URLs name them.
 */
export function parseUdp(spec: string, name: string): { family: UdpFamily; host: string; port: number; localAddress: string | undefined; ttl: number | undefined } {
  let url: URL
  try {
    url = new URL(spec)
  } catch {
    throw new ImpairError(`${name} must be udp://host:port, got ${JSON.stringify(spec)}`)
  }
  const port = Number(url.port)
  if (url.protocol !== 'udp:' || !Number.isInteger(port) || port <= 0 || port > 65535) throw new ImpairError(`${name} must be udp://host:port, got ${JSON.stringify(spec)}`)
  const ttlParam = url.searchParams.get('ttl')
  const ttl = ttlParam === null ? undefined : ttlParam.trim() === '' ? NaN : Number(ttlParam)
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 0 && ttl <= 255)) throw new ImpairError(`${name}: ttl must be 0-255, got ${JSON.stringify(ttlParam)}`)
  const { host, family } = udpHostOf(url)
  return { family, host: host || '127.0.0.1', port, localAddress: localAddressOf(url, family), ttl }
}

/** Binds the sending socket as `to` asks: from `localaddr` (else any address), its TTL, a group's interface. */
async function prepareSender(tx: Socket, to: ReturnType<typeof parseUdp>, spec: string): Promise<void> {
  if (to.localAddress === undefined && to.ttl === undefined) return // the first send binds it
  await new Promise<void>((resolve, reject) => {
    tx.once('error', reject)
    tx.bind(0, to.localAddress, () => {
      tx.off('error', reject)
      resolve()
    })
  }).catch((err: unknown) => {
    throw new ImpairError(`--to: cannot send from ${to.localAddress ?? 'any address'} (${JSON.stringify(spec)}): ${(err as Error).message}`, { cause: err })
  })
  try {
    const multicast = isMulticast(to.host)
    if (multicast && to.localAddress !== undefined) tx.setMulticastInterface(to.localAddress)
    if (to.ttl !== undefined) {
      if (multicast) tx.setMulticastTTL(to.ttl)
      else tx.setTTL(to.ttl)
    }
  } catch (err) {
    throw new ImpairError(`--to: ${(err as Error).message} (${JSON.stringify(spec)})`, { cause: err })
  }
}

export class ImpairError extends ShellError<'ERR_IMPAIR'> {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('ERR_IMPAIR', message, options)
  }
}
