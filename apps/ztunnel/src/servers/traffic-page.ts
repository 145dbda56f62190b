// The admin page's traffic sections: filters, recent denials, a summary per identity pair, and the
// recently closed connections. dashboard.js polls `connections?recent=1` with the filters (see
// `query()`) and hands each answer to `render()`. Values are written with textContent only.

import { CONNECTION_CELLS_JS, FORMAT_BYTES_JS } from './page-format.ts';

/** The filters, above every table of the page. */
export const TRAFFIC_FILTERS_HTML = `<p id="filters">
<label>namespace <input id="f-namespace" size="16" placeholder="any" autocomplete="off"></label>
<label>identity <input id="f-identity" size="40" placeholder="any (part of a SPIFFE id)" autocomplete="off"></label>
</p>
`;

/** The tables of closed connections, below the live ones. */
export const TRAFFIC_SECTIONS_HTML = `<h2>Recent denials <span id="denials-count" class="muted"></span></h2>
<table id="denials">
<thead><tr>
<th>ended</th><th>source identity</th><th>source</th><th>destination</th><th>denied by</th>
</tr></thead>
<tbody></tbody>
</table>
<h2>Identity pairs <span id="pairs-window" class="muted"></span></h2>
<table id="pairs">
<thead><tr>
<th>direction</th><th>source</th><th>destination</th><th>connections</th><th>bytes</th><th>denials</th><th>p99 duration</th>
</tr></thead>
<tbody></tbody>
</table>
<h2>Recently closed <span id="recent-count" class="muted"></span></h2>
<table id="recent">
<thead><tr>
<th>ended</th><th>direction</th><th>source identity</th><th>source</th><th>destination identity</th><th>destination</th>
<th>sent</th><th>received</th><th>duration</th><th>flag</th><th>verdict</th>
</tr></thead>
<tbody></tbody>
</table>
`;

/** Browser code, served as /traffic.js before dashboard.js. Plain ES2017, no imports. */
export const TRAFFIC_PAGE_SCRIPT = `'use strict';
(function () {
  var ns = document.getElementById('f-namespace');
  var id = document.getElementById('f-identity');

  ${FORMAT_BYTES_JS}
  function duration(ms) {
    if (ms < 1000) return ms + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    return Math.floor(ms / 60000) + 'm' + Math.floor((ms % 60000) / 1000) + 's';
  }
  function ago(now, t) {
    var s = Math.max(0, Math.round((now - t) / 1000));
    return s < 60 ? s + 's ago' : Math.floor(s / 60) + 'm' + (s % 60) + 's ago';
  }
  ${CONNECTION_CELLS_JS}
  function fill(tbody, rows, columns, empty) {
    if (rows.length === 0) {
      var tr = document.createElement('tr');
      tr.className = 'empty';
      var td = document.createElement('td');
      td.colSpan = columns;
      td.className = 'muted';
      td.textContent = empty;
      tr.appendChild(td);
      rows = [tr];
    }
    tbody.replaceChildren.apply(tbody, rows);
  }

  function renderDenials(view) {
    var rows = view.denials.map(function (c) {
      var tr = document.createElement('tr');
      tr.className = 'deny';
      tr.setAttribute('data-id', String(c.id));
      cell(tr, ago(view.now, c.endedAt));
      cell(tr, c.src.identity || '-');
      cell(tr, peer(c.src), 'src');
      cell(tr, peer(c.dst), 'dst');
      cell(tr, c.why, 'why');
      return tr;
    });
    fill(document.querySelector('#denials tbody'), rows, 5, 'no denials remembered');
    document.getElementById('denials-count').textContent = '(' + view.denials.length + ')';
  }
  function renderPairs(view) {
    var rows = view.pairs.map(function (p) {
      var tr = document.createElement('tr');
      if (p.denials > 0) tr.className = 'deny';
      cell(tr, p.direction);
      cell(tr, p.source);
      cell(tr, p.destination);
      cell(tr, String(p.connections), 'num');
      cell(tr, bytes(p.bytes), 'num');
      cell(tr, String(p.denials), 'num');
      cell(tr, duration(p.p99DurationMs), 'num');
      return tr;
    });
    fill(document.querySelector('#pairs tbody'), rows, 7, 'no closed connection in the window');
    document.getElementById('pairs-window').textContent =
      '(closed in the last ' + Math.round(view.windowMs / 60000) + ' min, among those remembered)';
  }
  function renderRecent(view) {
    var rows = view.recent.map(function (c) {
      var tr = connectionRow(c);
      cell(tr, ago(view.now, c.endedAt));
      cell(tr, c.direction);
      endpointCells(tr, c);
      cell(tr, duration(Math.max(0, c.endedAt - c.startedAt)), 'num');
      cell(tr, c.responseFlag, 'flag');
      cell(tr, c.verdict + (c.policy ? ' (' + c.policy + ')' : ''), 'verdict');
      return tr;
    });
    fill(document.querySelector('#recent tbody'), rows, 11, 'no closed connection remembered');
    document.getElementById('recent-count').textContent =
      '(' + view.recent.length + ', up to ' + view.capacity + ')';
  }

  window.ztTraffic = {
    /** The query string dashboard.js polls with: the traffic view and the filters. */
    query: function () {
      var q = '?recent=1';
      if (ns.value.trim()) q += '&namespace=' + encodeURIComponent(ns.value.trim());
      if (id.value.trim()) q += '&identity=' + encodeURIComponent(id.value.trim());
      return q;
    },
    render: function (view) {
      if (!view.recent) return;
      renderDenials(view);
      renderPairs(view);
      renderRecent(view);
    },
  };
})();
`;
