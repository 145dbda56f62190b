import type { LevelWithSilent } from 'pino';
import { LogFilterError } from './errors.ts';

/** Upstream's (tracing's) level names. */
export type LogLevel = 'off' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

const LEVELS: readonly LogLevel[] = ['off', 'error', 'warn', 'info', 'debug', 'trace'];

/**
 * A RUST_LOG-style filter: a default level and per-scope levels. Upstream's targets are Rust module
 * paths; zt's are the names given to `Logging.scope()` ("access", "xds", "proxy", ...). A directive
 * applies to a scope it is a prefix of; the longest matching directive wins, as in tracing.
 */
export interface LogFilter {
  level: LogLevel;
  /** In the order given; a later clause for the same scope replaces the earlier one. */
  scopes: Map<string, LogLevel>;
}

function isLevel(s: string): s is LogLevel {
  return (LEVELS as readonly string[]).includes(s);
}

/**
 * Parse `info`, `warn,xds=debug`, `access:debug` (the `:` form is what upstream's admin help shows),
 * on top of `base` when given. Throws LogFilterError.
 */
export function parseLogFilter(directive: string, base?: LogFilter): LogFilter {
  const out: LogFilter = { level: base?.level ?? 'info', scopes: new Map(base?.scopes ?? []) };
  for (const raw of directive.split(',')) {
    const clause = raw.trim();
    if (clause === '') continue;
    const lower = clause.toLowerCase();
    if (isLevel(lower)) {
      out.level = lower;
      continue;
    }
    const m = /^([A-Za-z0-9_:.-]*?[A-Za-z0-9_.-])(?:=|:(?!:))([A-Za-z]+)$/.exec(clause);
    const level = m?.[2]?.toLowerCase();
    if (!m || !level || !isLevel(level))
      throw new LogFilterError(directive, `clause "${clause}" is not understood`);
    const scope = m[1] ?? '';
    out.scopes.delete(scope);
    out.scopes.set(scope, level);
  }
  return out;
}

/** Upstream prints the scoped clauses first and the default level last: `access=debug,info`. */
export function formatLogFilter(f: LogFilter): string {
  return [...[...f.scopes].map(([s, l]) => `${s}=${l}`), f.level].join(',');
}

/** The level `scope` logs at under `f`. */
export function levelFor(f: LogFilter, scope: string): LogLevel {
  let best: string | undefined;
  for (const s of f.scopes.keys()) {
    if (scope.startsWith(s) && (best === undefined || s.length > best.length)) best = s;
  }
  return best === undefined ? f.level : (f.scopes.get(best) ?? f.level);
}

/** The pino level of a tracing level (`off` is pino's `silent`). */
export function pinoLevel(l: LogLevel): LevelWithSilent {
  return l === 'off' ? 'silent' : l;
}
