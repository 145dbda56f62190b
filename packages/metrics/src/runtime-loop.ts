import { type ELDHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { bucketsFromCurve, type CurvePoint } from './runtime-curve.ts';

/** Upper bounds (seconds): timer jitter sits in the first buckets, stalls in the last. */
export const EVENT_LOOP_DELAY_BUCKETS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

export interface LoopDelayTotals {
  /** Samples at most each bound of EVENT_LOOP_DELAY_BUCKETS, cumulative since start. */
  cumulative: readonly number[];
  count: number;
  sum: number;
  /** The largest delay between the two latest folds, seconds. */
  windowMax: number;
}

/**
 * This thread's event-loop delay. Node's monitor runs a libuv timer every `resolutionMs` and records
 * in C++ how long each tick took, so no JavaScript runs per sample. A tick that took the resolution
 * plus d was delayed by d. `fold()`, called when the metrics are read, moves the samples since the
 * previous fold into cumulative Prometheus buckets and starts a new window.
 */
export class EventLoopDelay {
  readonly #h: ELDHistogram;
  readonly #resolutionNs: number;
  readonly #cumulative: number[] = EVENT_LOOP_DELAY_BUCKETS.map(() => 0);
  #count = 0;
  #sum = 0;
  #windowMax = 0;

  constructor(resolutionMs: number) {
    this.#h = monitorEventLoopDelay({ resolution: resolutionMs });
    this.#resolutionNs = resolutionMs * 1e6;
  }

  start(): void {
    this.#h.enable();
  }

  stop(): void {
    this.#h.disable();
  }

  fold(): void {
    const h = this.#h;
    const n = h.count;
    if (n === 0) {
      this.#windowMax = 0;
      return;
    }
    const points: CurvePoint[] = [];
    for (const [percentile, ns] of h.percentiles) points.push({ percentile, value: this.#delay(ns) });
    points.sort((a, b) => a.percentile - b.percentile);
    const window = bucketsFromCurve(points, n, EVENT_LOOP_DELAY_BUCKETS);
    for (let i = 0; i < this.#cumulative.length; i++)
      this.#cumulative[i] = (this.#cumulative[i] as number) + (window.cumulative[i] as number);
    this.#count += n;
    this.#sum += window.sum;
    this.#windowMax = this.#delay(h.max);
    h.reset();
  }

  totals(): LoopDelayTotals {
    return { cumulative: this.#cumulative, count: this.#count, sum: this.#sum, windowMax: this.#windowMax };
  }

  /** Seconds a tick of `ns` was late. A tick can also come early, after a late one: that is 0. */
  #delay(ns: number): number {
    return Math.max(0, ns - this.#resolutionNs) / 1e9;
  }
}
