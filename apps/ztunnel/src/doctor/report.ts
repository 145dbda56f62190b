// `zt doctor`'s text output: one line per check, the fix under a failing or warning one, a tally.
import type { DoctorReport, Verdict } from './types.ts';

const TAG: Record<Verdict, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };
const COLOR: Record<Verdict, number> = { pass: 32, warn: 33, fail: 31, skip: 2 };

export interface FormatOptions {
  color?: boolean;
  /** Also print each check's details. */
  verbose?: boolean;
}

export function tally(report: DoctorReport): string {
  const n = (v: Verdict) => report.checks.filter((c) => c.verdict === v).length;
  const parts = [`${n('pass')} passed`];
  if (n('warn')) parts.push(`${n('warn')} warning${n('warn') === 1 ? '' : 's'}`);
  if (n('fail')) parts.push(`${n('fail')} failed`);
  if (n('skip')) parts.push(`${n('skip')} skipped`);
  return `${report.checks.length} checks: ${parts.join(', ')}`;
}

export function formatReport(report: DoctorReport, opts: FormatOptions = {}): string {
  const paint = (v: Verdict, s: string) => (opts.color ? `\x1b[${COLOR[v]}m${s}\x1b[0m` : s);
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const indent = ' '.repeat(6 + width + 2);
  const who = [
    report.node ? `node ${report.node}` : undefined,
    report.pid !== undefined ? `pid ${report.pid}` : undefined,
    report.version ? `zt ${report.version}` : undefined,
  ].filter(Boolean);
  const lines = [`zt doctor: ${report.admin}${who.length ? ` (${who.join(', ')})` : ''}`];
  for (const c of report.checks) {
    lines.push(`${paint(c.verdict, TAG[c.verdict])}  ${c.name.padEnd(width)}  ${c.summary}`);
    if (c.fix && (c.verdict === 'fail' || c.verdict === 'warn')) lines.push(`${indent}fix: ${c.fix}`);
    if (opts.verbose) for (const d of c.details) lines.push(`${indent}- ${d}`);
  }
  lines.push(tally(report));
  return `${lines.join('\n')}\n`;
}
