import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acceptSpread, addedLatency } from './run.ts';

describe('addedLatency', () => {
  it('takes each run less direct of the same repetition, then the median of those', () => {
    const direct = [
      { r: { p50: 1, p90: 2, p99: 3 } },
      { r: { p50: 1, p90: 2, p99: 9 } },
      { r: { p50: 2, p90: 2, p99: 4 } },
    ];
    const zt = [
      { p50: 1.5, p90: 3, p99: 5 },
      { p50: 1.2, p90: 2.5, p99: 8 },
      { p50: 2.4, p90: 4, p99: 6 },
    ];
    const a = addedLatency(zt, direct);
    assert.deepEqual(
      a.samples.map((x) => x.p99),
      [2, -1, 2],
    );
    assert.equal(a.p99, 2);
    assert.ok(Math.abs(a.p50 - 0.4) < 1e-9);
    assert.equal(a.p90, 1);
  });
});

describe('acceptSpread', () => {
  it('is 0 for an even spread and the largest relative distance from even otherwise', () => {
    assert.equal(acceptSpread({ main: 4, 'worker-0': 500, 'worker-1': 500 }), 0);
    assert.ok(Math.abs((acceptSpread({ 'worker-0': 550, 'worker-1': 450 }) ?? 0) - 0.1) < 1e-9);
  });
  it('says nothing with one worker or no connections', () => {
    assert.equal(acceptSpread({ main: 3, 'worker-0': 100 }), null);
    assert.equal(acceptSpread({ 'worker-0': 0, 'worker-1': 0 }), null);
  });
});
