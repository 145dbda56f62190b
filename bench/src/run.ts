// The scenarios, run against every target with A/B interleaving: within a scenario each repetition
// runs every target once, in a rotated order, and the figure quoted is the median over repetitions.
import { type DnsResults, runDnsScenario } from './dns.ts';
import { runBulk } from './load/bulk.ts';
import { openIdle } from './load/idle.ts';
import { runLatency } from './load/latency.ts';
import { runConnRate } from './load/rate.ts';
import type { ZtFrom } from './mesh.ts';
import { type MultinetResults, runMultinetScenario } from './multinet.ts';
import { sampleProc } from './procstat.ts';
import type { Profile } from './profile.ts';
import type { Setup } from './setup.ts';
import { median } from './stats.ts';
import type { Target } from './targets.ts';
import {
  type ProcessRuntime,
  type RuntimeSummary,
  runtimeBetween,
  scrapeRuntime,
  summarizeRuntime,
} from './zt-runtime.ts';

export interface Series {
  samples: number[];
  median: number;
  errors?: number;
  note?: string;
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
}

export interface LatencyRow extends Percentiles {
  samples: Percentiles[];
  /**
   * Each run's percentiles less direct's in the same repetition, and the medians of those (null for
   * direct itself, or when direct did not run).
   */
  added: (Percentiles & { samples: Percentiles[] }) | null;
  /** CPU cores (CPU seconds per second) of the target's processes per 1,000 rps, median. */
  cpuPer1kRps: number | null;
  /** The same, per zt node (A, B). */
  cpuPer1kRpsByProcess: number[];
  /** zt only: each thread's event-loop delay and GC pauses in each run's measured window. */
  runtime?: { runs: ProcessRuntime[][]; summary: RuntimeSummary[] };
}

export interface Scaling {
  /** Connections each worker of the 2-worker mesh's node A accepted over the rate runs. */
  acceptedByWorker: Record<string, number> | null;
  /** Largest distance of a worker's share from an even one (0 = even; 0.1 = 10% off). */
  acceptSpread: number | null;
}

export interface Results {
  bulk: Record<string, Record<string, Series>>;
  rate: Record<
    string,
    Series & {
      cpuPer1kConns: number | null;
      /** zt only: connections each thread of node A accepted over the runs. */
      acceptedByThread?: Record<string, number>;
    }
  >;
  latency: Record<string, LatencyRow>;
  efficiency: {
    ztPeakRssMB: { a: number; b: number };
    ztCpuPer1kRps: { a: number; b: number; total: number };
  };
  idle: {
    requested: number;
    opened: number;
    errors: number;
    firstError?: string;
    rssBeforeMB: { a: number; b: number };
    rssAfterMB: { a: number; b: number };
    note: string;
  };
  scaling: Scaling;
  /** The DNS scenario (absent when it did not run). */
  dns?: DnsResults;
  /** The multi-network scenario: double HBONE against single (absent when it did not run). */
  multinet?: MultinetResults;
  /** An A/B run's old build, read when zt1's figures are: peak RSS after load, RSS at rest. */
  oldMemory?: { peakRssMB: { a: number; b: number }; restingRssMB: { a: number; b: number } };
  skipped: Record<string, string>;
}

const MB = 2 ** 20;

