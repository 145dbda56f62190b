import { AggregatorRegistry, prometheusContentType, type Registry } from 'prom-client';
import { registry } from './registry.ts';

/** A registry's values as plain data: what a worker thread posts to the main thread. */
export type MetricsSnapshot = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** Content type of the text exposition format (version 0.0.4) that `aggregateRegistries` returns. */
export const PROMETHEUS_CONTENT_TYPE: string = prometheusContentType;

/** Worker side: this thread's registry as structured-clone-safe data (no functions). */
export function metricsSnapshot(from: Registry = registry): Promise<MetricsSnapshot> {
  return from.getMetricsAsJSON();
}

/**
 * Main side: the Prometheus text of the main registry plus the workers', summed per metric and label
 * set (or combined by the metric's own `aggregator`, e.g. `max` for `istio_build`).
 */
export async function aggregateRegistries(
  main: Registry,
  workers: readonly MetricsSnapshot[],
): Promise<string> {
  const own = await main.getMetricsAsJSON();
  return AggregatorRegistry.aggregate([own, ...workers]).metrics();
}

/** Counters and histograms only grow; gauges describe the present and die with their worker. */
function monotonic(snapshot: MetricsSnapshot): MetricsSnapshot {
  // prom-client types `type` as a numeric enum; at run time it is the Prometheus type name.
  return snapshot.filter((m) => {
    const type = String(m.type);
    return type === 'counter' || type === 'histogram';
  });
}

/**
 * The main thread's view of its workers' metrics. A restarted worker starts from zero; folding the
 * dead worker's last counters into a retained total keeps every exported counter monotonic, so
 * Prometheus `rate()` does not see a spurious reset of the whole series.
 */
export class WorkerMetrics {
  readonly #latest = new Map<string | number, MetricsSnapshot>();
  #retired: MetricsSnapshot = [];

  /** Record a worker's latest snapshot (cumulative values, replacing the previous one). */
  update(worker: string | number, snapshot: MetricsSnapshot): void {
    this.#latest.set(worker, snapshot);
  }

  /** The worker exited: keep what its counters reached, drop its gauges. */
  async retire(worker: string | number): Promise<void> {
    const last = this.#latest.get(worker);
    this.#latest.delete(worker);
    if (!last) return;
    const merged = AggregatorRegistry.aggregate([this.#retired, monotonic(last)]);
    this.#retired = await merged.getMetricsAsJSON();
  }

  snapshots(): MetricsSnapshot[] {
    return [this.#retired, ...this.#latest.values()];
  }

  /** Prometheus text of `main` plus every live and retired worker. */
  text(main: Registry = registry): Promise<string> {
    return aggregateRegistries(main, this.snapshots());
  }
}
