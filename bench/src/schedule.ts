// An open-loop load generator that is safe from coordinated omission: request i has an intended
// send time (start + i / rate) fixed before the run, and its latency is measured from that time,
// not from when a connection became free. A stall therefore shows up in every request that should
// have been sent during it, as it would for real clients, instead of as one slow sample.
import { performance } from 'node:perf_hooks';

export interface OpenLoopOptions {
  /** Intended requests per second. */
  ratePerSec: number;
  durationMs: number;
  /** At most this many requests in flight (e.g. one per persistent connection); the rest wait. */
  concurrency: number;
  /** Performs one request and resolves when its response is complete. */
  send: () => Promise<void>;
  /** Monotonic clock in milliseconds (tests inject one). */
  now?: () => number;
}

export interface OpenLoopResult {
  /** Completion time minus intended send time, ms, one per successful request. */
  latenciesMs: number[];
  intended: number;
  errors: number;
  /** Wall time from the first intended send to the last completion, ms. */
  elapsedMs: number;
}

export class ScheduleError extends Error {
  readonly code = 'ERR_ZT_BENCH_SCHEDULE';
}

export function runOpenLoop(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const { ratePerSec, durationMs, concurrency, send } = opts;
  if (!(ratePerSec > 0) || !(durationMs > 0) || !(concurrency >= 1)) {
    throw new ScheduleError(
      `open loop needs rate > 0, duration > 0 and concurrency >= 1 (got ${ratePerSec}, ${durationMs}, ${concurrency})`,
    );
  }
  const now = opts.now ?? (() => performance.now());
  const interval = 1000 / ratePerSec;
  const total = Math.max(1, Math.floor(durationMs / interval));
  const latenciesMs: number[] = [];
  // Intended times of requests waiting for a free slot, in order (a ring would do; this is short).
  const waiting: number[] = [];
  let waitingHead = 0;
  let free = concurrency;
  let next = 0;
  let settled = 0;
  let errors = 0;
  const start = now();

  return new Promise((resolve) => {
    const finishOne = (): void => {
      settled++;
      free++;
      if (waitingHead < waiting.length) launch(waiting[waitingHead++] as number);
      if (settled === total) {
        resolve({ latenciesMs, intended: total, errors, elapsedMs: now() - start });
      }
    };
    const launch = (intendedAt: number): void => {
      free--;
      let p: Promise<void>;
      try {
        p = send();
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(
        () => {
          latenciesMs.push(now() - intendedAt);
          finishOne();
        },
        () => {
          errors++;
          finishOne();
        },
      );
    };
    const tick = (): void => {
      const t = now();
      while (next < total && start + next * interval <= t) {
        const intendedAt = start + next * interval;
        next++;
        if (free > 0) launch(intendedAt);
        else waiting.push(intendedAt);
      }
      if (next < total) setTimeout(tick, Math.max(0, start + next * interval - now()));
    };
    tick();
  });
}
