import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';

/** Upper bounds (seconds) of GC pause buckets: scavenges take tenths of a millisecond, full GCs more. */
export const GC_PAUSE_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

/** V8's GC types as Node reports them in a `gc` entry's `detail.kind`. */
const KINDS: ReadonlyMap<number, string> = new Map([
  [constants.NODE_PERFORMANCE_GC_MINOR, 'scavenge'],
  [constants.NODE_PERFORMANCE_GC_MINOR_MARK_SWEEP, 'minor_mark_sweep'],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'mark_compact'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weak_callbacks'],
]);

export function gcKind(kind: number | undefined): string {
  return (kind !== undefined && KINDS.get(kind)) || 'other';
}

/**
 * This thread's GC pauses, from a `gc` PerformanceObserver: one entry per pause, delivered in batches
 * after the fact, so nothing runs inside the pause. `record` gets the pause in seconds and its kind.
 */
export class GcPauses {
  readonly #observer: PerformanceObserver;
  readonly #record: (seconds: number, kind: string) => void;
  #max = 0;
  #windowMax = 0;

  constructor(record: (seconds: number, kind: string) => void) {
    this.#record = record;
    this.#observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.#take(e);
    });
  }

  start(): void {
    this.#observer.observe({ entryTypes: ['gc'] });
  }

  stop(): void {
    this.#fold();
    this.#observer.disconnect();
  }

  /** Records the entries not yet delivered and starts a new window for the max. */
  fold(): void {
    this.#fold();
    this.#windowMax = this.#max;
    this.#max = 0;
  }

  /** The longest pause between the two latest folds, seconds. */
  get windowMax(): number {
    return this.#windowMax;
  }

  #fold(): void {
    for (const e of this.#observer.takeRecords()) this.#take(e);
  }

  #take(e: PerformanceEntry): void {
    const seconds = e.duration / 1000;
    // A gc entry's `detail` ({ kind, flags }) is missing from @types/node's PerformanceEntry.
    const kind = gcKind((e as { detail?: { kind?: number } }).detail?.kind);
    if (seconds > this.#max) this.#max = seconds;
    this.#record(seconds, kind);
  }
}