function rotate<T>(xs: T[], by: number): T[] {
  const k = by % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

function cpuOf(pids: number[]): number[] {
  return pids.map((p) => sampleProc(p).cpuSeconds);
}

/**
 * Scrapes each zt process of `t` at the start and the end of a window (nothing for other targets);
 * `result()` gives each process's threads over the window.
 */
function runtimeProbe(t: Target): {
  begin(): Promise<void>;
  end(): Promise<void>;
  result(): ProcessRuntime[];
} {
  const endpoints = t.metrics ?? [];
  let before: Awaited<ReturnType<typeof scrapeRuntime>>[] = [];
  let after: typeof before = [];
  return {
    begin: async () => {
      before = await Promise.all(endpoints.map((m) => scrapeRuntime(m.url)));
    },
    end: async () => {
      after = await Promise.all(endpoints.map((m) => scrapeRuntime(m.url)));
    },
    result: () =>
      endpoints.flatMap((m, i) => {
        const b = before[i];
        const a = after[i];
        return b && a ? [{ node: m.node, threads: runtimeBetween(b, a) }] : [];
      }),
  };
}

/** max |n_i / mean - 1| over the workers' counts; null with fewer than 2 workers or no connections. */
export function acceptSpread(byThread: Record<string, number>): number | null {
  const counts = Object.entries(byThread)
    .filter(([thread]) => thread.startsWith('worker-'))
    .map(([, n]) => n);
  const total = counts.reduce((a, b) => a + b, 0);
  if (counts.length < 2 || total <= 0) return null;
  const mean = total / counts.length;
  return Math.max(...counts.map((n) => Math.abs(n / mean - 1)));
}

/**
 * Order matters: the connection-rate scenario runs last because its tens of thousands of closed
 * connections sit in TIME_WAIT on the pod addresses for a minute, and the idle scenario needs
 * those ports; peak RSS is read before the idle scenario so it reflects load, not 10k sockets.
 */
export type Scenario = 'bulk' | 'latency' | 'idle' | 'rate' | 'dns' | 'multinet';
export const SCENARIOS: readonly Scenario[] = ['bulk', 'latency', 'idle', 'rate', 'dns', 'multinet'];

/** What the DNS and multi-network scenarios need beyond the setup: they start zt nodes of their own. */
export interface DnsScenarioOptions {
  dir: string;
  from: ZtFrom;
  nodeArgs?: string[];
}

export async function runScenarios(
  setup: Setup,
  profile: Profile,
  log: (s: string) => void,
  only: ReadonlySet<Scenario> = new Set(SCENARIOS),
  dnsOptions?: DnsScenarioOptions,
): Promise<Results> {
  const want = (s: Scenario): boolean => only.has(s);
  // --- DNS (its own zt node and forward target; UDP, so first: nothing else's sockets linger) ---
  let dns: DnsResults | undefined;
  if (want('dns') && dnsOptions) {
    dns = await runDnsScenario({
      ...dnsOptions,
      durationMs: Math.min(3000, profile.latencyMs),
      reps: profile.reps,
      log,
    });
  }
  const peers = (['stunnel', 'haproxy'] as const).flatMap((k) =>
    setup.peers[k] ? [setup.peers[k] as Target] : [],
  );
  // An A/B run's old build rotates with the others, beside this tree's zt1.
  const base = [setup.direct, setup.zt1, ...(setup.old ? [setup.old] : []), ...peers];
  const skipped: Record<string, string> = {};
  for (const [k, why] of Object.entries(setup.missing))
    skipped[k === 'stunnel' ? 'stunnel pair' : 'HAProxy pair'] = why;

  const interleave = async <R>(
    label: string,
    targets: Target[],
    once: (t: Target) => Promise<R>,
  ): Promise<Map<Target, R[]>> => {
    const out = new Map<Target, R[]>(targets.map((t) => [t, []]));
    for (let rep = 0; rep < profile.reps; rep++) {
      for (const t of rotate(targets, rep)) {
        out.get(t)?.push(await once(t));
      }
      log(`  ${label}: run ${rep + 1}/${profile.reps} done`);
    }
    return out;
  };

  // --- warm-up (unmeasured) ---------------------------------------------------------------------
  if (want('bulk') && profile.warmupBytes > 0) {
    for (const t of [...base, setup.zt2]) {
      await runBulk(t, { connections: 1, bytesPerConnection: profile.warmupBytes, bidirectional: false });
    }
    log(`  warm-up: ${profile.warmupBytes / MB} MiB through each target`);
  }

  // --- bulk ---------------------------------------------------------------------------------------
  const bulk: Results['bulk'] = {};
  const bulkCases = [
    { key: '1 conn, one way', connections: 1, bytes: profile.bulk1Bytes, bidi: false, targets: base },
    { key: '1 conn, both ways', connections: 1, bytes: profile.bulk1BidiBytes, bidi: true, targets: base },
    {
      key: '8 conns, one way',
      connections: 8,
      bytes: profile.bulk8Bytes,
      bidi: false,
      targets: [...base, setup.zt2],
    },
    { key: '8 conns, both ways', connections: 8, bytes: profile.bulk8BidiBytes, bidi: true, targets: base },
  ];
  for (const c of bulkCases) {
    if (!want('bulk')) break;
    const runs = await interleave(`bulk ${c.key}`, c.targets, (t) =>
      runBulk(t, { connections: c.connections, bytesPerConnection: c.bytes, bidirectional: c.bidi }),
    );
    bulk[c.key] = {};
    for (const [t, rs] of runs) {
      const samples = rs.map((r) => r.gbps);
      bulk[c.key][t.name] = { samples, median: median(samples) };
    }
  }

  // --- multi-network: double HBONE against single (its own three zt nodes, stopped after) ----------
  let multinet: MultinetResults | undefined;
  if (want('multinet') && dnsOptions) {
    multinet = await runMultinetScenario({
      ...dnsOptions,
      single: setup.zt1,
      serverPort: setup.serverPort,
      bytes: profile.bulk1Bytes,
      warmupBytes: Math.min(profile.warmupBytes, profile.bulk1Bytes),
      reps: profile.reps,
      log,
    });
  }

  // --- latency at a fixed rate (+ CPU per 1,000 rps) -----------------------------------------------
  // The 2-worker mesh runs too: its CPU per request against the 1-worker mesh's is the cross-thread cost.
  const latency: Results['latency'] = {};
  type LatRun = { r: Awaited<ReturnType<typeof runLatency>>; perProc: number[]; runtime: ProcessRuntime[] };
  const latRuns: Map<Target, LatRun[]> = !want('latency')
    ? new Map()
    : await interleave('latency', [...base, setup.zt2], async (t) => {
        // The metric scrapes stay outside the CPU window; zt's own figures cover the run with its
        // connections' set-up, as the CPU figure does.
        const probe = runtimeProbe(t);
        await probe.begin();
        const before = cpuOf(t.pids);
        const r = await runLatency(t, {
          ratePerSec: profile.latencyRate,
          durationMs: profile.latencyMs,
          connections: profile.latencyConnections,
        });
        const perProc = cpuOf(t.pids).map((v, i) => v - (before[i] ?? 0));
        await probe.end();
        const seconds = profile.latencyMs / 1000;
        const per1k = (cpu: number): number => cpu / seconds / (r.achievedPerSec / 1000);
        return { r, perProc: perProc.map(per1k), runtime: probe.result() };
      });
  const directLat = latRuns.get(setup.direct);
  for (const [t, rs] of latRuns) {
    const pick = (k: keyof Percentiles): number => median(rs.map((x) => x.r[k]));
    const byProc = t.pids.map((_, i) => median(rs.map((x) => x.perProc[i] ?? 0)));
    const samples = rs.map((x) => ({ p50: x.r.p50, p90: x.r.p90, p99: x.r.p99 }));
    const runtimeRuns = rs.map((x) => x.runtime);
    latency[t.name] = {
      p50: pick('p50'),
      p90: pick('p90'),
      p99: pick('p99'),
      samples,
      added: t === setup.direct || !directLat ? null : addedLatency(samples, directLat),
      cpuPer1kRps: t.pids.length ? byProc.reduce((a, b) => a + b, 0) : null,
      cpuPer1kRpsByProcess: byProc,
      ...(t.metrics?.length
        ? { runtime: { runs: runtimeRuns, summary: summarizeRuntime(runtimeRuns, median) } }
        : {}),
    };
  }
  const w1 = setup.meshes.w1;
  const oldMesh = setup.meshes.old;
  const ztLat = latency[setup.zt1.name];
  const peak = (m: typeof w1): { a: number; b: number } => ({
    a: sampleProc(m.a.pid).hwmBytes / MB,
    b: sampleProc(m.b.pid).hwmBytes / MB,
  });
  const oldPeak = oldMesh ? peak(oldMesh) : undefined;
  const efficiency: Results['efficiency'] = {
    ztPeakRssMB: peak(w1),
    ztCpuPer1kRps: {
      a: ztLat?.cpuPer1kRpsByProcess[0] ?? Number.NaN,
      b: ztLat?.cpuPer1kRpsByProcess[1] ?? Number.NaN,
      total: ztLat?.cpuPer1kRps ?? Number.NaN,
    },
  };

  // --- idle connections through the mesh -----------------------------------------------------------
  if (want('idle')) log(`  idle: opening ${profile.idleConnections} connections through ${setup.zt1.name}`);
  const rss = (m = w1): { a: number; b: number } => ({
    a: sampleProc(m.a.pid).rssBytes / MB,
    b: sampleProc(m.b.pid).rssBytes / MB,
  });
  // zt hands freed memory back once traffic has been quiet for 2 s (core's MemoryRelease): read
  // the resting figure an operator would see, not the tail of the latency run.
  await new Promise((r) => setTimeout(r, 3000));
  const rssBeforeMB = rss();
  const oldMemory = oldMesh && oldPeak ? { peakRssMB: oldPeak, restingRssMB: rss(oldMesh) } : undefined;
  const hold = want('idle')
    ? await openIdle(setup.zt1, profile.idleConnections)
    : { opened: 0, errors: 0, firstError: undefined, close: async () => {} };
  // Let allocations settle (GC, socket buffers) before reading.
  await new Promise((r) => setTimeout(r, 1000));
  const rssAfterMB = rss();
  await hold.close();
  // Ten thousand streams and sockets are torn down after close(); let that finish before the next
  // scenario, or its first run measures the teardown (seen: 15 conn/s instead of ~400).
  if (want('idle')) await new Promise((r) => setTimeout(r, 3000));
  if (hold.errors > 0)
    log(`  idle: ${hold.errors} failed; zt A says:\n${w1.a.tail()}\nzt B says:\n${w1.b.tail()}`);
  const idle: Results['idle'] = {
    requested: profile.idleConnections,
    opened: hold.opened,
    errors: hold.errors,
    ...(hold.firstError ? { firstError: hold.firstError } : {}),
    rssBeforeMB,
    rssAfterMB,
    note: !want('idle')
      ? 'not run (--only)'
      : hold.opened < profile.idleConnections
        ? `only ${hold.opened} of ${profile.idleConnections} opened (fd limit ${process.env['ZT_BENCH_NOFILE'] ?? 'inherited'}); first error: ${hold.firstError}`
        : 'each connection proven by one 1 KB echo, then held idle',
  };
  log(
    `  idle: ${hold.opened} open; zt A ${rssAfterMB.a.toFixed(0)} MB, zt B ${rssAfterMB.b.toFixed(0)} MB RSS`,
  );

  // --- connection rate (+ CPU per 1,000 connections) ------------------------------------------------
  const rate: Results['rate'] = {};
  const rateTargets = [...base, setup.zt2];
  type RateRun = Awaited<ReturnType<typeof runConnRate>> & { cpu: number; runtime: ProcessRuntime[] };
  if (want('rate') && profile.warmupRateMs > 0) {
    // zt's connection set-up paths (SOCKS5, CONNECT, pool) warm up over seconds, and the 2-worker
    // mesh has seen no connection churn before this point.
    for (const t of rateTargets) {
      await runConnRate(t, { concurrency: profile.rateConcurrency, durationMs: profile.warmupRateMs });
    }
    log(`  warm-up: ${profile.warmupRateMs} ms of connections through each target`);
  }
  const rateRuns: Map<Target, RateRun[]> = !want('rate')
    ? new Map()
    : await interleave('connection rate', rateTargets, async (t) => {
        const probe = runtimeProbe(t);
        await probe.begin();
        const before = cpuOf(t.pids);
        const r = await runConnRate(t, { concurrency: profile.rateConcurrency, durationMs: profile.rateMs });
        const cpu = cpuOf(t.pids).reduce((s, v, i) => s + v - (before[i] ?? 0), 0);
        await probe.end();
        return { ...r, cpu, runtime: probe.result() };
      });
  for (const [t, rs] of rateRuns) {
    const samples = rs.map((r) => r.perSecond);
    const errors = rs.reduce((s, r) => s + r.errors, 0);
    const firstError = rs.find((r) => r.firstError)?.firstError;
    const acceptedByThread = acceptedOnNodeA(rs.map((r) => r.runtime));
    rate[t.name] = {
      samples,
      median: median(samples),
      errors,
      ...(firstError ? { note: `first error: ${firstError}` } : {}),
      cpuPer1kConns: t.pids.length
        ? median(rs.map((r) => (r.cpu / Math.max(1, r.connections)) * 1000))
        : null,
      ...(acceptedByThread ? { acceptedByThread } : {}),
    };
  }
  const acceptedByWorker = rate[setup.zt2.name]?.acceptedByThread ?? null;
  const scaling: Scaling = {
    acceptedByWorker,
    acceptSpread: acceptedByWorker ? acceptSpread(acceptedByWorker) : null,
  };

  return {
    bulk,
    rate,
    latency,
    efficiency,
    idle,
    scaling,
    ...(oldMemory ? { oldMemory } : {}),
    ...(dns ? { dns } : {}),
    ...(multinet ? { multinet } : {}),
    skipped,
  };
}

/** Each run's figures less direct's of the same repetition (runs pair up by index), and their medians. */
export function addedLatency(
  runs: readonly Percentiles[],
  direct: readonly { r: Percentiles }[],
): Percentiles & { samples: Percentiles[] } {
  const samples = runs.flatMap((x, i) => {
    const d = direct[i]?.r;
    return d ? [{ p50: x.p50 - d.p50, p90: x.p90 - d.p90, p99: x.p99 - d.p99 }] : [];
  });
  return {
    p50: median(samples.map((x) => x.p50)),
    p90: median(samples.map((x) => x.p90)),
    p99: median(samples.map((x) => x.p99)),
    samples,
  };
}

/** Connections node A's threads accepted, summed over runs; undefined when zt did not say. */
function acceptedOnNodeA(runs: readonly ProcessRuntime[][]): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  let seen = false;
  for (const run of runs) {
    for (const t of run.find((p) => p.node === 'A')?.threads ?? []) {
      if (t.accepted === null) continue;
      seen = true;
      out[t.thread] = (out[t.thread] ?? 0) + t.accepted;
    }
  }
  return seen ? out : undefined;
}

