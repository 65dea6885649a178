import { createSocket } from 'node:dgram'
import { createReadStream } from 'node:fs'
import { type Readable } from 'node:stream'
import { type UdpBufferNotice, type UdpListen, acceptsSender, joinUdpGroup, parseUdpListen, setUdpReceiveBuffer } from '@mqa/common'

/**
 * MPEG-TS bytes from `udp://host:port`, a file, or stdin (`-`), handed over in whole 188-byte
 * packets where the stream is aligned. A file is paced by the caller (it knows the media time);
 * UDP and stdin arrive at their own pace. The iterator ends when the input ends (never for UDP).
 */
export interface IngestSource {
  readonly kind: 'udp' | 'file' | 'stdin'
  chunks(): AsyncIterable<Uint8Array>
  close(): Promise<void>
  /** What the source threw away before the packager saw it (UDP: datagrams over the queue bound). */
  readonly dropped: IngestDropped
}

export interface IngestDropped {
  datagrams: number
  bytes: number
}

export class IngestError extends Error {
  readonly code = 'ERR_INGEST'
}

export interface IngestOptions {
  /** Bound on UDP bytes waiting for the packager (64 MB). */
  readonly maxQueuedBytes?: number
  /** Told of a UDP input's receive buffer smaller than asked (the input is still read). */
  readonly onBufferNotice?: (notice: UdpBufferNotice) => void
}

export function openIngest(spec: string, options: IngestOptions = {}): IngestSource {
  if (spec.startsWith('udp://')) return udpSource(spec, options.maxQueuedBytes ?? 64 << 20, options.onBufferNotice)
  if (spec === '-') return streamSource('stdin', process.stdin)
  return streamSource('file', createReadStream(spec, { highWaterMark: 188 * 348 }))
}

function streamSource(kind: 'file' | 'stdin', stream: Readable): IngestSource {
  return {
    kind,
    dropped: { datagrams: 0, bytes: 0 }, // a stream applies back-pressure instead
    async *chunks() {
      let carry: Uint8Array = new Uint8Array(0)
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          const buf: Uint8Array = carry.length ? Buffer.concat([carry, chunk]) : chunk
          const whole = buf.length - (buf.length % 188)
          if (whole > 0) yield buf.subarray(0, whole)
          carry = buf.subarray(whole)
        }
      } catch (err) {
        throw new IngestError(`cannot read input: ${(err as Error).message}`, { cause: err })
      }
      if (carry.length) yield carry
    },
    async close() {
      if (kind === 'file') stream.destroy()
    },
  }
}

function udpSource(spec: string, maxQueuedBytes: number, onBufferNotice?: (notice: UdpBufferNotice) => void): IngestSource {
  let listen: UdpListen
  try {
    listen = parseUdpListen(spec)
  } catch (err) {
    throw new IngestError((err as Error).message, { cause: err })
  }
  const socket = createSocket({ type: listen.family, reuseAddr: true })
  const queue: Uint8Array[] = []
  let queued = 0
  let wake: (() => void) | undefined
  let closed = false
  const dropped: IngestDropped = { datagrams: 0, bytes: 0 }
  socket.on('message', (msg, from) => {
    if (!acceptsSender(listen, from.address)) return
    if (queued + msg.length > maxQueuedBytes) {
      // The packager is behind by the whole bound: drop (UDP cannot push back), counted.
      dropped.datagrams++
      dropped.bytes += msg.length
      return
    }
    queue.push(msg)
    queued += msg.length
    wake?.()
  })
  const bound = new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(listen.port, listen.host, () => {
      socket.off('error', reject)
      const notice = setUdpReceiveBuffer(socket, listen, spec)
      if (notice !== undefined) onBufferNotice?.(notice)
      try {
        joinUdpGroup(socket, listen, spec)
        resolve()
      } catch (err) {
        reject(new IngestError((err as Error).message, { cause: err }))
      }
    })
  })
  return {
    kind: 'udp',
    dropped,
    async *chunks() {
      await bound
      while (!closed) {
        const next = queue.shift()
        if (next) {
          queued -= next.length
          yield next
          continue
        }
        await new Promise<void>((resolve) => (wake = resolve))
        wake = undefined
      }
    },
    async close() {
      closed = true
      wake?.()
      await new Promise<void>((resolve) => socket.close(() => resolve()))
    },
  }
}
