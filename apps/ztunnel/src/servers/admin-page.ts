// The admin home page. Static HTML lists the endpoints; the script polls `/connections` every second
// and renders each connection with textContent only, so no value from the data plane is ever parsed
// as HTML. The CSP below forbids inline script, so even a missed escape could not run code.
// The closed connections, denials and filters are traffic-page.ts's, fed by the same poll.
import { CONNECTION_CELLS_JS, FORMAT_BYTES_JS } from './page-format.ts';
import { TRAFFIC_FILTERS_HTML, TRAFFIC_SECTIONS_HTML } from './traffic-page.ts';

export const ADMIN_PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'";

const ENDPOINTS: readonly (readonly [string, string])[] = [
  ['quitquitquit', 'shut down the server (POST)'],
  ['config_dump', 'dump the current ztunnel configuration'],
  ['logging', 'query (GET or POST) or change (POST ?level=) logging levels'],
  ['connections', 'the live connections as JSON'],
  ['connections?recent=1', 'the live and recently closed connections, denials and identity pairs as JSON'],
  ['status', "zt's process, listeners, xDS and in-pod state as JSON (what zt doctor reads)"],
  [
    'debug/cpuprofile',
    'V8 CPU profiles; params: seconds (1-300, default 10), thread (all, main or a worker)',
  ],
  ['debug/heapsnapshot', 'a V8 heap snapshot; param: thread (main or a worker index)'],
];

export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

export function adminPageHtml(): string {
  const rows = ENDPOINTS.map(
    ([path, what]) =>
      `<tr><td><a href="${escapeHtml(path)}">${escapeHtml(path)}</a></td><td>${escapeHtml(what)}</td></tr>`,
  ).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>zt admin</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { text-align: left; padding: 0.25em 0.75em; border-bottom: 1px solid #ddd; font-size: 0.9em; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.deny td { background: #fde8e8; }
.muted { color: #777; }
#status { font-size: 0.8em; }
</style>
</head>
<body>
<h1>zt admin</h1>
${TRAFFIC_FILTERS_HTML}<h2>Live connections <span id="count" class="muted"></span></h2>
<p id="status" class="muted">loading&hellip;</p>
<table id="connections">
<thead><tr>
<th>direction</th><th>protocol</th><th>source identity</th><th>source</th>
<th>destination identity</th><th>destination</th><th>sent</th><th>received</th><th>age</th><th>verdict</th>
</tr></thead>
<tbody></tbody>
</table>
${TRAFFIC_SECTIONS_HTML}<h2>Endpoints</h2>
<table>
<thead><tr><th>path</th><th>what</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<script src="traffic.js"></script>
<script src="dashboard.js"></script>
</body>
</html>
`;
}

/** Browser code, served as /dashboard.js. Plain ES2017, no imports. */
export const ADMIN_PAGE_SCRIPT = `'use strict';
(function () {
  var tbody = document.querySelector('#connections tbody');
  var status = document.getElementById('status');
  var count = document.getElementById('count');

  ${FORMAT_BYTES_JS}
  function age(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm' + (s % 60) + 's';
    return Math.floor(s / 3600) + 'h' + Math.floor((s % 3600) / 60) + 'm';
  }
  ${CONNECTION_CELLS_JS}
  function render(view) {
    var rows = [];
    view.connections.forEach(function (c) {
      var tr = connectionRow(c);
      cell(tr, c.direction);
      cell(tr, c.protocol);
      endpointCells(tr, c);
      cell(tr, age(view.now - c.startedAt), 'num');
      cell(tr, c.verdict + (c.policy ? ' (' + c.policy + ')' : ''), 'verdict');
      rows.push(tr);
    });
    if (rows.length === 0) {
      var tr = document.createElement('tr');
      tr.className = 'empty';
      var td = document.createElement('td');
      td.colSpan = 10;
      td.className = 'muted';
      td.textContent = 'no live connections';
      tr.appendChild(td);
      rows.push(tr);
    }
    tbody.replaceChildren.apply(tbody, rows);
    count.textContent = '(' + view.connections.length + ')';
    status.textContent = 'updated ' + new Date(view.now).toLocaleTimeString();
    if (window.ztTraffic) window.ztTraffic.render(view);
  }
  function poll() {
    fetch('connections' + (window.ztTraffic ? window.ztTraffic.query() : ''), { cache: 'no-store' })
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      })
      .then(render)
      .catch(function (e) {
        status.textContent = 'update failed: ' + e.message;
      })
      .then(function () {
        setTimeout(poll, 1000);
      });
  }
  poll();
})();
`;
