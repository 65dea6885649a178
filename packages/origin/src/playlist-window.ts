/**
 * The origin's media playlists list only segments it has decided (pure, on the playlist text).
 *
 * A player asks for what the playlist lists, as soon as it is listed. The playlist comes from the
 * chain being served, which may list segment n a moment before the other chain does; a player that
 * asked for n then would force a decision with the other chain read as "not there" (a failover, or
 * a reset of the switch-back count) instead of a decision on both chains' scores. So the origin
 * cuts the playlist after the newest segment it has decided: everything it lists is decided, and
 * the player sees segment n once both chains have it (or one of them is gone).
 *
 * Segment URIs end in `<n>.ts` or `<n>.m4s` (WIRE-FORMAT.md §4: n is the number on the grid).
 * A playlist none of whose segments is decided yet (start-up), or all of whose are, is passed on
 * unchanged.
 */
const SEGMENT_URI = /(?:^|\/)(\d{1,15})\.(?:ts|m4s)(?:\?.*)?$/

export function limitPlaylist(text: string, newestDecided: number): string {
  const lines = text.split('\n')
  let lastKept = -1
  let cut = false
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === '' || line.startsWith('#')) continue
    const m = SEGMENT_URI.exec(line)
    if (!m) continue
    if (Number(m[1]) <= newestDecided) lastKept = i
    else cut = true
  }
  // Nothing decided listed yet (start-up), or nothing undecided listed: pass it on as it is.
  if (lastKept < 0 || !cut) return text
  return `${lines.slice(0, lastKept + 1).join('\n')}\n`
}

const DISCONTINUITY = '#EXT-X-DISCONTINUITY'
const DISCONTINUITY_SEQUENCE = /^#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)$/
const MEDIA_SEQUENCE = /^#EXT-X-MEDIA-SEQUENCE:/
/** Tags that belong to the segment after them (a discontinuity goes before them), not to the playlist. */
const SEGMENT_TAG = /^#(EXTINF|EXT-X-(PROGRAM-DATE-TIME|MAP|KEY|BYTERANGE|GAP|PART|DATERANGE|BITRATE|CUE[A-Z-]*))(:|$)/

/** A segment as the origin first listed it: whether EXT-X-DISCONTINUITY went before it, and the discontinuities up to and including it. */
interface Listed {
  readonly tag: boolean
  readonly count: number
}

/**
 * One numbering of discontinuities for a media playlist the origin serves from either chain.
 *
 * Each packager counts its own discontinuities (EXT-X-DISCONTINUITY, and
 * EXT-X-DISCONTINUITY-SEQUENCE for those that left its window): chain A's rain fade leaves gaps
 * that mark discontinuities in A's playlist and none in B's. Served as they come, the playlist
 * changed its discontinuity sequence under the player when the origin switched chains (A's
 * `:1` where B's had none, for the same segments), and hls.js loaded a segment again. So the first
 * listing of a segment decides: whether a discontinuity goes before it, and how many there have
 * been up to it, are kept from the playlist that first listed it, whichever chain later lists it
 * again; the tags and the sequence number of every playlist served are rewritten from that (RFC
 * 8216 §6.2.2: the sequence counts the tags that have left the window). A playlist consistent with
 * what was served before passes unchanged.
 */
export class PlaylistContinuity {
  readonly #listed = new Map<number, Listed>()

  rewrite(text: string): string {
    const lines = text.split('\n')
    let upstreamSequence = 0
    let pending = false
    const segments: { index: number; n: number; tag: boolean }[] = []
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim()
      const ds = DISCONTINUITY_SEQUENCE.exec(line)
      if (ds) upstreamSequence = Number(ds[1])
      else if (line === DISCONTINUITY) pending = true
      else if (line !== '' && !line.startsWith('#')) {
        const m = SEGMENT_URI.exec(line)
        if (m) segments.push({ index: i, n: Number(m[1]), tag: pending })
        pending = false
      }
    }
    if (segments.length === 0) return text

    let previous: Listed | undefined
    const ours = segments.map((s) => {
      let l = this.#listed.get(s.n)
      if (!l) {
        const before = previous ?? this.#below(s.n)
        l = { tag: s.tag, count: (before ? before.count : upstreamSequence) + (s.tag ? 1 : 0) }
        this.#listed.set(s.n, l)
      }
      previous = l
      return l
    })
    const first = segments[0]!.n
    for (const n of this.#listed.keys()) if (n < first - 1000) this.#listed.delete(n)

    const sequence = ours[0]!.count - (ours[0]!.tag ? 1 : 0)
    const tagBefore = new Map(segments.map((s, k) => [s.index, ours[k]!.tag]))
    const out: string[] = []
    // Where the tags of the next segment begin in `out`: after the previous URI, or for the first
    // segment after the playlist's own tags.
    let blockStart = 0
    let inSegments = false
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim()
      if (line === DISCONTINUITY || DISCONTINUITY_SEQUENCE.test(line)) continue
      const tag = tagBefore.get(i)
      if (tag !== undefined) {
        if (tag) out.splice(blockStart, 0, DISCONTINUITY)
        out.push(lines[i]!)
        blockStart = out.length
        inSegments = true
        continue
      }
      out.push(lines[i]!)
      if (MEDIA_SEQUENCE.test(line) && sequence > 0) out.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${sequence}`)
      if (!inSegments && line.startsWith('#') && !SEGMENT_TAG.test(line)) blockStart = out.length
    }
    return out.join('\n')
  }

  /** The segment listed last below n (a playlist whose first segment is new to us). */
  #below(n: number): Listed | undefined {
    let best = -1
    for (const k of this.#listed.keys()) if (k < n && k > best) best = k
    return best < 0 ? undefined : this.#listed.get(best)
  }
}
