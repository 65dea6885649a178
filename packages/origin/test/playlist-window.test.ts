import { describe, expect, it } from 'vitest'
import { limitPlaylist } from '../src/playlist-window.js'

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