/** The flat map of figures budgets refer to; null where a peer pair is missing. */
export function deriveMetrics(
  r: Results,
  names: { direct: string; zt1: string; zt2: string },
): Record<string, number | null> {
  const m: Record<string, number | null> = {};
  const ratio = (a: number | undefined, b: number | undefined): number | null =>
    a === undefined || b === undefined || !(b > 0) ? null : a / b;
  const peerNames = { stunnel: 'stunnel pair', haproxy: 'HAProxy pair' };
  const slug: Record<string, string> = {
    '1 conn, one way': 'bulk1_up',
    '1 conn, both ways': 'bulk1_bidi',
    '8 conns, one way': 'bulk8_up',
    '8 conns, both ways': 'bulk8_bidi',
  };
  for (const [key, rows] of Object.entries(r.bulk)) {
    const s = slug[key] ?? key;
    const zt = rows[names.zt1]?.median;
    m[`${s}.zt_vs_direct`] = ratio(zt, rows[names.direct]?.median);
    for (const [k, n] of Object.entries(peerNames)) {
      m[`${s}.zt_vs_${k}`] = ratio(zt, rows[n]?.median);
      m[`${s}.${k}_vs_direct`] = ratio(rows[n]?.median, rows[names.direct]?.median);
    }
  }
  const zr = r.rate[names.zt1]?.median;
  m['rate.zt_vs_direct'] = ratio(zr, r.rate[names.direct]?.median);
  for (const [k, n] of Object.entries(peerNames)) m[`rate.zt_vs_${k}`] = ratio(zr, r.rate[n]?.median);
  // Added latency: the median over runs of each run's figure less direct's in the same repetition.
  const z = r.latency[names.zt1];
  if (z?.added) {
    m['latency.added_p50_ms'] = z.added.p50;
    m['latency.added_p90_ms'] = z.added.p90;
    m['latency.added_p99_ms'] = z.added.p99;
  }
  const h = r.latency[peerNames.haproxy];
  for (const [k, n] of Object.entries(peerNames)) {
    const added = r.latency[n]?.added ?? null;
    for (const p of ['p50', 'p90', 'p99'] as const) m[`latency.${k}_added_${p}_ms`] = added ? added[p] : null;
  }
  // The tail target: zt adds no more at p99 than the HAProxy pair in (at least 4 of 5) runs.
  const zRuns = z?.added?.samples ?? [];
  const hRuns = h?.added?.samples ?? [];
  const paired = Math.min(zRuns.length, hRuns.length);
  let wins = 0;
  for (let i = 0; i < paired; i++) if ((zRuns[i]?.p99 ?? 0) <= (hRuns[i]?.p99 ?? 0)) wins++;
  m['latency.zt_p99_at_most_haproxy_fraction'] = paired > 0 ? wins / paired : null;
  m['efficiency.zt_cpu_per_1k_rps'] = r.efficiency.ztCpuPer1kRps.total;
  m['efficiency.zt_cpu_vs_haproxy'] = ratio(z?.cpuPer1kRps ?? undefined, h?.cpuPer1kRps ?? undefined);
  m['efficiency.zt_peak_rss_mb'] = Math.max(r.efficiency.ztPeakRssMB.a, r.efficiency.ztPeakRssMB.b);
  m['idle.zt_rss_mb'] = Math.max(r.idle.rssAfterMB.a, r.idle.rssAfterMB.b);
  m['idle.opened_fraction'] = r.idle.opened / r.idle.requested;
  // A zt with no connections open, after the load scenarios grew its heaps.
  m['idle.zt_rss_before_mb'] = Math.max(r.idle.rssBeforeMB.a, r.idle.rssBeforeMB.b);
  m['idle.zt_kb_per_conn'] =
    r.idle.opened > 0
      ? (Math.max(r.idle.rssAfterMB.a - r.idle.rssBeforeMB.a, r.idle.rssAfterMB.b - r.idle.rssBeforeMB.b) *
          1024) /
        r.idle.opened
      : null;
  m['scaling.rate_2w_vs_1w'] = ratio(r.rate[names.zt2]?.median, zr);
  m['scaling.bulk8_2w_vs_1w'] = ratio(
    r.bulk['8 conns, one way']?.[names.zt2]?.median,
    r.bulk['8 conns, one way']?.[names.zt1]?.median,
  );
  m['scaling.accept_spread'] = r.scaling.acceptSpread;
  m['dns.mesh_qps'] = r.dns ? r.dns.mesh.qps : null;
  m['dns.mesh_p99_ms'] = r.dns ? r.dns.mesh.p99Ms : null;
  m['dns.mesh_vs_direct_qps'] = r.dns ? r.dns.ratios.meshQps : null;
  m['dns.forwarded_vs_direct_qps'] = r.dns ? r.dns.ratios.forwardedQps : null;
  m['dns.forwarded_vs_direct_p99'] = r.dns ? r.dns.ratios.forwardedP99 : null;
  m['multinet.double_vs_single_hbone'] = r.multinet ? r.multinet.ratio : null;
  m['scaling.cpu_per_1k_rps_2w_vs_1w'] = ratio(
    r.latency[names.zt2]?.cpuPer1kRps ?? undefined,
    z?.cpuPer1kRps ?? undefined,
  );
  m['scaling.cpu_per_1k_conns_2w_vs_1w'] = ratio(
    r.rate[names.zt2]?.cpuPer1kConns ?? undefined,
    r.rate[names.zt1]?.cpuPer1kConns ?? undefined,
  );
  return m;
}
