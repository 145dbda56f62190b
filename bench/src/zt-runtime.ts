// zt's own view of a scenario, read from each zt process's metrics endpoint (15020) before and after
// it: per thread, the event-loop delay (zt_event_loop_delay_seconds), GC pauses (zt_gc_pause_seconds)
// and connections accepted. A zt that does not export them (an older build under --against) reads
// as null, not as zero.
import { RUNTIME_METRIC_NAMES as N } from '@zt/metrics';
import { type Exposition, parseExposition, type Sample } from '@zt/metrics/testing';

export interface LoopDelay {
  /** Estimated from the histogram's buckets, as Prometheus' histogram_quantile does. */
  p50Ms: number;
  p99Ms: number;
  /** The largest delay in the window (the zt_event_loop_delay_max_seconds gauge). */
  maxMs: number;
  samples: number;
}

export interface GcPauses {
  count: number;
  totalMs: number;
  maxMs: number;
  /** Pauses by V8 kind (scavenge, mark_compact, ...). */
  byKind: Record<string, number>;
}

export interface ThreadRuntime {
  thread: string;
  loopDelay: LoopDelay | null;
  gc: GcPauses | null;
  accepted: number | null;
}

/** One zt process during one window. */
export interface ProcessRuntime {
  node: string;
  threads: ThreadRuntime[];
}

/** The metrics text of one zt, or null when it has none of the runtime series (or cannot be read). */
export async function scrapeRuntime(url: string): Promise<Exposition | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    if (res.status !== 200) return null;
    const exp = parseExposition(text);
    return exp.types.has(N.eventLoopDelay) ? exp : null;
  } catch {
    return null;
  }
}

/**
 * Each thread's figures for the window between two scrapes. The max gauges cover "since the previous
 * read", so they are right when nothing else scraped the zt in between, as in the bench.
 */
export function runtimeBetween(before: Exposition, after: Exposition): ThreadRuntime[] {
  const threads = new Set<string>();
  for (const s of after.samples) {
    if (s.name.startsWith('zt_') && s.labels['thread'] !== undefined) threads.add(s.labels['thread']);
  }
  return [...threads].sort(threadOrder).map((thread) => ({
    thread,
    loopDelay: loopDelayBetween(before, after, thread),
    gc: gcBetween(before, after, thread),
    accepted: acceptedBetween(before, after, thread),
  }));
}

/** main first, then the workers in index order. */
function threadOrder(a: string, b: string): number {
  if (a === b) return 0;
  if (a === 'main') return -1;
  if (b === 'main') return 1;
  return a.localeCompare(b, 'en', { numeric: true });
}

function value(exp: Exposition, name: string, labels: Record<string, string>): number | undefined {
  return exp.samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}

function matching(exp: Exposition, name: string, labels: Record<string, string>): Sample[] {
  return exp.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

function loopDelayBetween(before: Exposition, after: Exposition, thread: string): LoopDelay | null {
  const buckets = matching(after, `${N.eventLoopDelay}_bucket`, { thread });
  if (buckets.length === 0) return null;
  const delta = buckets.map((s) => ({
    le: s.labels['le'] === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels['le']),
    count: s.value - (value(before, s.name, s.labels) ?? 0),
  }));
  delta.sort((a, b) => a.le - b.le);
  const samples = delta.at(-1)?.count ?? 0;
  const maxMs = (value(after, N.eventLoopDelayMax, { thread }) ?? Number.NaN) * 1000;
  // Interpolating inside a bucket can land above the largest delay seen, which the gauge knows.
  const atMostMax = (ms: number): number => (Number.isFinite(maxMs) ? Math.min(ms, maxMs) : ms);
  return {
    p50Ms: atMostMax(histogramQuantile(delta, 0.5) * 1000),
    p99Ms: atMostMax(histogramQuantile(delta, 0.99) * 1000),
    maxMs,
    samples,
  };
}

function gcBetween(before: Exposition, after: Exposition, thread: string): GcPauses | null {
  const counts = matching(after, `${N.gcPause}_count`, { thread });
  const max = value(after, N.gcPauseMax, { thread });
  if (max === undefined) return null;
  const byKind: Record<string, number> = {};
  let count = 0;
  let totalMs = 0;
  for (const c of counts) {
    const kind = c.labels['kind'] ?? 'other';
    const n = c.value - (value(before, c.name, c.labels) ?? 0);
    const sumLabels = { thread, kind };
    const sum =
      (value(after, `${N.gcPause}_sum`, sumLabels) ?? 0) -
      (value(before, `${N.gcPause}_sum`, sumLabels) ?? 0);
    if (n > 0) byKind[kind] = n;
    count += n;
    totalMs += sum * 1000;
  }
  return { count, totalMs, maxMs: max * 1000, byKind };
}

function acceptedBetween(before: Exposition, after: Exposition, thread: string): number | null {
  const a = value(after, N.connectionsAccepted, { thread });
  return a === undefined ? null : a - (value(before, N.connectionsAccepted, { thread }) ?? 0);
}

/**
 * The q-quantile of a cumulative histogram (ascending bounds, the last +Inf), interpolated linearly
 * within its bucket as Prometheus' histogram_quantile does; the highest finite bound when it falls in
 * the +Inf bucket; NaN when empty.
 */
export function histogramQuantile(buckets: readonly { le: number; count: number }[], q: number): number {
  const total = buckets.at(-1)?.count ?? 0;
  if (!(total > 0)) return Number.NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe;
      if (b.count === prevCount) return b.le;
      return prevLe + ((b.le - prevLe) * (rank - prevCount)) / (b.count - prevCount);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

/** Per-run figures of one process and thread folded over runs: medians, and the max of the maxima. */
export interface RuntimeSummary {
  node: string;
  thread: string;
  loopDelay: { p50Ms: number; p99Ms: number; maxMs: number } | null;
  gc: { count: number; totalMs: number; maxMs: number } | null;
}

export function summarizeRuntime(
  runs: readonly (readonly ProcessRuntime[])[],
  median: (xs: number[]) => number,
): RuntimeSummary[] {
  const keys = new Map<string, { node: string; thread: string; rows: ThreadRuntime[] }>();
  for (const run of runs) {
    for (const p of run) {
      for (const t of p.threads) {
        const key = `${p.node}\u0000${t.thread}`;
        const entry = keys.get(key) ?? { node: p.node, thread: t.thread, rows: [] };
        entry.rows.push(t);
        keys.set(key, entry);
      }
    }
  }
  return [...keys.values()].map(({ node, thread, rows }) => {
    const loops = rows.flatMap((r) => (r.loopDelay ? [r.loopDelay] : []));
    const gcs = rows.flatMap((r) => (r.gc ? [r.gc] : []));
    return {
      node,
      thread,
      loopDelay: loops.length
        ? {
            p50Ms: median(loops.map((l) => l.p50Ms)),
            p99Ms: median(loops.map((l) => l.p99Ms)),
            maxMs: Math.max(...loops.map((l) => l.maxMs)),
          }
        : null,
      gc: gcs.length
        ? {
            count: median(gcs.map((g) => g.count)),
            totalMs: median(gcs.map((g) => g.totalMs)),
            maxMs: Math.max(...gcs.map((g) => g.maxMs)),
          }
        : null,
    };
  });
}
