/** The demo's live status page: one tile per node, the origin's choice, and an hls.js player of the origin. */
export function statusPageHtml(nodes: { name: string; url: string; kind: 'packager' | 'origin' }[], playerUrl: string, threshold: number): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mqa A/B demo</title>
<style>
 body{font:14px system-ui,sans-serif;margin:16px;background:#111;color:#eee}
 .tiles{display:flex;gap:12px;flex-wrap:wrap}
 .tile{border-radius:8px;padding:12px 16px;min-width:200px;background:#264d26}
 .tile.bad{background:#7a1f1f}.tile.down{background:#555}
 .tile h2{margin:0 0 6px;font-size:16px}.big{font-size:32px;font-weight:700}
 video{margin-top:16px;width:640px;max-width:100%;background:#000}
 #log{font:12px monospace;white-space:pre;margin-top:12px}
</style></head><body>
<h1>mqa: quality-aware A/B origin</h1>
<div class="tiles" id="tiles"></div>
<video id="player" muted autoplay playsinline controls></video>
<div id="log"></div>
<script src="/hls.js"></script>
<script>
const NODES = ${JSON.stringify(nodes)};
const THRESHOLD = ${threshold};
const tiles = document.getElementById('tiles');
for (const n of NODES) {
  const d = document.createElement('div'); d.className = 'tile'; d.id = 'tile-' + n.name;
  d.innerHTML = '<h2>' + n.name + '</h2><div class="big">-</div><div class="detail">waiting</div>';
  tiles.appendChild(d);
}
async function poll() {
  for (const n of NODES) {
    const t = document.getElementById('tile-' + n.name);
    try {
      const s = await (await fetch(n.url + '/api/status', { cache: 'no-store' })).json();
      if (n.kind === 'packager') {
        const w = s.window[s.window.length - 1];
        if (!w) { t.querySelector('.detail').textContent = 'no segment yet'; continue; }
        t.className = 'tile' + (w.mqa !== undefined && w.mqa < THRESHOLD ? ' bad' : '');
        t.dataset.mqa = String(w.mqa);
        t.querySelector('.big').textContent = 'MQA ' + (w.mqa ?? '-');
        t.querySelector('.detail').textContent = 'segment ' + w.number + ' · PSNR ' + (w.psnr ?? 0).toFixed(2) + ' dB · SSIM ' + (w.ssim ?? 0).toFixed(2) + ' · errors ' + w.errors + ' · min ' + w.min;
      } else {
        t.dataset.serving = s.serving;
        t.querySelector('.big').textContent = 'serving ' + s.serving.toUpperCase();
        const last = s.decisions[s.decisions.length - 1];
        t.querySelector('.detail').textContent = 'switches ' + s.switches + (last ? ' · segment ' + last.segment + ' A ' + last.scores.a + ' / B ' + last.scores.b + ' (' + last.reason + ')' : '');
        document.getElementById('log').textContent = s.decisions.slice(-8).map((d) => d.segment + ' → ' + d.chain + ' (' + d.reason + ') A=' + d.scores.a + ' B=' + d.scores.b).join('\\n');
      }
    } catch (e) {
      t.className = 'tile down'; t.querySelector('.detail').textContent = 'unreachable';
    }
  }
}
setInterval(poll, 1000); poll();
// The player starts once the origin has a playlist (the page may be open before the chain has
// cut its first segments), and starts again after a fatal error rather than staying black.
const video = document.getElementById('player');
const PLAYLIST = ${JSON.stringify(playerUrl)};
async function startPlayer() {
  if (!(window.Hls && Hls.isSupported())) return;
  try {
    const origin = NODES.find((n) => n.kind === 'origin');
    const s = await (await fetch(origin.url + '/api/status', { cache: 'no-store' })).json();
    if (!s.decisions.length) throw new Error('no segment decided yet');
  } catch (e) { setTimeout(startPlayer, 1000); return; }
  const hls = new Hls({ liveSyncDurationCount: 3 });
  hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) { hls.destroy(); window.hls = undefined; setTimeout(startPlayer, 2000); } });
  hls.loadSource(PLAYLIST); hls.attachMedia(video); window.hls = hls;
}
startPlayer();
</script></body></html>`
}
