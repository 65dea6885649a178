import { type IncomingMessage, type ServerResponse, createServer, type Server } from 'node:http'
import { type Logger, ErrorWindow } from '@mqa/common'

/** Shared HTTP plumbing for the packager and origin: CORS, HEAD, limits, counting. */

export const CORS_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': '*',
  'Access-Control-Expose-Headers': 'CMSD-Static, CMSD-Dynamic',
}

export interface Reply {
  readonly status: number
  readonly headers?: Record<string, string>
  readonly body?: Uint8Array | string
  /** Streamed body (low latency): chunks as they are produced. */
  readonly stream?: AsyncIterable<Uint8Array>
}

export type Handler = (path: string, req: IncomingMessage) => Promise<Reply> | Reply

export interface HttpCounters {
  requests: number
  byStatus: Record<string, number>
  rejected: number
}

/**
 * An HTTP server that answers GET and HEAD with identical headers, OPTIONS for CORS, 405 for
 * other methods, 400 for unparseable targets; with header and request timeouts so a slow or
 * broken client never holds anything up, and a handler error becomes one 500, counted and logged.
 */
export function startHttp(options: { host: string; port: number; handler: Handler; logger: Logger; counters: HttpCounters }): Promise<Server> {
  const log = options.logger
  const errors = new ErrorWindow(10_000)
  const server = createServer({ maxHeaderSize: 8 * 1024, requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 }, (req, res) => {
    void handle(req, res)
  })
  server.timeout = 30_000
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    options.counters.requests++
    const send = (reply: Reply) => respond(req, res, reply, options.counters)
    if (req.method === 'OPTIONS') return send({ status: 204 })
    if (req.method !== 'GET' && req.method !== 'HEAD') return send({ status: 405, headers: { Allow: 'GET, HEAD, OPTIONS' }, body: 'method not allowed\n' })
    let path: string
    try {
      path = new URL(req.url ?? '/', 'http://localhost').pathname
    } catch {
      options.counters.rejected++
      return send({ status: 400, body: 'bad request target\n' })
    }
    // Paths are matched against fixed patterns only; anything with dot segments is simply unknown.
    if (/(^|\/)\.\.?(\/|$)/.test(req.url ?? '') || (req.url ?? '').includes('%2e') || (req.url ?? '').includes('%2E')) {
      options.counters.rejected++
      return send({ status: 404, body: 'not found\n' })
    }
    try {
      await send(await options.handler(path, req))
    } catch (err) {
      const r = errors.record('ERR_HANDLER')
      if (r) log.error('request failed', { path, error: (err as Error).message, total: r.total })
      if (!res.headersSent) await send({ status: 500, body: 'internal error\n' })
      else res.destroy()
    }
  }
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    options.counters.rejected++
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request'
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`)
    else socket.destroy()
  })
  return new Promise((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => reject(new ListenError(options.host, options.port, err))
    server.once('error', failed)
    server.listen(options.port, options.host, () => {
      server.off('error', failed)
      resolve(server)
    })
  })
}

/** The service could not take its address (in use, not ours, no permission): a user's mistake, one line. */
export class ListenError extends Error {
  readonly code = 'ERR_LISTEN'
  constructor(host: string, port: number, cause: NodeJS.ErrnoException) {
    const why = cause.code === 'EADDRINUSE' ? 'the address is already in use' : cause.code === 'EADDRNOTAVAIL' ? 'that address is not on this machine' : cause.code === 'EACCES' ? 'permission denied' : cause.message
    super(`cannot listen on ${host}:${port}: ${why}`, { cause })
    this.name = 'ListenError'
  }
}

async function respond(req: IncomingMessage, res: ServerResponse, reply: Reply, counters: HttpCounters): Promise<void> {
  counters.byStatus[reply.status] = (counters.byStatus[reply.status] ?? 0) + 1
  const headers: Record<string, string> = { ...CORS_HEADERS, ...reply.headers }
  const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : reply.body
  if (body !== undefined) headers['Content-Length'] = String(body.length)
  res.writeHead(reply.status, headers)
  if (req.method === 'HEAD') {
    res.end()
    return
  }
  if (reply.stream) {
    for await (const chunk of reply.stream) {
      if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve))
    }
    res.end()
    return
  }
  res.end(body)
}
