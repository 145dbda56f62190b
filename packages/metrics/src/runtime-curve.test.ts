import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bucketsFromCurve } from './runtime-curve.ts';

// The shape Node's event-loop delay monitor gives: 0, 50, 75, ... 100 (values in seconds here).
const curve = [
  { percentile: 0, value: 0.0001 },
  { percentile: 50, value: 0.0002 },
  { percentile: 75, value: 0.0004 },
  { percentile: 87.5, value: 0.001 },
  { percentile: 100, value: 0.05 },
];

test('bucket counts are exact at the curve points and cumulative', () => {
  const { cumulative } = bucketsFromCurve(curve, 800, [0.00005, 0.0002, 0.0004, 0.001, 0.05, 1]);
  assert.deepEqual(cumulative, [0, 400, 600, 700, 800, 800]);
});

test('between two points the count is interpolated, and never falls or passes the total', () => {
  const { cumulative } = bucketsFromCurve(curve, 800, [0.00015, 0.0003, 0.0255]);
  assert.deepEqual(cumulative, [200, 500, 750]);
  const odd = bucketsFromCurve(curve, 3, [0.0001, 0.00011, 0.5]).cumulative;
  for (let i = 1; i < odd.length; i++) assert.ok((odd[i] as number) >= (odd[i - 1] as number));
  assert.equal(odd.at(-1), 3);
});

test('the sum is the area under the curve; an empty window counts nothing', () => {
  const flat = bucketsFromCurve(
    [
      { percentile: 0, value: 0.002 },
      { percentile: 100, value: 0.002 },
    ],
    10,
    [0.001, 0.01],
  );
  assert.deepEqual(flat.cumulative, [0, 10]);
  assert.ok(Math.abs(flat.sum - 0.02) < 1e-12);
  assert.deepEqual(bucketsFromCurve(curve, 0, [0.001]), { cumulative: [0], sum: 0 });
  assert.deepEqual(bucketsFromCurve([], 5, [0.001]), { cumulative: [0], sum: 0 });
});
