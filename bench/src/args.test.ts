import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BenchArgsError, parseBenchArgs } from './args.ts';
import { PROFILES } from './profile.ts';

describe('parseBenchArgs', () => {
  it('defaults to the full profile, every scenario, this tree alone', () => {
    const a = parseBenchArgs([]);
    assert.equal(a.profile, PROFILES.full);
    assert.equal(a.only, undefined);
    assert.equal(a.against, undefined);
    assert.equal(a.soak, undefined);
    assert.equal(a.fromSource, false);
  });
  it('reads a profile, a repetition count, a subset and an A/B ref', () => {
    const a = parseBenchArgs(['--ci', '--reps', '5', '--only', 'latency,rate', '--against', 'main~3']);
    assert.equal(a.profile.name, 'ci');
    assert.equal(a.profile.reps, 5);
    assert.deepEqual([...(a.only ?? [])], ['latency', 'rate']);
    assert.equal(a.against, 'main~3');
    assert.equal(parseBenchArgs(['--against=v1.0']).against, 'v1.0');
  });
  it('refuses what it cannot run, with one line saying what to type', () => {
    const bad: [string[], RegExp][] = [
      [['--against'], /argument missing/],
      [['--against', ''], /--against takes a git ref/],
      [['--against=-x'], /--against takes a git ref/],
      [['--against', 'main', '--soak'], /does not combine with --soak/],
      [['--only', 'bulk,speed'], /--only takes a comma-separated subset of bulk,latency,idle,rate/],
      [['--reps', '0'], /--reps takes an integer >= 1/],
      [['--reps', '2.5'], /--reps takes an integer >= 1/],
      [['--soak', '--minutes', '0'], /--minutes takes a positive number/],
      [['--fast'], /Unknown option '--fast'/],
    ];
    for (const [argv, why] of bad) {
      assert.throws(
        () => parseBenchArgs(argv),
        (e: unknown) => e instanceof BenchArgsError && e.code === 'ERR_ZT_BENCH_ARGS' && why.test(e.message),
        argv.join(' '),
      );
    }
  });
});
