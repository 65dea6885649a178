import HLS from 'hls-parser'
import { type CmsdDynamicEntry, type CmsdStatic, decodeCmsdDynamic, decodeCmsdStatic } from '@mqa/common'

export interface InspectedSegment {
  readonly uri: string
  readonly status: number
  readonly cmsdStatic?: CmsdStatic | undefined
  readonly cmsdDynamic?: CmsdDynamicEntry[] | undefined
  readonly error?: string | undefined
}

/** `mqa inspect <playlist URL>`: the decoded CMSD of every segment of an HLS media playlist (HEAD requests). */
export async function inspectPlaylistUrl(url: string, options: { timeoutMs?: number } = {}): Promise<{ mediaSequence: number; segments: InspectedSegment[] }> {
  const timeout = options.timeoutMs ?? 5000
  let res: Response
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeout) })
  } catch (err) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, a timeout, DNS) is in its cause.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause
    throw new InspectError(`cannot GET ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, { cause: err })
  }
  if (!res.ok) throw new InspectError(`GET ${url} answered ${res.status}`)
  const text = await res.text()
  // Checked before hls-parser, which would print its own "Invalid Playlist" lines first.
  if ((res.headers.get('content-type') ?? '').includes('dash+xml') || /^\s*(<\?xml[^>]*>\s*)?<MPD[\s>]/.test(text)) {
    throw new InspectError(`${url} is a DASH MPD: mqa inspect reads HLS media playlists only (the packager's /hls/cmaf.m3u8 lists the same CMAF segments)`)
  }
  let playlist: HLS.types.Playlist
  try {
    playlist = HLS.parse(text)
  } catch (err) {
    throw new InspectError(`${url} is not an HLS playlist: ${(err as Error).message}`)
  }
  if (playlist.isMasterPlaylist) throw new InspectError(`${url} is a multivariant playlist: give a media playlist`)
  const media = playlist as HLS.types.MediaPlaylist
  const segments: InspectedSegment[] = []
  for (const seg of media.segments) {
    const segUrl = new URL(seg.uri, url).href
    try {
      const r = await fetch(segUrl, { method: 'HEAD', signal: AbortSignal.timeout(timeout) })
      const s = r.headers.get('cmsd-static')
      const d = r.headers.get('cmsd-dynamic')
      let error: string | undefined
      let cmsdStatic: CmsdStatic | undefined
      let cmsdDynamic: CmsdDynamicEntry[] | undefined
      try {
        cmsdStatic = s ? decodeCmsdStatic(s) : undefined
        cmsdDynamic = d ? decodeCmsdDynamic(d) : undefined
      } catch (err) {
        error = (err as Error).message
      }
      segments.push({ uri: seg.uri, status: r.status, cmsdStatic, cmsdDynamic, error })
    } catch (err) {
      segments.push({ uri: seg.uri, status: 0, error: (err as Error).message })
    }
  }
  return { mediaSequence: media.mediaSequenceBase ?? 0, segments }
}

export class InspectError extends Error {
  readonly code = 'ERR_INSPECT'
}
