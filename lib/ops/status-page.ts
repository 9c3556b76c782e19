/**
 * The status page at `/` on the admin server: one self-contained HTML document (no build step, no
 * CDN, works offline) that polls /api/overview every 2 s. With `admin.token` set, open it as
 * `/?token=…`; the token is sent as a bearer header, never put in other URLs.
 */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pushwake status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2125; background: #f6f7f9; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
  h2 { font-size: 1rem; margin: 1.5rem 0 .5rem; }
  .muted { color: #6b7280; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(28rem, 1fr)); gap: 1rem; }
  section { background: #fff; border: 1px solid #e3e6ea; border-radius: 6px; padding: .75rem 1rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .2rem .5rem .2rem 0; border-bottom: 1px solid #eef0f2; font-variant-numeric: tabular-nums; }
  th { font-weight: 600; color: #4b5563; }
  .bar { background: #3b82f6; height: .8rem; border-radius: 2px; }
  .state-parked { color: #b45309; } .state-ringing { color: #2563eb; } .state-answered { color: #047857; }
  #error { color: #b91c1c; }
</style>
</head>
<body>
<h1>pushwake</h1>
<div class="muted">refreshed every 2 s &middot; <span id="updated">loading…</span> <span id="error"></span></div>
<div class="grid">
  <section><h2>Calls now (parked and ringing)</h2><table id="calls"><thead><tr><th>state</th><th>user</th><th>caller</th><th>age</th><th>awaiting</th></tr></thead><tbody></tbody></table></section>
  <section><h2>Last calls</h2><table id="recent"><thead><tr><th>ended</th><th>user</th><th>ending</th><th>lasted</th></tr></thead><tbody></tbody></table></section>
  <section><h2>Wake latency (push sent &rarr; fresh REGISTER)</h2><table id="wake"><thead><tr><th>&le; s</th><th>woken</th><th></th></tr></thead><tbody></tbody></table></section>
  <section><h2>Push results</h2><table id="pushes"><thead><tr><th>result</th><th>reason</th><th>count</th></tr></thead><tbody></tbody></table></section>
  <section><h2>Devices whose pushes go unanswered</h2><table id="unanswered"><thead><tr><th>user</th><th>device</th><th>times</th><th>last</th></tr></thead><tbody></tbody></table></section>
</div>
<script>
  const token = new URLSearchParams(location.search).get('token');
  const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const rows = (id, items, cells, empty) => {
    const body = document.querySelector('#' + id + ' tbody');
    body.innerHTML = items.length ? items.map((i) => '<tr>' + cells(i).map((c) => '<td>' + c + '</td>').join('') + '</tr>').join('') : '<tr><td class="muted" colspan="5">' + empty + '</td></tr>';
  };
  const time = (ms) => new Date(ms).toLocaleTimeString();
  async function refresh() {
    try {
      const res = await fetch('/api/overview', { headers: token ? { Authorization: 'Bearer ' + token } : {} });
      if (!res.ok) throw new Error('HTTP ' + res.status + (res.status === 401 ? ' (open this page as /?token=…)' : ''));
      const o = await res.json();
      rows('calls', o.calls, (c) => ['<span class="state-' + esc(c.state) + '">' + esc(c.state) + '</span>', esc(c.aor), esc(c.caller), esc(c.ageSeconds) + ' s', esc((c.awaitedDevices || []).length)], 'no call parked or ringing');
      rows('recent', o.recentCalls, (c) => [time(c.endedAt), esc(c.aor), esc(c.ending), (c.durationMs / 1000).toFixed(1) + ' s'], 'no call yet');
      const buckets = o.wakeHistogram.filter((b) => b.le !== '+Inf');
      let previous = 0;
      const per = buckets.map((b) => { const n = b.count - previous; previous = b.count; return { le: b.le, n }; });
      const max = Math.max(1, ...per.map((b) => b.n));
      rows('wake', per, (b) => [esc(b.le), esc(b.n), '<div class="bar" style="width:' + Math.round((b.n / max) * 200) + 'px"></div>'], 'no wake yet');
      rows('pushes', o.pushResults.filter((p) => p.count > 0), (p) => [esc(p.result), esc(p.reason), esc(p.count)], 'no push yet');
      rows('unanswered', o.unansweredDevices, (d) => [esc(d.aor), esc(d.deviceKey), esc(d.count), time(d.lastAt)], 'none');
      document.getElementById('updated').textContent = 'updated ' + time(o.now);
      document.getElementById('error').textContent = '';
    } catch (err) {
      document.getElementById('error').textContent = 'cannot load: ' + err.message;
    }
  }
  refresh();
  setInterval(refresh, 2000);
</script>
</body>
</html>
`;
