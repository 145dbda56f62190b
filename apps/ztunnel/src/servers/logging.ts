import { type LogFormat, parseLogFormat, ztLogger } from '@zt/core';
import type { DestinationStream, LevelWithSilent, Logger } from 'pino';
import { LogFilterError } from './errors.ts';

/** Upstream's (tracing's) level names. */
export type LogLevel = 'off' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

const LEVELS: readonly LogLevel[] = ['off', 'error', 'warn', 'info', 'debug', 'trace'];

/**
 * A RUST_LOG-style filter: a default level and per-scope levels. Upstream's targets are Rust module
 * paths; zt's are the names given to `Logging.scope()` ("access", "xds", "proxy::inbound", ...). A
 * directive applies to a scope it is a prefix of; the longest matching directive wins, as in tracing.
 */
export interface LogFilter {
  level: LogLevel;
  /** In the order given; a later clause for the same scope replaces the earlier one. */
  scopes: Map<string, LogLevel>;
}

function isLevel(s: string): s is LogLevel {
  return (LEVELS as readonly string[]).includes(s);
}

/** Parse `info`, `warn,xds=debug`, `access:debug` (the `:` form is what upstream's admin help shows). */
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

export function levelFor(f: LogFilter, scope: string): LogLevel {
  let best: string | undefined;
  for (const s of f.scopes.keys()) {
    if (scope.startsWith(s) && (best === undefined || s.length > best.length)) best = s;
  }
  return best === undefined ? f.level : (f.scopes.get(best) ?? f.level);
}

function pinoLevel(l: LogLevel): LevelWithSilent {
  return l === 'off' ? 'silent' : l;
}

/**
 * One pino level for a logger that writes for several scopes (a data-plane worker logs `proxy`
 * and `access` lines through one logger): the most verbose level any of them gets.
 */
export function pinoLevelFor(f: LogFilter, scopes: readonly string[]): LevelWithSilent {
  let most = 0;
  for (const scope of scopes) most = Math.max(most, LEVELS.indexOf(levelFor(f, scope)));
  return pinoLevel(LEVELS[most] ?? 'info');
}

/** What the admin `/logging` endpoint needs. */
export interface LogLevelControl {
  /** The current filter, formatted as upstream (`access=debug,info`). */
  level(): string;
  /**
   * Apply `directive` on top of the current filter, or on top of the startup filter (RUST_LOG) when
   * `reset`; an empty directive with `reset` restores the startup filter. Throws LogFilterError.
   */
  setLevel(directive: string, reset?: boolean): string;
}

export interface LoggingOptions {
  /** Reads RUST_LOG. Default: process.env. */
  env?: Record<string, string | undefined>;
  /** Default: stdout. */
  destination?: DestinationStream;
  /** Default: LOG_FORMAT from `env` (plain unless `json`, as upstream). */
  format?: LogFormat;
}

/**
 * zt's logs in upstream's formats: `LOG_FORMAT=json` gives JSON lines (`level`, `time`, `scope`,
 * `message`, then the fields), anything else the plain tab-separated lines; with a RUST_LOG filter
 * that `/logging` can change while zt runs.
 */
export class Logging implements LogLevelControl {
  readonly #initial: LogFilter;
  #filter: LogFilter;
  readonly #base: Logger;
  readonly #scopes = new Map<string, Logger>();
  /** Scope "ztunnel": general messages. */
  readonly root: Logger;
  /** Scope "access": one line per connection, see `accessLog`. */
  readonly access: Logger;

  constructor(opts: LoggingOptions = {}) {
    const env = opts.env ?? process.env;
    this.#initial = parseLogFilter(env['RUST_LOG'] ?? 'info');
    this.#filter = this.#initial;
    this.#base = ztLogger('trace', opts.format ?? parseLogFormat(env['LOG_FORMAT']), opts.destination);
    this.root = this.scope('ztunnel');
    this.access = this.scope('access');
  }

  /** A logger for one scope; its level follows the filter, now and after `setLevel`. */
  scope(name: string): Logger {
    let l = this.#scopes.get(name);
    if (!l) {
      l = this.#base.child({ scope: name }, { level: pinoLevel(levelFor(this.#filter, name)) });
      this.#scopes.set(name, l);
    }
    return l;
  }

  level(): string {
    return formatLogFilter(this.#filter);
  }

  setLevel(directive: string, reset = false): string {
    const next = parseLogFilter(directive, reset ? this.#initial : this.#filter);
    this.#filter = next;
    for (const [name, l] of this.#scopes) l.level = pinoLevel(levelFor(next, name));
    this.root.info(`new log filter is ${this.level()}`);
    return this.level();
  }
}

/** The pino-based logging of zt; `RUST_LOG` sets the startup filter. */
export function createLogger(opts: LoggingOptions = {}): Logging {
  return new Logging(opts);
}

export interface AccessLogPeer {
  /** `ip:port` as seen on the socket. */
  addr: string;
  workload?: string | undefined;
  namespace?: string | undefined;
  /** SPIFFE identity; upstream logs it only for mTLS connections. */
  identity?: string | undefined;
  cluster?: string | undefined;
}

export interface AccessLogFields {
  src: AccessLogPeer;
  dst: AccessLogPeer & {
    /** The HBONE `:authority` when the connection was tunnelled. */
    hbone_addr?: string | undefined;
    service?: string | undefined;
  };
  direction: 'inbound' | 'outbound';
  bytes_sent: number;
  bytes_recv: number;
  /** Milliseconds; logged as upstream does, e.g. "12ms". */
  duration: number;
  /** Set when the connection ended in error: the line is then logged at error level. */
  error?: string | undefined;
}

/**
 * One line per closed connection, upstream's "connection complete" with its field names. Pass
 * `logging.access` so the line carries `scope: "access"` and obeys `access=...` directives.
 */
export function accessLog(logger: Logger, f: AccessLogFields): void {
  const line: Record<string, string | number> = {};
  const put = (k: string, v: string | number | undefined) => {
    if (v !== undefined && v !== '') line[k] = v;
  };
  put('src.addr', f.src.addr);
  put('src.workload', f.src.workload);
  put('src.namespace', f.src.namespace);
  put('src.identity', f.src.identity);
  put('src.cluster', f.src.cluster);
  put('dst.addr', f.dst.addr);
  put('dst.hbone_addr', f.dst.hbone_addr);
  put('dst.service', f.dst.service);
  put('dst.workload', f.dst.workload);
  put('dst.namespace', f.dst.namespace);
  put('dst.identity', f.dst.identity);
  put('dst.cluster', f.dst.cluster);
  put('direction', f.direction);
  put('bytes_sent', f.bytes_sent);
  put('bytes_recv', f.bytes_recv);
  put('duration', `${Math.round(f.duration)}ms`);
  if (f.error !== undefined) {
    put('error', f.error);
    logger.error(line, 'connection complete');
  } else {
    logger.info(line, 'connection complete');
  }
}
