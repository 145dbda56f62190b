import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExposition, sampleValue } from '@zt/metrics/testing';
import { counter, counterShare, registry } from './index.ts';

test('a share folds its sum into the counter on every read and on flush, never twice', async () => {
  const c = counter('zt_test_share_bytes_total', 'shared', ['conn']);
  const a = counterShare(c, { conn: 'a' });
  const b = counterShare(c, { conn: 'b' });
  for (let i = 0; i < 1000; i++) a.add(10);
  b.add(7);
  let exp = parseExposition(await registry.metrics());
  assert.equal(sampleValue(exp, 'zt_test_share_bytes_total', { conn: 'a' }), 10_000, 'read while open');
  assert.equal(sampleValue(exp, 'zt_test_share_bytes_total', { conn: 'b' }), 7);
  a.add(5);
  a.flush();
  a.flush();
  exp = parseExposition(await registry.metrics());
  assert.equal(sampleValue(exp, 'zt_test_share_bytes_total', { conn: 'a' }), 10_005);
  assert.equal(sampleValue(exp, 'zt_test_share_bytes_total', { conn: 'b' }), 7);
  const json = await registry.getMetricsAsJSON();
  const snap = json.find((m) => m.name === 'zt_test_share_bytes_total');
  assert.equal(
    snap?.values.reduce((s, v) => s + v.value, 0),
    10_012,
    'worker snapshots see it too',
  );
});

test('shares go through the cardinality guard once and fold past the limit', async () => {
  const c = counter('zt_test_share_guarded_total', 'shared', ['conn'], { maxLabelSets: 1 });
  const a = counterShare(c, { conn: 'a' });
  const b = counterShare(c, { conn: 'b' });
  a.add(1);
  b.add(2);
  a.add(3);
  const exp = parseExposition(await registry.metrics());
  assert.equal(sampleValue(exp, 'zt_test_share_guarded_total', { conn: 'a' }), 4);
  assert.equal(sampleValue(exp, 'zt_test_share_guarded_total', { conn: 'unknown' }), 2);
  assert.equal(
    sampleValue(exp, 'zt_metric_label_sets_overflow_total', { metric: 'zt_test_share_guarded_total' }),
    1,
  );
});

test('a child of a removed label set takes a slot again on its next call', async () => {
  const c = counter('zt_test_share_removed_total', 'shared', ['conn'], { maxLabelSets: 1 });
  const a = c.labels({ conn: 'a' });
  a.inc();
  c.remove({ conn: 'a' });
  c.inc({ conn: 'b' });
  a.inc(2);
  const exp = parseExposition(await registry.metrics());
  assert.equal(sampleValue(exp, 'zt_test_share_removed_total', { conn: 'b' }), 1);
  assert.equal(sampleValue(exp, 'zt_test_share_removed_total', { conn: 'a' }), undefined);
  assert.equal(sampleValue(exp, 'zt_test_share_removed_total', { conn: 'unknown' }), 2);
});
