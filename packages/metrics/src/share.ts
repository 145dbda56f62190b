import type { Counter } from 'prom-client';

/** What a share needs of a prom-client counter child. */
interface CounterChild {
  inc(value?: number): void;
}

/** The shares of one counter holding increments not yet folded into it. */
const dirtyByCounter = new WeakMap<object, Set<CounterShare>>();

/**
 * One connection's part of a labelled counter. Byte counts arrive once per chunk, thousands of times a
 * second on a busy connection, and every prom-client increment hashes the whole label set (27 labels
 * for traffic metrics). A share adds to a plain number instead and folds the sum into the counter
 * whenever the counter is read (scrape, worker snapshot) and when the share is closed, so every reader
 * still sees the bytes counted as they flow, as upstream's do.
 */
export class CounterShare {
  readonly #child: CounterChild;
  readonly #dirty: Set<CounterShare>;
  #pending = 0;

  constructor(child: CounterChild, dirty: Set<CounterShare>) {
    this.#child = child;
    this.#dirty = dirty;
  }

  add(n: number): void {
    if (this.#pending === 0) this.#dirty.add(this);
    this.#pending += n;
  }

  /** Folds what was added since the last flush into the counter. */
  flush(): void {
    const n = this.#pending;
    if (n === 0) return;
    this.#pending = 0;
    this.#dirty.delete(this);
    this.#child.inc(n);
  }
}

/**
 * A share of `metric`'s series `labels`. The label set goes through the metric's cardinality guard
 * once, here; the first share of a metric chains a flush of all its pending shares in front of the
 * metric's `collect`, which prom-client runs before every read.
 */
export function counterShare<L extends string>(
  metric: Counter<L>,
  labels: Partial<Record<L, string | number>>,
): CounterShare {
  const child: CounterChild = metric.labels(labels);
  let dirty = dirtyByCounter.get(metric);
  if (!dirty) {
    const set = new Set<CounterShare>();
    dirty = set;
    dirtyByCounter.set(metric, set);
    const m = metric as unknown as { collect?: () => unknown };
    const previous = m.collect;
    m.collect = function (this: unknown) {
      // Deleting the entry being visited is safe in a Set iteration.
      for (const s of set) s.flush();
      return previous?.call(this);
    };
  }
  return new CounterShare(child, dirty);
}
