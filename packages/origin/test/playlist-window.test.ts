import { describe, expect, it } from 'vitest'
import { PlaylistContinuity, limitPlaylist } from '../src/playlist-window.js'

/** A live window as the packager writes it (see packages/packager/test/playlist.test.ts's goldens). */
const TS = `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:100
#EXT-X-PROGRAM-DATE-TIME:2026-12-01T10:00:00.000Z
#EXTINF:2.000,
100.ts
#EXT-X-PROGRAM-DATE-TIME:2026-12-01T10:00:02.000Z
#EXTINF:2.000,
101.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-12-01T10:00:04.000Z
#EXTINF:2.000,
102.ts
`

describe('limitPlaylist', () => {
  it('cuts the playlist after the newest decided segment, with the tags of the cut ones', () => {
    expect(limitPlaylist(TS, 101)).toBe(TS.slice(0, TS.indexOf('101.ts') + '101.ts'.length + 1))
    expect(limitPlaylist(TS, 100)).toBe(TS.slice(0, TS.indexOf('100.ts') + '100.ts'.length + 1))
  })

  it('passes it on unchanged when everything listed is decided, or nothing is (start-up)', () => {
    expect(limitPlaylist(TS, 102)).toBe(TS)
    expect(limitPlaylist(TS, 500)).toBe(TS)
    expect(limitPlaylist(TS, 99)).toBe(TS)
    expect(limitPlaylist(TS, -1)).toBe(TS)
  })

  it('reads CMAF URIs (../cmaf/<n>.m4s) and an ended playlist', () => {
    const cmaf = `#EXTM3U\n#EXT-X-MAP:URI="../cmaf/init.mp4"\n#EXTINF:2.000,\n../cmaf/7.m4s\n#EXTINF:2.000,\n../cmaf/8.m4s\n#EXT-X-ENDLIST\n`
    expect(limitPlaylist(cmaf, 7)).toBe(`#EXTM3U\n#EXT-X-MAP:URI="../cmaf/init.mp4"\n#EXTINF:2.000,\n../cmaf/7.m4s\n`)
    expect(limitPlaylist(cmaf, 8)).toBe(cmaf)
  })
})

/** A live window of segments `first`.., the packager's way: `tagged` get EXT-X-DISCONTINUITY, `sequence` counts those gone. */
function windowOf(first: number, count: number, tagged: readonly number[] = [], sequence = 0): string {
  const head = `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:${first}\n${sequence > 0 ? `#EXT-X-DISCONTINUITY-SEQUENCE:${sequence}\n` : ''}`
  const segments = Array.from({ length: count }, (_, k) => first + k).map((n) => `${tagged.includes(n) ? '#EXT-X-DISCONTINUITY\n' : ''}#EXTINF:2.000,\n${n}.ts\n`)
  return head + segments.join('')
}

describe('PlaylistContinuity', () => {
  it('passes on a playlist consistent with what it served before, discontinuities and sequence included', () => {
    const c = new PlaylistContinuity()
    for (const text of [windowOf(100, 5), windowOf(101, 5, [105]), windowOf(105, 5, [105]), windowOf(106, 5, [], 1)]) {
      expect(c.rewrite(text)).toBe(text)
    }
    expect(new PlaylistContinuity().rewrite(TS)).toBe(TS)
  })

  it('keeps one numbering when it serves the other chain: A’s discontinuity of its rain fade is not B’s, and neither changes under the player', () => {
    const c = new PlaylistContinuity()
    // B is served through the fade: no discontinuity.
    expect(c.rewrite(windowOf(100, 5))).toBe(windowOf(100, 5))
    expect(c.rewrite(windowOf(101, 5))).toBe(windowOf(101, 5))
    // Back to A: its playlist marks a discontinuity at 103 (a gap in A) and, later, counts it gone;
    // what is served keeps B's numbering for segments already listed.
    expect(c.rewrite(windowOf(102, 5, [103]))).toBe(windowOf(102, 5))
    expect(c.rewrite(windowOf(104, 5, [], 1))).toBe(windowOf(104, 5))
    // A discontinuity first listed from A (109, a new segment) is kept, whichever chain lists it
    // next, and counted once it has left the window.
    expect(c.rewrite(windowOf(105, 5, [109], 1))).toBe(windowOf(105, 5, [109]))
    expect(c.rewrite(windowOf(106, 5))).toBe(windowOf(106, 5, [109]))
    expect(c.rewrite(windowOf(109, 5))).toBe(windowOf(109, 5, [109]))
    expect(c.rewrite(windowOf(110, 5))).toBe(windowOf(110, 5, [], 1))
  })

  it('puts a discontinuity before the first segment’s own tags, after the playlist’s (CMAF: after nothing but the header)', () => {
    const c = new PlaylistContinuity()
    const cmaf = (tagged: boolean) => `#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-INDEPENDENT-SEGMENTS\n${tagged ? '#EXT-X-DISCONTINUITY\n' : ''}#EXT-X-MAP:URI="../cmaf/init.mp4"\n#EXT-X-PROGRAM-DATE-TIME:2026-12-01T10:00:00.000Z\n#EXTINF:2.000,\n../cmaf/7.m4s\n`
    expect(c.rewrite(cmaf(true))).toBe(cmaf(true))
    // The same segment listed again without the tag (the other chain): the first listing wins.
    expect(c.rewrite(cmaf(false))).toBe(cmaf(true))
  })

  it('leaves a playlist with no segments as it is', () => {
    const text = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n'
    expect(new PlaylistContinuity().rewrite(text)).toBe(text)
  })
})
