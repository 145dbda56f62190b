// An A/B run's verdict: this tree's 1-worker zt against the old build's, scenario by scenario, as
// new/old ratios of figures measured in the same run, interleaved.
import type { Results } from './run.ts';

export interface AbRow {
  scenario: string;
  figure: string;
  unit: string;
  /** Which way is better for this figure. */
  better: 'higher' | 'lower';
  new: number;
  old: number;
  /** new / old; null when old is 0 or either side is missing. */
  ratio: number | null;
}

export function compareBuilds(r: Results, newName: string, oldName: string): AbRow[] {
  const rows: AbRow[] = [];
  const add = (
    scenario: string,
    figure: string,
    unit: string,
    better: AbRow['better'],
    n: number | null | undefined,
    o: number | null | undefined,
  ): void => {
    if (n === null || n === undefined || o === null || o === undefined) return;
    if (!Number.isFinite(n) || !Number.isFinite(o)) return;
    rows.push({ scenario, figure, unit, better, new: n, old: o, ratio: o !== 0 ? n / o : null });
  };
  for (const [key, byTarget] of Object.entries(r.bulk)) {
    add(
      `bulk ${key}`,
      'throughput',
      'Gbit/s',
      'higher',
      byTarget[newName]?.median,
      byTarget[oldName]?.median,
    );
  }
  const rn = r.rate[newName];
  const ro = r.rate[oldName];
  add('connection rate', 'connections', 'conn/s', 'higher', rn?.median, ro?.median);
  add('connection rate', 'CPU per 1k connections', 'CPU-s', 'lower', rn?.cpuPer1kConns, ro?.cpuPer1kConns);
  const ln = r.latency[newName];
  const lo = r.latency[oldName];
  for (const p of ['p50', 'p90', 'p99'] as const) add('latency', p, 'ms', 'lower', ln?.[p], lo?.[p]);
  add('latency', 'CPU per 1k rps', 'cores', 'lower', ln?.cpuPer1kRps, lo?.cpuPer1kRps);
  if (r.oldMemory) {
    const e = r.efficiency.ztPeakRssMB;
    const m = r.oldMemory;
    add(
      'memory',
      'peak RSS after load (larger node)',
      'MB',
      'lower',
      Math.max(e.a, e.b),
      Math.max(m.peakRssMB.a, m.peakRssMB.b),
    );
    const rest = r.idle.rssBeforeMB;
    add(
      'memory',
      'RSS at rest (larger node)',
      'MB',
      'lower',
      Math.max(rest.a, rest.b),
      Math.max(m.restingRssMB.a, m.restingRssMB.b),
    );
  }
  return rows;
}

const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(Math.abs(v) >= 10 ? 1 : 3));

/** The table's A/B block. */
export function renderAb(rows: readonly AbRow[], newLabel: string, oldLabel: string): string[] {
  const out = [`A/B: new/old, new = ${newLabel}, old = ${oldLabel} (same run, interleaved; medians)`];
  for (const row of rows) {
    const ratio = row.ratio === null ? '-' : `x${row.ratio.toFixed(3)}`;
    out.push(
      `  ${`${row.scenario}, ${row.figure}`.padEnd(44)} ${ratio.padStart(7)}  (${fmt(row.new)} vs ${fmt(row.old)} ${row.unit}; ${row.better} is better)`,
    );
  }
  if (rows.length === 0) out.push('  nothing to compare: no scenario ran both builds');
  return out;
}
