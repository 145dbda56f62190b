import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { BudgetFileError, checkBudgets, parseBudgetFile } from './budgets.ts';

const budgets = {
  floor: { metric: 'a', min: 0.5, target: 1 },
  ceiling: { metric: 'b', max: 1 },
  band: { metric: 'c', min: 1, max: 2 },
  peer: { metric: 'd', min: 3 },
};

describe('checkBudgets', () => {
  it('passes values inside their limits and fails values outside, saying why', () => {
    const r = checkBudgets(budgets, { a: 0.6, b: 1.5, c: 2.5, d: 3 });
    assert.deepEqual(
      r.map((x) => [x.name, x.status]),
      [
        ['floor', 'pass'],
        ['ceiling', 'fail'],
        ['band', 'fail'],
        ['peer', 'pass'],
      ],
    );
    assert.match(r[1]?.reason ?? '', /1\.50 is not <= 1/);
    assert.equal(r[2]?.limit, '>= 1 and <= 2');
    assert.equal(r[0]?.target, 1);
  });
  it('the limit itself passes (min and max are inclusive)', () => {
    const r = checkBudgets(budgets, { a: 0.5, b: 1, c: 1, d: 3 });
    assert.ok(r.every((x) => x.status === 'pass'));
  });
  it('skips a budget whose metric is null (peer not installed), with the reason', () => {
    const r = checkBudgets(budgets, { a: 1, b: 0, c: 1, d: null }, { d: 'haproxy is not installed' });
    assert.equal(r[3]?.status, 'skipped');
    assert.equal(r[3]?.reason, 'haproxy is not installed');
  });
  it('fails a budget whose metric the run did not produce, or produced as NaN', () => {
    const r = checkBudgets(budgets, { a: Number.NaN, b: 0, c: 1 });
    assert.equal(r[0]?.status, 'fail');
    assert.equal(r[3]?.status, 'fail');
    assert.match(r[3]?.reason ?? '', /did not measure d/);
  });
});

describe('parseBudgetFile', () => {
  it('rejects files without limits or with non-numeric limits', () => {
    const machine = { nproc: 2, cpu: 'x', node: 'v24', date: '2026-01-01' };
    assert.throws(() => parseBudgetFile('{'), BudgetFileError);
    assert.throws(() => parseBudgetFile(JSON.stringify({ machine })), /needs "machine" and "budgets"/);
    assert.throws(
      () => parseBudgetFile(JSON.stringify({ machine, budgets: { x: { metric: 'a' } } })),
      /needs "min" or "max"/,
    );
    assert.throws(
      () => parseBudgetFile(JSON.stringify({ machine, budgets: { x: { metric: 'a', min: '1' } } })),
      /must be a number/,
    );
  });
  it('the checked-in budgets.json is valid and names its machine and targets', () => {
    const text = readFileSync(new URL('../budgets.json', import.meta.url), 'utf8');
    const file = parseBudgetFile(text);
    assert.ok(file.machine.nproc >= 1 && file.machine.cpu && file.machine.node && file.machine.date);
    assert.ok(Object.keys(file.budgets).length >= 5);
  });
});
