import type { DestinationStream, Logger } from 'pino';
import { formatLogFilter, type LogFilter, levelFor, parseLogFilter, pinoLevel } from './filter.ts';
import { type LogFormat, ztLogger } from './format.ts';

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
  /** The startup filter, RUST_LOG syntax (default `info`). Throws LogFilterError when it does not parse. */
  filter?: string;
  /** LOG_FORMAT (default plain, as upstream). */
  format?: LogFormat;
  /** Where this thread's lines go (default: file descriptor `fd`). */
  destination?: DestinationStream;
  /** The file descriptor lines are written to, here and in the data-plane workers (default 1, stdout). */
  fd?: number;
}

/**
 * zt's logs in upstream's formats: `LOG_FORMAT=json` gives JSON lines (`level`, `time`, `scope`,
 * `message`, then the fields), anything else the plain tab-separated lines; with a RUST_LOG filter
 * that `/logging` can change while zt runs. One per thread: the main thread's tells its listeners
 * (the data plane) when the filter changes, and each worker's follows it.
 */
export class Logging implements LogLevelControl {
  readonly format: LogFormat;
  readonly fd: number;
  readonly #initial: LogFilter;
  #filter: LogFilter;
  readonly #base: Logger;
  readonly #scopes = new Map<string, Logger>();
  readonly #listeners = new Set<(filter: string) => void>();
  /** Scope "ztunnel": general messages. */
  readonly root: Logger;
  /** Scope "access": one line per connection, see `logAccess`. */
  readonly access: Logger;

  constructor(opts: LoggingOptions = {}) {
    this.format = opts.format ?? 'plain';
    this.fd = opts.fd ?? 1;
    this.#initial = parseLogFilter(opts.filter ?? 'info');
    this.#filter = this.#initial;
    // The base passes everything; each scope's child carries the level the filter gives it.
    this.#base = ztLogger('trace', this.format, opts.destination, this.fd);
    this.root = this.scope('ztunnel');
    this.access = this.scope('access');
  }

  /** A logger for one scope; its level follows the filter, now and after every change. */
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
    this.#apply(parseLogFilter(directive, reset ? this.#initial : this.#filter));
    const now = this.level();
    this.root.info(`new log filter is ${now}`);
    for (const fn of this.#listeners) fn(now);
    return now;
  }

  /**
   * Takes the whole filter another thread formatted with `level()`, without a line of its own: how a
   * worker follows the main thread's `/logging` changes.
   */
  follow(filter: string): void {
    this.#apply(parseLogFilter(filter));
  }

  /** Calls `fn` with the new filter (formatted) after every `setLevel`; returns the unsubscribe. */
  onChange(fn: (filter: string) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #apply(next: LogFilter): void {
    this.#filter = next;
    for (const [name, l] of this.#scopes) l.level = pinoLevel(levelFor(next, name));
  }
}
