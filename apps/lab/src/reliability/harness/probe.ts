// What every bad-input case checks besides its own verdict: a log line on the node that saw the
// input, a counter that moved, the healthy long-lived tunnel still echoing, the node still alive.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { sumOf } from '@zt/metrics/testing';
import { ping } from './mesh.ts';
import type { ZtProcess } from './zt.ts';

export interface Expectation {
  /** The node that must log and count. */
  node: ZtProcess;
  /** A regex the JSON of one new log line must match. */
  log: RegExp;
  /** A counter (name and labels) that must grow. */
  metric: { name: string; labels?: Record<string, string> };
}

export interface Probe {
  /** Runs `act` and checks the expectation and the healthy tunnel. */
  check(label: string, exp: Expectation, act: () => Promise<void>): Promise<void>;
}

export function probe(healthy: () => Socket, others: () => ZtProcess[]): Probe {
  let n = 0;
  return {
    async check(label, exp, act) {
      const from = exp.node.lines.length;
      const before = sumOf(await exp.node.metrics(), exp.metric.name, exp.metric.labels ?? {});
      await act();
      const line = await exp.node.waitLog(
        (l) => exp.log.test(JSON.stringify(l)),
        from,
        10_000,
        `a log line matching ${exp.log} after ${label}`,
      );
      let after = before;
      const deadline = Date.now() + 5000;
      while (after <= before && Date.now() < deadline) {
        after = sumOf(await exp.node.metrics(), exp.metric.name, exp.metric.labels ?? {});
        if (after <= before) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(
        after > before,
        `${label}: ${exp.metric.name}${JSON.stringify(exp.metric.labels ?? {})} did not grow (${before})`,
      );
      const msg = `still alive ${++n}`;
      assert.equal(await ping(healthy(), msg), msg, `${label}: the healthy tunnel stopped echoing`);
      for (const z of others()) assert.ok(z.alive, `${label}: ${z.name} died`);
      assert.ok(line);
    },
  };
}
