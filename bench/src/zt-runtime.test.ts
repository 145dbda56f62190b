import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RUNTIME_METRIC_NAMES as N } from '@zt/metrics';
import { parseExposition } from '@zt/metrics/testing';
import { median } from './stats.ts';
import { histogramQuantile, runtimeBetween, summarizeRuntime } from './zt-runtime.ts';

/** The runtime series of one zt as its /metrics shows them (two threads). */
function scrape(o: {
  loop: number[];
  loopMax: number;
  mc: number;
  mcSum: number;
  gcMax: number;
  acc: number;
}): string {
  const bounds = ['0.001', '0.01', '0.1', '+Inf'];
  return [
    `# TYPE ${N.eventLoopDelay} histogram`,
    ...bounds.map((le, i) => `${N.eventLoopDelay}_bucket{thread="worker-0",le="${le}"} ${o.loop[i]}`),
    `${N.eventLoopDelay}_sum{thread="worker-0"} 1`,
    `${N.eventLoopDelay}_count{thread="worker-0"} ${o.loop[3]}`,
    ...bounds.map((le) => `${N.eventLoopDelay}_bucket{thread="main",le="${le}"} 5`),
    `${N.eventLoopDelay}_count{thread="main"} 5`,
    `${N.eventLoopDelayMax}{thread="worker-0"} ${o.loopMax}`,
    `${N.eventLoopDelayMax}{thread="main"} 0.0002`,
    `${N.gcPause}_count{thread="worker-0",kind="scavenge"} 10`,
    `${N.gcPause}_sum{thread="worker-0",kind="scavenge"} 0.01`,
    `${N.gcPause}_count{thread="worker-0",kind="mark_compact"} ${o.mc}`,
    `${N.gcPause}_sum{thread="worker-0",kind="mark_compact"} ${o.mcSum}`,
    `${N.gcPauseMax}{thread="worker-0"} ${o.gcMax}`,
    `${N.gcPauseMax}{thread="main"} 0`,
    `${N.connectionsAccepted}{thread="worker-0"} ${o.acc}`,
    `${N.connectionsAccepted}{thread="main"} 3`,
    '',
  ].join('\n');
}

describe('histogramQuantile', () => {
  const b = [
    { le: 0.001, count: 50 },
    { le: 0.01, count: 90 },
    { le: 0.1, count: 100 },
    { le: Number.POSITIVE_INFINITY, count: 100 },
  ];
  it('interpolates inside the bucket the rank falls in, as Prometheus does', () => {
    assert.equal(histogramQuantile(b, 0.5), 0.001);
    assert.ok(Math.abs(histogramQuantile(b, 0.25) - 0.0005) < 1e-12);
    assert.ok(Math.abs(histogramQuantile(b, 0.7) - 0.0055) < 1e-12);
    assert.ok(Math.abs(histogramQuantile(b, 0.99) - 0.091) < 1e-12);
  });
  it('answers the highest finite bound past it, and NaN when empty', () => {
    const over = [...b.slice(0, 3), { le: Number.POSITIVE_INFINITY, count: 200 }];
    assert.equal(histogramQuantile(over, 0.99), 0.1);
    assert.ok(Number.isNaN(histogramQuantile([{ le: Number.POSITIVE_INFINITY, count: 0 }], 0.5)));
  });
});

describe('runtimeBetween', () => {
  it('reads each thread over the window: bucket and counter deltas, the max gauges as they stand', () => {
    const before = parseExposition(
      scrape({ loop: [10, 10, 10, 10], loopMax: 0.5, mc: 1, mcSum: 0.004, gcMax: 0.9, acc: 7 }),
    );
    const after = parseExposition(
      scrape({ loop: [60, 100, 110, 110], loopMax: 0.095, mc: 3, mcSum: 0.01, gcMax: 0.004, acc: 19 }),
    );
    const [main, w0] = runtimeBetween(before, after);
    assert.equal(main?.thread, 'main');
    assert.equal(main?.loopDelay?.samples, 0);
    assert.equal(main?.accepted, 0);
    assert.equal(w0?.thread, 'worker-0');
    assert.equal(w0?.loopDelay?.samples, 100);
    assert.ok(Math.abs((w0?.loopDelay?.p50Ms ?? 0) - 1) < 1e-9, `p50 ${w0?.loopDelay?.p50Ms}`);
    assert.ok(Math.abs((w0?.loopDelay?.p99Ms ?? 0) - 91) < 1e-9, `p99 ${w0?.loopDelay?.p99Ms}`);
    assert.equal(w0?.loopDelay?.maxMs, 95);
    const capped = runtimeBetween(
      before,
      parseExposition(
        scrape({ loop: [60, 100, 110, 110], loopMax: 0.05, mc: 1, mcSum: 0.004, gcMax: 0, acc: 7 }),
      ),
    )[1];
    assert.equal(capped?.loopDelay?.p99Ms, 50, 'no quantile above the largest delay seen');
    assert.deepEqual(w0?.gc?.byKind, { mark_compact: 2 });
    assert.equal(w0?.gc?.count, 2);
    assert.ok(Math.abs((w0?.gc?.totalMs ?? 0) - 6) < 1e-9);
    assert.equal(w0?.gc?.maxMs, 4);
    assert.equal(w0?.accepted, 12);
  });
  it('a zt without the runtime series gives nulls, not zeros', () => {
    const bare = parseExposition('istio_build{component="ztunnel",tag="1"} 1\n');
    assert.deepEqual(runtimeBetween(bare, bare), []);
  });
});

describe('summarizeRuntime', () => {
  it('folds runs per process and thread: medians, and the largest max', () => {
    const run = (p99: number, max: number, gcs: number) => [
      {
        node: 'A',
        threads: [
          {
            thread: 'worker-0',
            loopDelay: { p50Ms: 0.1, p99Ms: p99, maxMs: max, samples: 100 },
            gc: { count: gcs, totalMs: gcs, maxMs: 1, byKind: {} },
            accepted: 0,
          },
        ],
      },
    ];
    const [s] = summarizeRuntime([run(1, 5, 2), run(3, 40, 4), run(2, 6, 9)], median);
    assert.deepEqual(s, {
      node: 'A',
      thread: 'worker-0',
      loopDelay: { p50Ms: 0.1, p99Ms: 2, maxMs: 40 },
      gc: { count: 4, totalMs: 4, maxMs: 1 },
    });
  });
});
