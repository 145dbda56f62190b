import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type Exposition, parseExposition, samplesOf, sampleValue } from '@zt/metrics/testing';
import {
  aggregateRegistries,
  EVENT_LOOP_DELAY_BUCKETS,
  type MetricsSnapshot,
  RUNTIME_METRIC_NAMES as N,
  registry,
  startRuntimeMetrics,
  WorkerMetrics,
} from './index.ts';

function runWorker(thread: string, stalls: number, stallMs: number): Promise<MetricsSnapshot> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./testing/runtime-worker.ts', import.meta.url), {
      workerData: { thread, stalls, stallMs },
    });
    w.once('message', (m: MetricsSnapshot) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

/** Samples of a histogram above `bound` (seconds), from its cumulative buckets. */
function above(exp: Exposition, name: string, thread: string, bound: number): number {
  const total = sampleValue(exp, `${name}_count`, { thread }) ?? 0;
  return total - (sampleValue(exp, `${name}_bucket`, { thread, le: String(bound) }) ?? 0);
}

test('a thread that stalls its event loop shows the stalls in its delay histogram and max', async () => {
  const [busy, calm] = await Promise.all([runWorker('worker-0', 3, 80), runWorker('worker-1', 0, 0)]);
  const workers = new WorkerMetrics();
  workers.update('0.0', busy);
  workers.update('1.0', calm);
  const exp = parseExposition(await workers.text(registry));
  assert.equal(exp.types.get(N.eventLoopDelay), 'histogram');
  const count = sampleValue(exp, `${N.eventLoopDelay}_count`, { thread: 'worker-0' }) ?? 0;
  assert.ok(count >= 10, `the loop was sampled (${count} samples)`);
  // Each 80 ms stall holds back one 10 ms tick by 70-80 ms.
  assert.ok(above(exp, N.eventLoopDelay, 'worker-0', 0.025) >= 2, 'stalls land in the top buckets');
  const max = sampleValue(exp, N.eventLoopDelayMax, { thread: 'worker-0' }) ?? 0;
  assert.ok(max >= 0.06 && max < 1, `max ${max}`);
  assert.ok((sampleValue(exp, `${N.eventLoopDelay}_sum`, { thread: 'worker-0' }) ?? 0) >= 0.12);
  // The other worker's series stand apart, with no stall in them.
  assert.ok((sampleValue(exp, `${N.eventLoopDelay}_count`, { thread: 'worker-1' }) ?? 0) > 0);
  assert.ok((sampleValue(exp, N.eventLoopDelayMax, { thread: 'worker-1' }) ?? 1) < max);
  // Histogram buckets only grow: a dead worker's are kept, its gauges dropped.
  await workers.retire('0.0');
  const after = parseExposition(await workers.text(registry));
  assert.equal(sampleValue(after, `${N.eventLoopDelay}_count`, { thread: 'worker-0' }), count);
  assert.equal(sampleValue(after, N.eventLoopDelayMax, { thread: 'worker-0' }), undefined);
  const les = samplesOf(after, `${N.eventLoopDelay}_bucket`, { thread: 'worker-0' }).map(
    (s) => s.labels['le'],
  );
  assert.deepEqual(les, [...EVENT_LOOP_DELAY_BUCKETS.map(String), '+Inf']);
});

test('forced full GCs show up as mark_compact pauses of the thread', async () => {
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      '--conditions=zt-source',
      fileURLToPath(new URL('./testing/runtime-gc-child.ts', import.meta.url)),
      '3',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise((r) => child.once('exit', r));
  assert.equal(code, 0);
  const exp = parseExposition(out);
  const fullGcs = sampleValue(exp, `${N.gcPause}_count`, { thread: 'main', kind: 'mark_compact' }) ?? 0;
  assert.ok(fullGcs >= 3, `${fullGcs} mark-compact pauses`);
  assert.ok((sampleValue(exp, `${N.gcPause}_sum`, { thread: 'main', kind: 'mark_compact' }) ?? 0) > 0);
  assert.ok((sampleValue(exp, N.gcPauseMax, { thread: 'main' }) ?? 0) > 0);
});

test('connections accepted by the thread are counted under its label', async () => {
  const rt = startRuntimeMetrics('test-main');
  assert.equal(startRuntimeMetrics('ignored'), rt, 'one monitor per thread');
  const before =
    sampleValue(parseExposition(await registry.metrics()), N.connectionsAccepted, { thread: 'test-main' }) ??
    0;
  const server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  for (let i = 0; i < 4; i++) {
    await new Promise<void>((resolve, reject) => {
      const c = connect(port, '127.0.0.1');
      c.once('error', reject);
      c.once('close', () => resolve());
      c.resume();
    });
  }
  server.close();
  const main = await aggregateRegistries(registry, []);
  const exp = parseExposition(main);
  assert.equal(sampleValue(exp, N.connectionsAccepted, { thread: 'test-main' }), before + 4);
  assert.ok((sampleValue(exp, `${N.eventLoopDelay}_count`, { thread: 'test-main' }) ?? -1) >= 0);
  rt.stop();
  // Stopped: no more counting.
  const c = connect(port, '127.0.0.1');
  await new Promise((r) => c.once('error', r));
  const s2 = createServer((s) => s.destroy());
  await new Promise<void>((r) => s2.listen(0, '127.0.0.1', r));
  const p2 = (s2.address() as { port: number }).port;
  await new Promise<void>((r) =>
    connect(p2, '127.0.0.1')
      .once('close', () => r())
      .resume(),
  );
  s2.close();
  const last = parseExposition(await registry.metrics());
  assert.equal(sampleValue(last, N.connectionsAccepted, { thread: 'test-main' }), before + 4);
});
