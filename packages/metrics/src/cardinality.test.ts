import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExposition, sampleValue, sumOf } from '@zt/metrics/testing';
import { counter, gauge, histogram, registry } from './index.ts';

test('label sets past the limit fold into the all-unknown set and are counted', async () => {
  const c = counter('zt_test_guarded_total', 'guarded', ['peer', 'port'], { maxLabelSets: 3 });
  for (let i = 0; i < 10; i++) c.inc({ peer: `p${i}`, port: '80' }, 2);
  c.inc({ peer: 'p0', port: '80' }); // already admitted: stays its own series
  c.labels('p1', '80').inc(); // positional labels go through the guard too
  c.labels({ peer: 'p9', port: '80' }).inc(); // over the limit: folded
  const exp = parseExposition(await registry.metrics());
  const series = exp.samples.filter((s) => s.name === 'zt_test_guarded_total');
  assert.equal(series.length, 4, 'three admitted sets plus the folded one');
  assert.equal(sampleValue(exp, 'zt_test_guarded_total', { peer: 'p0', port: '80' }), 3);
  assert.equal(sampleValue(exp, 'zt_test_guarded_total', { peer: 'p1', port: '80' }), 3);
  assert.equal(sampleValue(exp, 'zt_test_guarded_total', { peer: 'unknown', port: 'unknown' }), 15);
  assert.equal(sumOf(exp, 'zt_test_guarded_total'), 23, 'no observation is lost');
  assert.equal(
    sampleValue(exp, 'zt_metric_label_sets_overflow_total', { metric: 'zt_test_guarded_total' }),
    8,
  );
});

test('removing a label set frees its slot; gauges and histograms are guarded', async () => {
  const g = gauge('zt_test_guarded_gauge', 'guarded', ['k'], { maxLabelSets: 1 });
  g.set({ k: 'a' }, 5);
  g.set({ k: 'b' }, 7);
  g.remove({ k: 'a' });
  g.inc({ k: 'c' }, 1);
  const h = histogram('zt_test_guarded_seconds', 'guarded', ['k'], [1], { maxLabelSets: 1 });
  h.observe({ k: 'a' }, 0.5);
  h.labels('b').observe(2);
  const exp = parseExposition(await registry.metrics());
  assert.equal(sampleValue(exp, 'zt_test_guarded_gauge', { k: 'unknown' }), 7);
  assert.equal(sampleValue(exp, 'zt_test_guarded_gauge', { k: 'c' }), 1);
  assert.equal(sampleValue(exp, 'zt_test_guarded_gauge', { k: 'a' }), undefined);
  assert.equal(sampleValue(exp, 'zt_test_guarded_seconds_count', { k: 'a' }), 1);
  assert.equal(sampleValue(exp, 'zt_test_guarded_seconds_count', { k: 'unknown' }), 1);
  assert.equal(sampleValue(exp, 'zt_test_guarded_seconds_bucket', { k: 'unknown', le: '+Inf' }), 1);
});
