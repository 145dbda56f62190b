import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { median, percentile, summarize } from './stats.ts';

describe('percentile', () => {
  it('uses nearest rank: every answer is an observed value', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    assert.equal(percentile(v, 50), 50);
    assert.equal(percentile(v, 90), 90);
    assert.equal(percentile(v, 99), 99);
    assert.equal(percentile(v, 100), 100);
    assert.equal(percentile(v, 0), 1);
    assert.equal(percentile([7, 1, 3], 50), 3);
    assert.equal(percentile([7, 1, 3], 99), 7);
  });
  it('does not sort the caller’s array and sorts numerically', () => {
    const v = [10, 9, 100, 2];
    assert.equal(percentile(v, 100), 100);
    assert.equal(percentile(v, 25), 2);
    assert.deepEqual(v, [10, 9, 100, 2]);
  });
  it('rejects out-of-range percentiles and gives NaN for no samples', () => {
    assert.throws(() => percentile([1], 101), RangeError);
    assert.throws(() => percentile([1], -1), RangeError);
    assert.ok(Number.isNaN(percentile([], 50)));
  });
  it('a single outlier in 100 samples moves p99 only at the top rank', () => {
    const v = [...Array.from({ length: 99 }, () => 1), 1000];
    assert.equal(percentile(v, 99), 1);
    assert.equal(summarize(v).max, 1000);
  });
});

describe('median', () => {
  it('odd and even counts', () => {
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });
});

describe('summarize', () => {
  it('reports p50/p90/p99/max of the samples', () => {
    const v = Array.from({ length: 1000 }, (_, i) => 1000 - i);
    assert.deepEqual(summarize(v), { count: 1000, p50: 500, p90: 900, p99: 990, max: 1000 });
  });
});
