import { createServer, type Server } from 'node:http'
import { type AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeCmsdDynamic } from '@mqa/common'
import { type OriginHandle, startOrigin } from '../src/index.js'

/**
 * Upstream faults the packagers' own tests cannot make: fake packagers at the HTTP seam (the
 * origin's adapter boundary), each serving one segment, 7, with CMSD-Static for it. Chain A's GET
 * of the segment sends its headers and 10 of its 1000 bytes, then drops the connection.
 */
const BODY = new Uint8Array(1000).fill(0x47)
const PLAYLIST = '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:2.000,\n7.ts\n'

function fakePackager(name: string, score: number, brokenBody: boolean): Promise<{ server: Server; url: string; gets: () => number }> {
  let gets = 0
  const server = createServer((req, res) => {
    if (req.url === '/hls/index.m3u8') return void res.writeHead(200, { 'Content-Type': 'application/vnd.apple.mpegurl' }).end(PLAYLIST)
    if (req.url !== '/hls/7.ts') return void res.writeHead(404).end()
    const headers = { 'Content-Type': 'video/mp2t', 'Content-Length': String(BODY.length), 'CMSD-Static': `ot=v,sf=h,st=l,n="${name}",org.svta.mqa-video=${score};sn=7;nf=50;min=${score}`, 'CMSD-Dynamic': `"${name}";rd=0` }
    res.writeHead(200, headers)
    if (req.method === 'HEAD') return void res.end()
    gets++
    if (!brokenBody) return void res.end(BODY)
    res.write(BODY.subarray(0, 10))
    setTimeout(() => res.destroy(), 20)
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, gets: () => gets })))
}

let a: Awaited<ReturnType<typeof fakePackager>>
let b: Awaited<ReturnType<typeof fakePackager>>
let origin: OriginHandle

beforeAll(async () => {
  a = await fakePackager('pkg-a', 90, true)
  b = await fakePackager('pkg-b', 90, false)
  origin = await startOrigin({ upstreams: { a: a.url, b: b.url }, host: '127.0.0.1', port: 0, name: 'origin-1', pollMs: 60_000, timeoutMs: 2000, prefetch: false })
})

afterAll(async () => {
  await origin.close()
  for (const s of [a.server, b.server]) s.closeAllConnections()
  await Promise.all([a, b].map((x) => new Promise((resolve) => x.server.close(resolve))))
})

describe('mqa origin, with an upstream that breaks off mid-body', () => {
  it('serves the other chain\'s whole segment, and counts the broken one', async () => {
    const res = await fetch(`${origin.url}/hls/7.ts`)
    expect(res.status).toBe(200)
    const body = new Uint8Array(await res.arrayBuffer())
    expect(body.length).toBe(BODY.length)
    expect(decodeCmsdDynamic(res.headers.get('cmsd-dynamic')!).at(-1)!.mqaSource).toBe('b')
    expect(a.gets()).toBe(1) // the decided chain was asked first
    expect(origin.status().upstreamErrors.a).toBeGreaterThanOrEqual(1)
    // The same bytes again, from memory: neither chain is asked a second time.
    const again = await fetch(`${origin.url}/hls/7.ts`)
    expect(new Uint8Array(await again.arrayBuffer()).length).toBe(BODY.length)
    expect([a.gets(), b.gets()]).toEqual([1, 1])
  })
})
