import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff, backoffDelay } from './index.ts';

test('a reconnect backoff waits the initial delay first, then doubles up to the ceiling', () => {
  // The xDS and ZDS reconnects: upstream's 10 ms doubling to 15 s.
  const b = new Backoff({ initialMs: 10, maxMs: 15_000 });
  const seen = Array.from({ length: 13 }, () => b.next());
  assert.deepEqual(seen, [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 10_240, 15_000, 15_000]);
  assert.equal(b.attempts, 13);
});

test('reset: the next failure waits the initial delay again', () => {
  const b = new Backoff({ initialMs: 5, maxMs: 40 });
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [5, 10, 20, 40, 40]);
  b.reset();
  assert.equal(b.attempts, 0);
  assert.deepEqual([b.next(), b.next()], [5, 10]);
});

test('with jitter each delay is drawn from the upper half of its doubled value (the CSR retries)', () => {
  const csr = (attempt: number, r: number) =>
    backoffDelay(attempt, { initialMs: 1000, maxMs: 150_000, jitter: true, random: () => r });
  assert.equal(csr(1, 0), 500);
  assert.equal(csr(1, 0.999999), 1000);
  assert.equal(csr(2, 0), 1000);
  assert.equal(csr(3, 1), 4000);
  assert.equal(csr(8, 1), 128_000);
  assert.equal(csr(9, 0), 128_000);
  assert.equal(csr(9, 1), 150_000);
  assert.equal(csr(1000, 1), 150_000);
  for (let n = 1; n < 12; n++) {
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(n, { initialMs: 1000, maxMs: 150_000, jitter: true });
      const base = 1000 * 2 ** (n - 1);
      assert.ok(d >= Math.min(base / 2, 150_000) && d <= Math.min(base, 150_000), `${n}: ${d}`);
    }
  }
});

test('attempt 0 or below counts as the first retry', () => {
  assert.equal(backoffDelay(0, { initialMs: 10, maxMs: 100 }), 10);
  assert.equal(backoffDelay(-3, { initialMs: 10, maxMs: 100 }), 10);
});
