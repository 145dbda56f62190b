import assert from 'node:assert/strict';
import { test } from 'node:test';
import { driftOf } from './soak.ts';

const MiB = 1024 * 1024;

test('driftOf: a flat series has no drift and no trend', () => {
  const d = driftOf({ pid: 1, samples: Array.from({ length: 12 }, (_, i) => [i * 5000, 100 * MiB]) });
  assert.equal(d.driftMiB, 0);
  assert.equal(d.slopeMiBPerMin, 0);
  assert.equal(d.maxMiB, 100);
});

test('driftOf: a leak of 1 MiB per minute shows as drift and as its trend', () => {
  // 10 minutes sampled every 5 s, growing 1 MiB a minute from 100 MiB.
  const samples: [number, number][] = Array.from({ length: 121 }, (_, i) => {
    const t = i * 5000;
    return [t, (100 + t / 60_000) * MiB];
  });
  const d = driftOf({ pid: 2, samples });
  assert.ok(Math.abs(d.slopeMiBPerMin - 1) < 1e-9, `slope ${d.slopeMiBPerMin}`);
  // Thirds of 40 samples: means at minutes 1.625 and 8.375.
  assert.ok(Math.abs(d.driftMiB - 6.75) < 1e-9, `drift ${d.driftMiB}`);
  assert.ok(Math.abs(d.firstThirdMiB - 101.625) < 1e-9);
  assert.equal(d.maxMiB, 110);
});

test('driftOf: a warm-up spike that settles is no upward drift', () => {
  const samples: [number, number][] = Array.from({ length: 30 }, (_, i) => [
    i * 5000,
    (i < 3 ? 180 : 120) * MiB,
  ]);
  const d = driftOf({ pid: 3, samples });
  assert.ok(d.driftMiB < 0);
  assert.equal(d.maxMiB, 180);
});

test('driftOf: no samples is an error, not a zero', () => {
  assert.throws(() => driftOf({ pid: 4, samples: [] }), RangeError);
});
