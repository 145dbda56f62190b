import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BACKOFF_MAX_MS, backoffDelay } from './backoff.ts';

test('backoff: 0.5-1 s first, doubling, never above 150 s', () => {
  assert.equal(
    backoffDelay(1, () => 0),
    500,
  );
  assert.equal(
    backoffDelay(1, () => 0.999999),
    1000,
  );
  assert.equal(
    backoffDelay(2, () => 0),
    1000,
  );
  assert.equal(
    backoffDelay(3, () => 1),
    4000,
  );
  assert.equal(
    backoffDelay(8, () => 1),
    128_000,
  );
  assert.equal(
    backoffDelay(9, () => 0),
    128_000,
  );
  assert.equal(
    backoffDelay(9, () => 1),
    BACKOFF_MAX_MS,
  );
  assert.equal(
    backoffDelay(1000, () => 1),
    BACKOFF_MAX_MS,
  );
  for (let n = 1; n < 12; n++) {
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(n);
      const base = 1000 * 2 ** (n - 1);
      assert.ok(d >= Math.min(base / 2, BACKOFF_MAX_MS) && d <= Math.min(base, BACKOFF_MAX_MS), `${n}: ${d}`);
    }
  }
});
