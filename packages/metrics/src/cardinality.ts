import { Counter, type Registry } from 'prom-client';

/**
 * Default cap on distinct label sets per metric. Traffic labels carry workload names and principals;
 * a namespace that churns pods (jobs, CI) would otherwise grow the registry, and every scrape, without
 * bound. 10k sets of the 27 traffic labels is a few MiB and a scrape Prometheus still takes in stride.
 */
export const DEFAULT_LABEL_SET_LIMIT = 10_000;

/** Value every label takes in the set that absorbs the overflow. */
const OVERFLOW_VALUE = 'unknown';

type Labels = Record<string, string | number | undefined>;

/** What the guard needs of the overflow counter: one increment per folded observation. */
interface OverflowSink {
  inc(labels: { metric: string }, value?: number): void;
}

/** The metric methods whose first argument may be a label object. */
const LABELLED_METHODS = [
  'inc',
  'dec',
  'set',
  'observe',
  'setToCurrentTime',
  'startTimer',
  'remove',
] as const;

function isLabels(v: unknown): v is Labels {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Tracks the label sets one metric has seen and folds any set past the limit into the all-`unknown`
 * set, so the metric keeps counting (totals stay right) while its series count stays bounded.
 */
export class LabelSetGuard {
  readonly metric: string;
  readonly limit: number;
  readonly #labelNames: readonly string[];
  readonly #seen = new Set<string>();
  readonly #overflow: OverflowSink;
  readonly #folded: Labels;
  readonly #foldedKey: string;
  /** Frozen label objects handed to `labels()` children, already admitted: their calls skip the key. */
  #children = new WeakSet<Labels>();

  constructor(metric: string, labelNames: readonly string[], limit: number, overflow: OverflowSink) {
    this.metric = metric;
    this.#labelNames = labelNames;
    this.limit = limit;
    this.#overflow = overflow;
    this.#folded = Object.fromEntries(labelNames.map((n) => [n, OVERFLOW_VALUE]));
    this.#foldedKey = this.#key(this.#folded);
  }

  /** Distinct label sets currently admitted; the folded set takes no slot (one extra series at most). */
  get size(): number {
    return this.#seen.size;
  }

  #key(labels: Labels): string {
    let key = '';
    for (const n of this.#labelNames) key += `${labels[n] ?? ''}\u0000`;
    return key;
  }

  /** The labels to record under: `labels` itself, or the folded set when the metric is full. */
  admit(labels: Labels): Labels {
    if (this.#children.has(labels)) return labels;
    const key = this.#key(labels);
    if (key === this.#foldedKey || this.#seen.has(key)) return labels;
    if (this.#seen.size < this.limit) {
      this.#seen.add(key);
      return labels;
    }
    this.#overflow.inc({ metric: this.metric });
    return { ...this.#folded };
  }

  /**
   * Admits the label set of a `labels()` child once: the frozen object returned is what the child
   * passes on every call, and those calls are not keyed again until a set is forgotten or cleared.
   */
  admitChild(labels: Labels): Labels {
    const admitted = Object.freeze({ ...this.admit(labels) });
    this.#children.add(admitted);
    return admitted;
  }

  forget(labels: Labels): void {
    this.#seen.delete(this.#key(labels));
    // A child of the forgotten set must take a slot again on its next call.
    this.#children = new WeakSet();
  }

  clear(): void {
    this.#seen.clear();
    this.#children = new WeakSet();
  }
}

/**
 * Wraps a prom-client metric's label-taking methods with a guard. prom-client's `labels()` children
 * call back into `inc`/`set`, except the histogram's, so `labels()` is wrapped too.
 */
export function guardMetric<M extends object>(
  metric: M,
  guard: LabelSetGuard,
  labelNames: readonly string[],
): M {
  const m = metric as unknown as Record<string, unknown>;
  for (const method of LABELLED_METHODS) {
    const original = m[method];
    if (typeof original !== 'function') continue;
    const bound = (original as (...args: unknown[]) => unknown).bind(metric);
    if (method === 'remove') {
      m[method] = (...args: unknown[]) => {
        const labels = isLabels(args[0]) ? args[0] : positional(labelNames, args);
        guard.forget(labels);
        return bound(...args);
      };
      continue;
    }
    m[method] = (...args: unknown[]) => {
      if (isLabels(args[0])) args[0] = guard.admit(args[0]);
      return bound(...args);
    };
  }
  const labels = m['labels'];
  if (typeof labels === 'function') {
    const bound = (labels as (...args: unknown[]) => unknown).bind(metric);
    m['labels'] = (...args: unknown[]) =>
      bound(guard.admitChild(isLabels(args[0]) ? args[0] : positional(labelNames, args)));
  }
  const reset = m['reset'];
  if (typeof reset === 'function') {
    const bound = (reset as () => unknown).bind(metric);
    m['reset'] = () => {
      guard.clear();
      return bound();
    };
  }
  return metric;
}

function positional(labelNames: readonly string[], values: unknown[]): Labels {
  const out: Labels = {};
  labelNames.forEach((n, i) => {
    const v = values[i];
    if (typeof v === 'string' || typeof v === 'number') out[n] = v;
  });
  return out;
}

/** The counter of folded observations, one series per guarded metric that overflowed. */
export function overflowCounter(registry: Registry): Counter<'metric'> {
  const name = 'zt_metric_label_sets_overflow_total';
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<'metric'>;
  return new Counter({
    name,
    help: 'Observations recorded under the all-unknown label set because the metric reached its label-set limit',
    labelNames: ['metric'],
    registers: [registry],
  });
}
