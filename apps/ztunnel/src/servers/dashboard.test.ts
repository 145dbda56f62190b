import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
// Importing the packages registers their metrics, so the check below is against what zt really exports.
import '@zt/core';
import '@zt/xds';
import { dnsMetrics } from '@zt/dns';
import { registry } from '@zt/metrics';

// The DNS proxy registers its metrics when the data plane builds it (in each worker, whose values
// the app aggregates): do here what that does.
dnsMetrics();

interface Target {
  refId: string;
  expr: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: { name: string; type: string; query: unknown }[] };
  panels: Panel[];
}

const file = new URL('../../../../deploy/dashboards/ztunnel.json', import.meta.url);
const dashboard = JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
const metrics = registry.getMetricsAsArray();
const exported = new Set(metrics.map((m) => m.name));
const histograms = new Set(metrics.filter((m) => String(m.type) === 'histogram').map((m) => m.name));

/** A histogram's series (`_bucket`, `_sum`, `_count`) read as the histogram it belongs to. */
function seriesOf(name: string): string {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && histograms.has(base) ? base : name;
}

/** Metric names an expression reads: bare selectors and `__name__=~"..."` regexes. */
function metricsIn(expr: string): string[] {
  const names = new Set<string>();
  for (const m of expr.matchAll(/\b((?:istio|zt)_[a-z0-9_]+)\s*\{/g)) names.add(seriesOf(m[1] ?? ''));
  for (const m of expr.matchAll(/__name__=~"([^"]+)"/g)) {
    const re = new RegExp(`^(?:${m[1]})$`);
    const hit = [...exported].filter((n) => re.test(n));
    assert.ok(hit.length > 0, `${m[1]} matches no exported metric`);
    for (const n of hit) names.add(n);
  }
  return [...names];
}

test('the dashboard is importable: a Prometheus datasource variable every panel and target uses', () => {
  assert.equal(typeof dashboard.uid, 'string');
  assert.ok(dashboard.schemaVersion >= 36);
  const ds = dashboard.templating.list.find((v) => v.name === 'datasource');
  assert.deepEqual([ds?.type, ds?.query], ['datasource', 'prometheus']);
  const ids = new Set<number>();
  for (const p of dashboard.panels) {
    assert.ok(!ids.has(p.id), `duplicate panel id ${p.id}`);
    ids.add(p.id);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
    assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, p.title);
    assert.ok(p.targets.length > 0, `${p.title} has no target`);
    for (const t of p.targets) assert.deepEqual(t.datasource, p.datasource);
    assert.ok(p.gridPos.w > 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the grid`);
  }
});

test('every expression reads metrics zt exports, and the required panels are there', () => {
  const byTitle = new Map<string, string[]>();
  for (const p of dashboard.panels) {
    const names = p.targets.flatMap((t) => metricsIn(t.expr));
    assert.ok(names.length > 0, `${p.title} reads no metric`);
    for (const n of names) assert.ok(exported.has(n), `${p.title}: ${n} is not exported by zt`);
    byTitle.set(p.title, names);
  }
  assert.deepEqual(byTitle.get('Build info'), ['istio_build']);
  assert.deepEqual(byTitle.get('Connections opened'), ['istio_tcp_connections_opened_total']);
  assert.deepEqual(byTitle.get('Connections closed'), ['istio_tcp_connections_closed_total']);
  assert.deepEqual(byTitle.get('Bytes by direction'), [
    'istio_tcp_sent_bytes_total',
    'istio_tcp_received_bytes_total',
  ]);
  assert.deepEqual(byTitle.get('Failed connections'), ['istio_tcp_connections_failed_total']);
  assert.deepEqual(byTitle.get('xDS messages'), ['istio_xds_message_total']);
  const dns = [...byTitle.values()].flat().filter((n) => n.startsWith('istio_dns_'));
  assert.deepEqual([...new Set(dns)].sort(), [
    'istio_dns_requests_total',
    'istio_dns_upstream_failures_total',
    'istio_dns_upstream_request_duration_seconds',
    'istio_dns_upstream_requests_total',
  ]);
  const bytes = dashboard.panels.find((p) => p.title === 'Bytes by direction');
  for (const t of bytes?.targets ?? []) assert.match(t.expr, /by \(reporter\)/, 'split by direction');
});
