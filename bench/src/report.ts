// The printed table: one block per scenario, every row with its ratio to direct, then the budgets.
import type { BudgetCheck } from './budgets.ts';
import type { Percentiles, Results } from './run.ts';

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}
function lpad(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}
const f = (v: number | null | undefined, digits = 2): string =>
  v === null || v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits);

export function renderTable(r: Results, budgets: BudgetCheck[], header: string[], direct = 'direct'): string {
  const out: string[] = [...header, ''];
  for (const [key, rows] of Object.entries(r.bulk)) {
    out.push(`bulk throughput, ${key} (Gbit/s, both directions summed; median [runs])`);
    const d = rows[direct]?.median;
    for (const [name, s] of Object.entries(rows)) {
      out.push(
        `  ${pad(name, 16)} ${lpad(f(s.median), 7)}  x${f(d ? s.median / d : null)} of direct  [${s.samples.map((v) => f(v)).join(', ')}]`,
      );
    }
  }
  if (Object.keys(r.rate).length > 0)
    out.push('connection rate (new connection, 1 KB request, 1 KB response, close; conn/s)');
  const dr = r.rate[direct]?.median;
  for (const [name, s] of Object.entries(r.rate)) {
    const cpu = s.cpuPer1kConns === null ? '' : `  ${f(s.cpuPer1kConns, 3)} CPU-s per 1k conns`;
    const errs = s.errors ? `  ${s.errors} errors (${s.note ?? ''})` : '';
    out.push(
      `  ${pad(name, 16)} ${lpad(f(s.median, 0), 7)}  x${f(dr ? s.median / dr : null)} of direct${cpu}  [${s.samples.map((v) => f(v, 0)).join(', ')}]${errs}`,
    );
  }
  if (Object.keys(r.latency).length > 0)
    out.push(
      'latency at a fixed rate (1 KB request/response, measured from the intended send time; ms; added = less direct in the same run, median [each run])',
    );
  const triple = (x: Percentiles): string => `${f(x.p50)}/${f(x.p90)}/${f(x.p99)}`;
  for (const [name, l] of Object.entries(r.latency)) {
    const added = l.added
      ? `  added p50/p90/p99 ${f(l.added.p50)} / ${f(l.added.p90)} / ${f(l.added.p99)} [${l.added.samples.map(triple).join(', ')}]`
      : '';
    const cpu = l.cpuPer1kRps === null ? '' : `  ${f(l.cpuPer1kRps, 3)} cores per 1k rps`;
    out.push(`  ${pad(name, 16)} p50 ${f(l.p50)}  p90 ${f(l.p90)}  p99 ${f(l.p99)}${cpu}${added}`);
  }
  const runtimeRows = Object.entries(r.latency).flatMap(([name, l]) =>
    (l.runtime?.summary ?? []).map((s) => ({ name, s })),
  );
  if (runtimeRows.length > 0) {
    out.push(
      "  zt's own view during the latency runs (per process and thread; median of runs, max: largest of runs):",
    );
    for (const { name, s } of runtimeRows) {
      const loop = s.loopDelay
        ? `event-loop delay p50/p99/max ${f(s.loopDelay.p50Ms)} / ${f(s.loopDelay.p99Ms)} / ${f(s.loopDelay.maxMs)} ms`
        : 'event-loop delay -';
      const gc = s.gc
        ? `GC ${f(s.gc.count, 0)} pauses, ${f(s.gc.totalMs)} ms in all, max ${f(s.gc.maxMs)} ms`
        : 'GC -';
      out.push(`    ${pad(`${name} node ${s.node} ${s.thread}`, 32)} ${loop}; ${gc}`);
    }
  }
  const e = r.efficiency;
  out.push(
    `efficiency (zt, 1 worker): ${f(e.ztCpuPer1kRps.a, 3)} + ${f(e.ztCpuPer1kRps.b, 3)} cores per 1k rps (node A + B); peak RSS (VmHWM) A ${f(e.ztPeakRssMB.a, 0)} MB, B ${f(e.ztPeakRssMB.b, 0)} MB`,
  );
  const i = r.idle;
  out.push(
    `idle: ${i.opened}/${i.requested} connections through zt held; RSS A ${f(i.rssBeforeMB.a, 0)} -> ${f(i.rssAfterMB.a, 0)} MB, B ${f(i.rssBeforeMB.b, 0)} -> ${f(i.rssAfterMB.b, 0)} MB (${i.note})`,
  );
  const sc = r.scaling;
  if (sc.acceptedByWorker) {
    const counts = Object.entries(sc.acceptedByWorker)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ');
    out.push(
      `scaling: connections accepted by node A's threads over the 2-worker rate runs: ${counts}; spread ${f(sc.acceptSpread, 3)} (0 = even)`,
    );
  }
  for (const [name, why] of Object.entries(r.skipped)) out.push(`${name}: skipped, ${why}`);
  out.push('', 'budgets');
  for (const b of budgets) {
    const mark = b.status === 'pass' ? 'ok  ' : b.status === 'skipped' ? 'skip' : 'FAIL';
    const target = b.target !== undefined ? `  (target ${b.target})` : '';
    out.push(
      `  ${mark} ${pad(b.name, 30)} ${lpad(f(b.value, 3), 8)} ${pad(b.limit, 14)}${target}${b.reason ? `  ${b.reason}` : ''}`,
    );
  }
  return out.join('\n');
}
