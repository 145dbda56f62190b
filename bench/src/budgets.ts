// Budgets: floors (or ceilings) on the ratios a run measures, checked in from bench/budgets.json
// with the machine they were set on and the targets to work toward.
import { readFileSync } from 'node:fs';

export interface Budget {
  /** Key into the run's `metrics` map. */
  metric: string;
  /** The run fails when the value is below `min` or above `max`. */
  min?: number;
  max?: number;
  /** Where we want to get to (informational). */
  target?: number;
  note?: string;
}

export interface BudgetFile {
  machine: { nproc: number; cpu: string; node: string; date: string; note?: string };
  budgets: Record<string, Budget>;
}

export type BudgetStatus = 'pass' | 'fail' | 'skipped';

export interface BudgetCheck {
  name: string;
  metric: string;
  value: number | null;
  limit: string;
  target?: number;
  status: BudgetStatus;
  reason?: string;
}

export class BudgetFileError extends Error {
  readonly code = 'ERR_ZT_BENCH_BUDGETS';
}

export function parseBudgetFile(text: string, source = 'budgets.json'): BudgetFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new BudgetFileError(`${source} is not JSON: ${(e as Error).message}`);
  }
  const file = data as Partial<BudgetFile>;
  if (
    !file ||
    typeof file !== 'object' ||
    !file.budgets ||
    typeof file.budgets !== 'object' ||
    !file.machine
  ) {
    throw new BudgetFileError(`${source} needs "machine" and "budgets" objects`);
  }
  for (const [name, b] of Object.entries(file.budgets)) {
    if (typeof b.metric !== 'string') throw new BudgetFileError(`${source}: budget ${name} has no "metric"`);
    if (b.min === undefined && b.max === undefined) {
      throw new BudgetFileError(`${source}: budget ${name} needs "min" or "max"`);
    }
    for (const k of ['min', 'max', 'target'] as const) {
      if (b[k] !== undefined && typeof b[k] !== 'number') {
        throw new BudgetFileError(`${source}: budget ${name}.${k} must be a number`);
      }
    }
  }
  return file as BudgetFile;
}

export function loadBudgetFile(path: string): BudgetFile {
  return parseBudgetFile(readFileSync(path, 'utf8'), path);
}

/**
 * Checks every budget against the run's metrics. A metric that is null (a peer proxy that is not
 * installed) skips its budget; a metric that is missing altogether fails it, since that means the
 * bench stopped measuring something it promised to.
 */
export function checkBudgets(
  budgets: Record<string, Budget>,
  metrics: Record<string, number | null>,
  skipReasons: Record<string, string> = {},
): BudgetCheck[] {
  return Object.entries(budgets).map(([name, b]) => {
    const limit = [b.min !== undefined ? `>= ${b.min}` : '', b.max !== undefined ? `<= ${b.max}` : '']
      .filter(Boolean)
      .join(' and ');
    const base = { name, metric: b.metric, limit, ...(b.target !== undefined ? { target: b.target } : {}) };
    if (!(b.metric in metrics)) {
      return { ...base, value: null, status: 'fail' as const, reason: `the run did not measure ${b.metric}` };
    }
    const value = metrics[b.metric] ?? null;
    if (value === null) {
      return {
        ...base,
        value,
        status: 'skipped' as const,
        reason: skipReasons[b.metric] ?? 'not measured in this run',
      };
    }
    if (!Number.isFinite(value)) {
      return { ...base, value, status: 'fail' as const, reason: `${b.metric} is not a number (${value})` };
    }
    const low = b.min !== undefined && value < b.min;
    const high = b.max !== undefined && value > b.max;
    if (low || high) {
      return { ...base, value, status: 'fail' as const, reason: `${value.toPrecision(3)} is not ${limit}` };
    }
    return { ...base, value, status: 'pass' as const };
  });
}
