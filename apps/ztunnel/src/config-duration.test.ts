import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDurationMs } from './config-duration.ts';

test('durations as upstream writes them: units, their long names in any case, a bare number is seconds', () => {
  const cases: [string, number][] = [
    ['5s', 5000],
    ['2m', 120_000],
    ['1h1s', 3_601_000],
    ['100ms', 100],
    ['10', 10_000],
    ['0', 0],
    ['1m30s', 90_000],
    ['1m 30s', 90_000],
    ['  5 s  ', 5000],
    ['3m+31', 211_000],
    ['3m + 13s + 29ms', 193_029],
    ['1m*10', 600_000],
    ['1m*10ms', 600],
    ['24h', 86_400_000],
    ['1d', 86_400_000],
    ['1w', 7 * 86_400_000],
    ['1mon', 30 * 86_400_000],
    ['1y', 365 * 86_400_000],
    ['2 Minutes', 120_000],
    ['1HR', 3_600_000],
    ['250MSEC', 250],
    ['1500us', 2],
    ['1500µs', 2],
    ['400000ns', 0],
  ];
  for (const [text, ms] of cases) assert.equal(parseDurationMs(text), ms, text);
});

test('not durations: fractions, unknown units, junk, empty, mixed operators, beyond u64 nanoseconds', () => {
  for (const bad of [
    '',
    ' ',
    '1.5s',
    '5 minutes later',
    '5s junk',
    '5x',
    's',
    '-1s',
    '1m+',
    '1m*2+3',
    '600y',
  ]) {
    assert.equal(parseDurationMs(bad), undefined, JSON.stringify(bad));
  }
});
