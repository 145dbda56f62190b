// Soak: mixed load through one zt mesh for minutes on end, with each zt process's RSS sampled, to
// show whether memory drifts under sustained traffic. Connection churn (rate loops), bulk
// transfers both ways and long-lived echo connections run side by side; every error is counted.
import { performance } from 'node:perf_hooks';
import { runBulk } from './load/bulk.ts';
import { EchoConnection } from './load/echo.ts';
import { runConnRate } from './load/rate.ts';
import { sampleProc } from './procstat.ts';
import type { Target } from './targets.ts';

const MiB = 1024 * 1024;

export interface SoakOptions {
  durationMs: number;
  sampleEveryMs?: number;
  log?: (s: string) => void;
}

export interface RssSeries {
  pid: number;
  /** [ms since start, RSS bytes] */
  samples: [number, number][];
}

export interface DriftSummary {
  pid: number;
  firstThirdMiB: number;
  lastThirdMiB: number;
  maxMiB: number;
  driftMiB: number;
  /** Least-squares slope over the whole run, MiB per minute. */
  slopeMiBPerMin: number;
}

export interface SoakResult {
  seconds: number;
  connections: number;
  bulkBytes: number;
  echoes: number;
  errors: number;
  firstError?: string;
  rss: RssSeries[];
  drift: DriftSummary[];
}

/** Drift of one RSS series: mean of the last third against the first, its peak, and its trend. */
export function driftOf(series: RssSeries): DriftSummary {
  const s = series.samples;
  const n = s.length;
  if (n === 0) throw new RangeError(`no RSS samples for pid ${series.pid}`);
  const third = Math.max(1, Math.floor(n / 3));
  const mean = (xs: [number, number][]) => xs.reduce((a, [, v]) => a + v, 0) / xs.length / MiB;
  const first = mean(s.slice(0, third));
  const last = mean(s.slice(n - third));
  const tx = s.reduce((a, [t]) => a + t, 0) / n;
  const ty = s.reduce((a, [, v]) => a + v, 0) / n;
  let num = 0;
  let den = 0;
  for (const [t, v] of s) {
    num += (t - tx) * (v - ty);
    den += (t - tx) ** 2;
  }
  const slope = den === 0 ? 0 : num / den; // bytes per ms
  return {
    pid: series.pid,
    firstThirdMiB: first,
    lastThirdMiB: last,
    maxMiB: Math.max(...s.map(([, v]) => v)) / MiB,
    driftMiB: last - first,
    slopeMiBPerMin: (slope * 60_000) / MiB,
  };
}

export async function runSoak(target: Target, opts: SoakOptions): Promise<SoakResult> {
  const log = opts.log ?? (() => undefined);
  const t0 = performance.now();
  const until = t0 + opts.durationMs;
  const result: SoakResult = {
    seconds: 0,
    connections: 0,
    bulkBytes: 0,
    echoes: 0,
    errors: 0,
    rss: target.pids.map((pid) => ({ pid, samples: [] })),
    drift: [],
  };
  const fail = (e: unknown) => {
    result.errors++;
    result.firstError ??= e instanceof Error ? e.message : String(e);
  };
  const sample = () => {
    const t = Math.round(performance.now() - t0);
    for (const series of result.rss) series.samples.push([t, sampleProc(series.pid).rssBytes]);
  };
  sample();
  const sampler = setInterval(sample, opts.sampleEveryMs ?? 5000);
  const progress = setInterval(() => {
    const left = Math.max(0, (until - performance.now()) / 1000);
    const rss = result.rss.map((r) => ((r.samples.at(-1)?.[1] ?? 0) / MiB).toFixed(0)).join('/');
    log(
      `soak: ${left.toFixed(0)} s left, ${result.connections} connections, ${(result.bulkBytes / MiB).toFixed(0)} MiB bulk, ${result.echoes} echoes, ${result.errors} errors, RSS ${rss} MiB`,
    );
  }, 30_000);

  const churn = async () => {
    while (performance.now() < until) {
      const r = await runConnRate(target, {
        concurrency: 8,
        durationMs: Math.min(10_000, until - performance.now()),
      });
      result.connections += r.connections;
      if (r.errors > 0) {
        result.errors += r.errors;
        result.firstError ??= r.firstError;
      }
    }
  };
  const bulk = async () => {
    while (performance.now() < until) {
      try {
        const r = await runBulk(target, {
          connections: 1,
          bytesPerConnection: 64 * MiB,
          bidirectional: true,
          timeoutMs: 120_000,
        });
        result.bulkBytes += r.bytes;
      } catch (e) {
        fail(e);
      }
    }
  };
  // Long-lived connections that exchange a little now and then, for the whole run.
  const longLived = async () => {
    let conn: EchoConnection | undefined;
    const payload = Buffer.alloc(1024, 0x65);
    while (performance.now() < until) {
      try {
        conn ??= await EchoConnection.open(target);
        const c = conn;
        const timer = setTimeout(() => c.socket.destroy(new Error('echo timed out after 10 s')), 10_000);
        await c.request(payload).finally(() => clearTimeout(timer));
        result.echoes++;
      } catch (e) {
        fail(e);
        conn?.close();
        conn = undefined;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    conn?.close();
  };
  try {
    await Promise.all([churn(), bulk(), ...Array.from({ length: 16 }, longLived)]);
  } finally {
    clearInterval(sampler);
    clearInterval(progress);
  }
  sample();
  result.seconds = (performance.now() - t0) / 1000;
  result.drift = result.rss.map(driftOf);
  return result;
}
