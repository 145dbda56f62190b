// What a thread of zt spends outside its own work: event-loop delay and GC pauses, plus how many
// connections its listeners accepted. zt-specific (upstream's Rust runtime has neither), so the names
// start with zt_. Every thread records into its own registry with its own `thread` label; the main
// thread serves the workers' values beside its own.
import { channel } from 'node:diagnostics_channel';
import type { Aggregator, Metric, Registry } from 'prom-client';
import { counter, histogram, registry } from './registry.ts';
import { GC_PAUSE_BUCKETS, GcPauses } from './runtime-gc.ts';
import { EVENT_LOOP_DELAY_BUCKETS, EventLoopDelay } from './runtime-loop.ts';
import { type CounterShare, counterShare } from './share.ts';

export { GC_PAUSE_BUCKETS } from './runtime-gc.ts';
export { EVENT_LOOP_DELAY_BUCKETS } from './runtime-loop.ts';

export const RUNTIME_METRIC_NAMES = {
  eventLoopDelay: 'zt_event_loop_delay_seconds',
  eventLoopDelayMax: 'zt_event_loop_delay_max_seconds',
  gcPause: 'zt_gc_pause_seconds',
  gcPauseMax: 'zt_gc_pause_max_seconds',
  connectionsAccepted: 'zt_connections_accepted_total',
} as const;

export interface RuntimeMetricsOptions {
  /** How often the event loop is sampled, ms (Node's default, 10). */
  resolutionMs?: number;
}

export interface RuntimeMetrics {
  /** The `thread` label of this thread's series. */
  readonly thread: string;
  /** Stops sampling; the series keep what they counted. */
  stop(): void;
}

const gcPauses = histogram(
  RUNTIME_METRIC_NAMES.gcPause,
  'GC pauses of a zt thread by kind (V8 scavenge, mark_compact, incremental marking step, weak_callbacks)',
  ['thread', 'kind'],
  [...GC_PAUSE_BUCKETS],
);

const accepted = counter(
  RUNTIME_METRIC_NAMES.connectionsAccepted,
  'TCP connections accepted by the listeners of a zt thread (a worker: the data plane; main: admin, metrics, readiness, and the data plane when it runs without workers)',
  ['thread'],
);

// Pauses the observer has not delivered yet are recorded before the GC histogram is read.
{
  const metric = gcPauses as unknown as { collect?: () => unknown };
  const previous = metric.collect;
  metric.collect = function (this: unknown) {
    running?.foldForRead();
    return previous?.call(this);
  };
}

/** Node publishes every connection a net.Server of this thread accepts here. */
const acceptChannel = channel('net.server.socket');

let running: Runtime | undefined;

/**
 * Starts this thread's runtime metrics under `thread` (e.g. `main`, `worker-0`). A second call on the
 * same thread returns the running instance, whatever label it names. The sampling keeps no thread
 * alive.
 */
export function startRuntimeMetrics(thread: string, opts: RuntimeMetricsOptions = {}): RuntimeMetrics {
  if (running) return running;
  running = new Runtime(thread, opts.resolutionMs ?? 10);
  return running;
}

class Runtime implements RuntimeMetrics {
  readonly thread: string;
  readonly #loop: EventLoopDelay;
  readonly #gc: GcPauses;
  readonly #accepted: CounterShare;
  readonly #onAccept = (): void => this.#accepted.add(1);
  #foldedThisRead = false;

  constructor(thread: string, resolutionMs: number) {
    this.thread = thread;
    this.#loop = new EventLoopDelay(resolutionMs);
    const gcByKind = new Map<string, { observe(v: number): void }>();
    this.#gc = new GcPauses((seconds, kind) => {
      let child = gcByKind.get(kind);
      if (!child) {
        child = gcPauses.labels({ thread, kind });
        gcByKind.set(kind, child);
      }
      child.observe(seconds);
    });
    // The series exists from the start, so a thread that has accepted nothing reads 0, not absent.
    accepted.inc({ thread }, 0);
    this.#accepted = counterShare(accepted, { thread });
    registerCollected(registry, {
      name: RUNTIME_METRIC_NAMES.eventLoopDelay,
      help: 'Event-loop delay of a zt thread: how late a timer due every 10 ms (the default resolution) ran (sampled by perf_hooks.monitorEventLoopDelay; buckets below the median are interpolated)',
      type: 'histogram',
      values: () => this.#loopHistogram(),
    });
    registerCollected(registry, {
      name: RUNTIME_METRIC_NAMES.eventLoopDelayMax,
      help: 'Largest event-loop delay of a zt thread between the two latest reads of its metrics',
      type: 'gauge',
      aggregator: 'max',
      values: () => {
        this.foldForRead();
        return [{ labels: { thread }, value: this.#loop.totals().windowMax }];
      },
    });
    registerCollected(registry, {
      name: RUNTIME_METRIC_NAMES.gcPauseMax,
      help: 'Longest GC pause of a zt thread between the two latest reads of its metrics',
      type: 'gauge',
      aggregator: 'max',
      values: () => {
        this.foldForRead();
        return [{ labels: { thread }, value: this.#gc.windowMax }];
      },
    });
    this.#loop.start();
    this.#gc.start();
    acceptChannel.subscribe(this.#onAccept);
  }

  stop(): void {
    if (running !== this) return;
    running = undefined;
    this.foldForRead();
    this.#loop.stop();
    this.#gc.stop();
    acceptChannel.unsubscribe(this.#onAccept);
  }

  /**
   * One fold per read of the registry: every metric's `get()` starts synchronously within the same
   * turn, so a flag cleared in a microtask lets the first of them fold and the others see its window.
   */
  foldForRead(): void {
    if (this.#foldedThisRead) return;
    this.#foldedThisRead = true;
    queueMicrotask(() => {
      this.#foldedThisRead = false;
    });
    this.#loop.fold();
    this.#gc.fold();
  }

  #loopHistogram(): CollectedValue[] {
    this.foldForRead();
    const t = this.#loop.totals();
    const name = RUNTIME_METRIC_NAMES.eventLoopDelay;
    const thread = this.thread;
    const values: CollectedValue[] = EVENT_LOOP_DELAY_BUCKETS.map((le, i) => ({
      metricName: `${name}_bucket`,
      labels: { thread, le },
      value: t.cumulative[i] as number,
    }));
    values.push(
      { metricName: `${name}_bucket`, labels: { thread, le: '+Inf' }, value: t.count },
      { metricName: `${name}_sum`, labels: { thread }, value: t.sum },
      { metricName: `${name}_count`, labels: { thread }, value: t.count },
    );
    return values;
  }
}

interface CollectedValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/**
 * A metric whose values are computed when it is read, for what prom-client's classes cannot record
 * (a histogram filled from bucket counts). It speaks the registry's metric protocol: `get()` resolving
 * to name, help, type, aggregator and values, as prom-client's own metrics do.
 */
function registerCollected(
  into: Registry,
  spec: {
    name: string;
    help: string;
    type: 'histogram' | 'gauge';
    aggregator?: Aggregator;
    values: () => CollectedValue[];
  },
): void {
  into.removeSingleMetric(spec.name);
  const metric = {
    name: spec.name,
    help: spec.help,
    type: spec.type,
    aggregator: spec.aggregator ?? 'sum',
    get: async () => ({
      name: spec.name,
      help: spec.help,
      type: spec.type,
      aggregator: spec.aggregator ?? 'sum',
      values: spec.values(),
    }),
    reset: () => {},
  };
  into.registerMetric(metric as unknown as Metric);
}
