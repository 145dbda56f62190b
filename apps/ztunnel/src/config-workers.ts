// How many data-plane threads, as upstream sizes its worker pool: ZTUNNEL_WORKER_THREADS (a count,
// a percentage of the CPUs, or 0 for all of them), else ProxyConfig `concurrency`, else a default
// from the CPU limit and request the chart passes down.
import { availableParallelism } from 'node:os';
import { ConfigError, type Env, str } from './config-env.ts';

/** Upstream's floor when no limit is set, and the share of the node's cores it takes. */
const DEFAULT_WORKER_THREADS = 2;
const DEFAULT_CPU_FRACTION = 0.25;
/** More threads than this is a mistake on any node zt runs on: each holds its own heap and pool. */
export const MAX_WORKER_THREADS = 256;

/** A Kubernetes CPU quantity (`2`, `1.5`, `500m`) as whole CPUs, rounded up; undefined when unset. */
function cpuQuantity(env: Env, name: string): number | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  const text = raw.endsWith('m') ? raw.slice(0, -1) : raw;
  const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) / (raw.endsWith('m') ? 1000 : 1) : Number.NaN;
  if (!(n > 0)) throw new ConfigError(name, raw, 'a positive CPU quantity such as 2, 1.5 or 500m');
  return Math.ceil(n);
}

/** The CPUs zt may use: the explicit limit, else ZTUNNEL_CPU_LIMIT (downward API), else the machine's. */
export function cpuCount(env: Env): number {
  const limit = cpuQuantity(env, 'ZTUNNEL_RESOURCE_CPU_LIMIT');
  if (limit !== undefined) return limit;
  const v = str(env, 'ZTUNNEL_CPU_LIMIT');
  if (v === undefined) return availableParallelism();
  if (!/^\d+$/.test(v)) throw new ConfigError('ZTUNNEL_CPU_LIMIT', v, 'a whole number of CPUs');
  return Number(v);
}

/**
 * Upstream's default: an explicit limit (raised to the request), else a quarter of the CPUs, at
 * least the request and at least 2.
 */
export function defaultWorkerThreads(env: Env): number {
  const request = cpuQuantity(env, 'ZTUNNEL_RESOURCE_CPU_REQUEST') ?? 0;
  const limit = cpuQuantity(env, 'ZTUNNEL_RESOURCE_CPU_LIMIT');
  if (limit !== undefined) return Math.max(limit, request);
  return Math.max(Math.ceil(cpuCount(env) * DEFAULT_CPU_FRACTION), request, DEFAULT_WORKER_THREADS);
}

/** ZTUNNEL_WORKER_THREADS over `concurrency` (from ProxyConfig) over the default; at least 1. */
export function workerThreads(env: Env, concurrency: number | undefined): number {
  const fallback = (): number => {
    if (concurrency === undefined) return defaultWorkerThreads(env);
    return concurrency > 0 ? concurrency : cpuCount(env);
  };
  const v = str(env, 'ZTUNNEL_WORKER_THREADS');
  let n: number;
  if (v === undefined) {
    n = fallback();
  } else if (v.endsWith('%')) {
    const pct = v.slice(0, -1);
    const p = /^\d+(\.\d+)?$/.test(pct) ? Number(pct) : Number.NaN;
    if (!(p > 0 && p <= 100))
      throw new ConfigError(
        'ZTUNNEL_WORKER_THREADS',
        v,
        'a percentage of the CPUs above 0% and at most 100%',
      );
    n = Math.ceil((cpuCount(env) * p) / 100);
  } else {
    if (!/^\d+$/.test(v) || Number(v) > MAX_WORKER_THREADS)
      throw new ConfigError(
        'ZTUNNEL_WORKER_THREADS',
        v,
        `a thread count up to ${MAX_WORKER_THREADS}, a percentage of the CPUs such as 50%, or 0 for all CPUs`,
      );
    // 0 is every CPU, as upstream and ProxyConfig `concurrency` read it.
    n = Number(v) === 0 ? cpuCount(env) : Number(v);
  }
  return Math.min(Math.max(n, 1), MAX_WORKER_THREADS);
}
