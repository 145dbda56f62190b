// What every check of `zt doctor` returns, and the names of the checks, in the order they print.

export type Verdict = 'pass' | 'warn' | 'fail' | 'skip';

export const CHECKS = ['configuration', 'CA', 'xDS', 'peers', 'in-pod', 'ports'] as const;
export type CheckName = (typeof CHECKS)[number];

export interface CheckResult {
  name: CheckName;
  verdict: Verdict;
  /** One line: what was found. */
  summary: string;
  /** Supporting lines (per certificate, per peer, per pod...). */
  details: string[];
  /** One line: what to try, when something is wrong. */
  fix?: string;
  /** How long the check took. */
  ms: number;
}

/** `zt doctor --json` prints this. */
export interface DoctorReport {
  /** The admin API the checks asked. */
  admin: string;
  pid?: number;
  version?: string;
  node?: string;
  checks: CheckResult[];
}

/** Builds a result; `ms` is filled in by the runner. */
export function result(
  name: CheckName,
  verdict: Verdict,
  summary: string,
  details: string[] = [],
  fix?: string,
): CheckResult {
  return { name, verdict, summary, details, ...(fix ? { fix } : {}), ms: 0 };
}

/** A check that needs zt's admin API when it did not answer. */
export function cannotCheck(name: CheckName, why: string | undefined): CheckResult {
  return result(
    name,
    'fail',
    `cannot check: ${why ?? "no answer from zt's admin API"}`,
    [],
    "check that zt runs (its readiness on 15021, its logs); run zt doctor where zt's admin API (loopback, 15000) is reachable, or point --admin at it",
  );
}
