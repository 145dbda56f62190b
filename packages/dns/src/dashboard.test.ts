// The DNS panels of deploy/dashboards/ztunnel.json read metrics this package exports, under the
// names a Prometheus scrape shows (a histogram's series end in _bucket / _sum / _count).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { registry } from '@zt/metrics';
import { parseExposition } from '@zt/metrics/testing';
import { dnsMetrics } from './metrics.ts';

interface Panel {
  id: number;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets: Array<{ expr: string }>;
}

const file = new URL('../../../deploy/dashboards/ztunnel.json', import.meta.url);
const dashboard = JSON.parse(readFileSync(file, 'utf8')) as { panels: Panel[] };

test('the DNS panels read the DNS metrics zt exports', async () => {
  const m = dnsMetrics();
  // One observation each, so every series (buckets included) appears in the scrape.
  const labels = {
    request_query_type: 'a',
    request_protocol: 'udp',
    source_canonical_service: 'x',
    source_canonical_revision: 'y',
  };
  m.requests.inc(labels, 0);
  m.upstreamRequests.inc(labels, 0);
  m.upstreamFailures.inc(labels, 0);
  m.upstreamDuration.observe(labels, 0.001);
  m.rejected.inc({ reason: 'truncated' }, 0);
  const scraped = new Set(parseExposition(await registry.metrics()).samples.map((s) => s.name));
  const dns = dashboard.panels.filter((p) => p.title.startsWith('DNS '));
  const read = new Map<string, string[]>();
  for (const p of dns) {
    const names = p.targets.flatMap((t) =>
      [...t.expr.matchAll(/\b((?:istio|zt)_dns_[a-z0-9_]+)\s*\{/g)].map((x) => x[1] ?? ''),
    );
    for (const n of names) assert.ok(scraped.has(n), `${p.title}: ${n} is not in a scrape`);
    read.set(p.title, names);
  }
  assert.deepEqual(read.get('DNS requests'), ['istio_dns_requests_total']);
  assert.deepEqual(read.get('DNS forwarded and failed'), [
    'istio_dns_upstream_requests_total',
    'istio_dns_upstream_failures_total',
  ]);
  assert.deepEqual(read.get('DNS upstream latency'), [
    'istio_dns_upstream_request_duration_seconds_bucket',
    'istio_dns_upstream_request_duration_seconds_bucket',
  ]);
  assert.deepEqual(read.get('DNS messages rejected'), ['zt_dns_rejected_total']);
  // Below the existing panels, not over them.
  const others = dashboard.panels.filter((p) => !p.title.startsWith('DNS '));
  const bottom = Math.max(...others.map((p) => p.gridPos.y + p.gridPos.h));
  for (const p of dns) assert.ok(p.gridPos.y >= bottom, `${p.title} overlaps`);
});
