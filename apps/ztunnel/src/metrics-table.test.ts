// The README's Metrics table is the contract: every metric upstream ztunnel exposes is a row, a row
// that says "yes" is served by the app, a row that says "no" is not.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { startZtunnel } from './app.ts';
import { loadConfig } from './config.ts';

// Upstream's exposed names (src/metrics/*.rs, src/proxy/metrics.rs, src/xds/metrics.rs,
// src/dns/metrics.rs, src/inpod/metrics.rs; prometheus_client adds `_total` to counters and the unit).
const UPSTREAM = [
  'istio_build',
  'istio_tcp_connections_opened_total',
  'istio_tcp_connections_closed_total',
  'istio_tcp_connections_failed_total',
  'istio_tcp_received_bytes_total',
  'istio_tcp_sent_bytes_total',
  'istio_tcp_sockets_open',
  'istio_on_demand_dns_total',
  'istio_crl_policy_rejections_total',
  'istio_crl_untracked_connections_total',
  'istio_xds_connection_terminations_total',
  'istio_xds_message_total',
  'istio_xds_message_bytes_total',
  'istio_dns_requests_total',
  'istio_dns_upstream_requests_total',
  'istio_dns_upstream_failures_total',
  'istio_dns_upstream_request_duration_seconds',
  'workload_manager_active_proxy_count',
  'workload_manager_pending_proxy_count',
  'workload_manager_proxies_started_total',
  'workload_manager_proxies_stopped_total',
  'process_open_fds',
  'process_max_fds',
  'tokio_num_workers',
  'tokio_global_queue_depth',
  'tokio_num_alive_tasks',
  'tokio_worker_total_busy_duration_seconds',
  'tokio_worker_park_count',
  'tokio_worker_park_unpark_count',
];

interface Row {
  metric: string;
  present: boolean;
  /** Present only once a part that is not always on serves (the DNS proxy). */
  conditional: boolean;
}

function readmeRows(): Row[] {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.split('\n## Metrics\n')[1]?.split('\n## ')[0] ?? '';
  const rows: Row[] = [];
  for (const line of section.split('\n')) {
    const m = /^\| `([a-z_]+)` +\| [a-z]+ +\| (.*)\|$/.exec(line);
    if (!m) continue;
    const status = (m[2] as string).trim();
    rows.push({
      metric: m[1] as string,
      present: status.startsWith('yes'),
      conditional: /once the/.test(status),
    });
  }
  return rows;
}

test("the README's Metrics table lists every upstream metric, once", () => {
  const rows = readmeRows();
  assert.deepEqual(rows.map((r) => r.metric).sort(), [...UPSTREAM].sort());
});

test('the app serves what the table says it has, and nothing it says it lacks; istio_build as upstream', async (t) => {
  const zt = await startZtunnel(
    loadConfig({
      LOCAL_XDS: 'workloads: []\n',
      FAKE_CA: 'true',
      NODE_NAME: 'node-m',
      ISTIO_META_ISTIO_VERSION: '1.28.2',
      ZTUNNEL_WORKER_THREADS: '0',
      ZT_BIND_ADDRESS: '127.0.62.1',
      ZT_ADMIN_PORT: '0',
      ZT_STATS_PORT: '0',
      ZT_READINESS_PORT: '0',
      ZT_OUTBOUND_PORT: '0',
      ZT_INBOUND_PORT: '0',
      ZT_INBOUND_PLAINTEXT_PORT: '0',
      RUST_LOG: 'error',
    }),
  );
  t.after(() => zt.shutdown('test over'));
  const { host, port } = zt.servers.metrics;
  const text = await (await fetch(`http://${host}:${port}/metrics`)).text();
  const served = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  for (const row of readmeRows()) {
    if (row.conditional) continue;
    assert.equal(
      served.has(row.metric),
      row.present,
      `${row.metric}: the README says ${row.present ? 'yes' : 'no'}`,
    );
  }
  assert.match(
    text,
    /^istio_build\{component="ztunnel",tag="1\.28\.2"\} 1$/m,
    'the Istio version, not zt version',
  );
  assert.match(text, /^process_open_fds \d+$/m);
  assert.match(text, /^process_max_fds (\d+|\+Inf)$/m);
});
