import assert from 'node:assert/strict';
import { test } from 'node:test';
import { counter, registry } from './index.ts';

test('counter is get-or-create and lands in the shared registry', async () => {
  const a = counter('zt_test_things_total', 'things', ['kind']);
  const b = counter('zt_test_things_total', 'things', ['kind']);
  assert.equal(a, b);
  a.inc({ kind: 'x' }, 3);
  const text = await registry.metrics();
  assert.match(text, /zt_test_things_total\{kind="x"\} 3/);
});
