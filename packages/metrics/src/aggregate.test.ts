import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { parseExposition, sampleValue } from '@zt/metrics/testing';
import { Registry } from 'prom-client';
import {
  aggregateRegistries,
  type MetricsSnapshot,
  recordBuildInfo,
  registry,
  tcpConnectionsOpened,
  tcpSentBytes,
  trafficLabels,
  WorkerMetrics,
} from './index.ts';

function runWorker(workload: string, connections: number, bytes: number): Promise<MetricsSnapshot> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./testing/record-worker.ts', import.meta.url), {
      workerData: { workload, connections, bytes },
    });
    w.once('message', (m: MetricsSnapshot) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

test('the main thread serves main + worker values summed from two real worker threads', async () => {
  const [a, b] = await Promise.all([runWorker('sleep', 3, 1000), runWorker('sleep', 4, 500)]);
  const main = new Registry();
  const text = await aggregateRegistries(main, [a, b]);
  const exp = parseExposition(text);
  const labels = trafficLabels({ reporter: 'source', source_workload: 'sleep' });
  assert.equal(sampleValue(exp, 'istio_tcp_connections_opened_total', labels), 7);
  assert.equal(sampleValue(exp, 'istio_tcp_sent_bytes_total', labels), 1500);
  assert.equal(
    sampleValue(exp, 'istio_build', { component: 'ztunnel', tag: '1.0.0-test' }),
    1,
    'max, not sum',
  );
  assert.equal(exp.types.get('istio_tcp_connections_opened_total'), 'counter');
});

test('main-thread values join the workers; a retired worker keeps its counters, not its gauges', async () => {
  const labels = trafficLabels({ reporter: 'destination', destination_workload: 'httpbin' });
  tcpConnectionsOpened.inc(labels, 2);
  recordBuildInfo('1.0.0-test');
  const [a, b] = await Promise.all([runWorker('main-join', 1, 10), runWorker('main-join', 2, 20)]);
  const workers = new WorkerMetrics();
  workers.update(1, a);
  workers.update(2, b);
  const wl = trafficLabels({ reporter: 'source', source_workload: 'main-join' });
  let exp = parseExposition(await workers.text(registry));
  assert.equal(sampleValue(exp, 'istio_tcp_connections_opened_total', labels), 2);
  assert.equal(sampleValue(exp, 'istio_tcp_connections_opened_total', wl), 3);
  assert.equal(sampleValue(exp, 'istio_build', { component: 'ztunnel', tag: '1.0.0-test' }), 1);

  await workers.retire(1);
  // The replacement worker starts from zero and counts one more connection.
  workers.update(3, await runWorker('main-join', 1, 5));
  exp = parseExposition(await workers.text(registry));
  assert.equal(sampleValue(exp, 'istio_tcp_connections_opened_total', wl), 4, 'counters stay monotonic');
  assert.equal(sampleValue(exp, 'istio_tcp_sent_bytes_total', wl), 35);
  tcpSentBytes.remove(labels);
});
