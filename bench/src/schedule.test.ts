import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runOpenLoop, ScheduleError } from './schedule.ts';
import { percentile } from './stats.ts';

describe('runOpenLoop', () => {
  it('sends at the intended rate and measures fast responses as ~0', async () => {
    const r = await runOpenLoop({ ratePerSec: 1000, durationMs: 200, concurrency: 4, send: async () => {} });
    assert.equal(r.intended, 200);
    assert.equal(r.latenciesMs.length, 200);
    assert.equal(r.errors, 0);
    // The run takes the scheduled time, not less (open loop: no sending ahead of schedule).
    assert.ok(r.elapsedMs >= 195, `elapsed ${r.elapsedMs}`);
    assert.ok(percentile(r.latenciesMs, 50) < 20);
  });

  it('charges a stall to every request scheduled during it (no coordinated omission)', async () => {
    let n = 0;
    const send = (): Promise<void> =>
      new Promise((resolve) => {
        // The 20th request stalls for 60 ms; one connection, so everything behind it waits.
        if (++n === 20) setTimeout(resolve, 60);
        else resolve();
      });
    const r = await runOpenLoop({ ratePerSec: 1000, durationMs: 200, concurrency: 1, send });
    assert.equal(r.latenciesMs.length, 200);
    // A closed-loop client would record a single slow sample; here ~50 requests queued behind the
    // stall carry latencies from ~60 ms down to ~0.
    const slow = r.latenciesMs.filter((l) => l >= 10).length;
    assert.ok(slow >= 40, `only ${slow} requests saw the stall`);
    assert.ok(percentile(r.latenciesMs, 90) >= 5, `p90 ${percentile(r.latenciesMs, 90)}`);
    assert.ok(Math.max(...r.latenciesMs) >= 55);
  });

  it('uses a deterministic clock when given one and counts failures', async () => {
    let t = 0;
    let n = 0;
    const send = async (): Promise<void> => {
      if (++n % 10 === 0) throw new Error('boom');
    };
    // Every reading of the clock advances it by 0.25 ms: the run is independent of real time.
    const now = (): number => {
      t += 0.25;
      return t;
    };
    const r = await runOpenLoop({ ratePerSec: 1000, durationMs: 50, concurrency: 1, send, now });
    assert.equal(r.intended, 50);
    assert.equal(r.errors, 5);
    assert.equal(r.latenciesMs.length, 45);
  });

  it('rejects nonsense parameters with a clear error', () => {
    assert.throws(
      () => runOpenLoop({ ratePerSec: 0, durationMs: 1, concurrency: 1, send: async () => {} }),
      ScheduleError,
    );
  });
});
