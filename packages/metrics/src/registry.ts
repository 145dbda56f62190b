import { type Aggregator, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DEFAULT_LABEL_SET_LIMIT, guardMetric, LabelSetGuard, overflowCounter } from './cardinality.ts';

/**
 * The registry every zt package records into. In a data-plane worker thread this is the worker's own
 * registry (each thread has its own module instance); the main thread gathers the workers' values.
 */
export const registry: Registry = new Registry();

const overflow = overflowCounter(registry);

export interface MetricOptions {
  /** Distinct label sets kept before new ones fold into the all-`unknown` set. */
  maxLabelSets?: number;
  /** How the main thread combines this metric across worker threads (default `sum`). */
  aggregator?: Aggregator;
}

function guarded<M extends object>(
  metric: M,
  name: string,
  labelNames: readonly string[],
  opts: MetricOptions,
): M {
  if (labelNames.length === 0) return metric;
  const guard = new LabelSetGuard(name, labelNames, opts.maxLabelSets ?? DEFAULT_LABEL_SET_LIMIT, overflow);
  return guardMetric(metric, guard, labelNames);
}

/** Get-or-create, so that a module loaded twice (tests, workers) never double-registers. */
export function counter<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  opts: MetricOptions = {},
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  const c = new Counter<L>({ name, help, labelNames, registers: [registry], ...agg(opts) });
  return guarded(c, name, labelNames, opts);
}

export function gauge<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  opts: MetricOptions = {},
): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  const g = new Gauge<L>({ name, help, labelNames, registers: [registry], ...agg(opts) });
  return guarded(g, name, labelNames, opts);
}

export function histogram<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  buckets?: number[],
  opts: MetricOptions = {},
): Histogram<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram<L>;
  const h = new Histogram<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    ...(buckets ? { buckets } : {}),
    ...agg(opts),
  });
  return guarded(h, name, labelNames, opts);
}

function agg(opts: MetricOptions): { aggregator?: Aggregator } {
  return opts.aggregator ? { aggregator: opts.aggregator } : {};
}
