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
