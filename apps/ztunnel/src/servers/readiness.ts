import type { Logger } from '@zt/log';
import { methodNotAllowed, type RunningServer, send, serve } from './http.ts';

export const READINESS_PORT = 15021;

/**
 * Whether zt is ready: every registered task done and not draining. Upstream's app registers
 * "state manager" (first xDS sync), "proxy" (listeners bound), "dns proxy" when DNS capture is on, and
 * the in-pod mode's "workload proxy manager".
 */
export class Readiness {
  // A count per name: two components may block on the same name.
  readonly #pending = new Map<string, number>();
  readonly #started = performance.now();
  readonly #logger: Logger | undefined;
  #draining = false;

  constructor(logger?: Logger) {
    this.#logger = logger;
  }

  /** Block readiness until the returned `done` is called (calling it again does nothing). */
  register(name: string): () => void {
    this.#pending.set(name, (this.#pending.get(name) ?? 0) + 1);
    let called = false;
    return () => {
      if (called) return;
      called = true;
      const left = (this.#pending.get(name) ?? 1) - 1;
      if (left === 0) this.#pending.delete(name);
      else this.#pending.set(name, left);
      const ms = Math.round(performance.now() - this.#started);
      const remaining = this.#pending.size;
      this.#logger?.info(
        remaining === 0
          ? `Task '${name}' complete (${ms}ms), marking server ready`
          : `Task '${name}' complete (${ms}ms), still awaiting ${remaining} tasks`,
      );
    };
  }

  /** From now on not ready: the kubelet stops sending traffic while connections drain. */
  setDraining(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Names still blocking readiness, sorted. */
  pending(): string[] {
    return [...this.#pending.keys()].sort();
  }

  get ready(): boolean {
    return !this.#draining && this.#pending.size === 0;
  }
}

export interface ReadinessServerOptions {
  readiness: Readiness;
  /** Default 15021. */
  port?: number;
  /** Default: all addresses (the kubelet probes the pod IP). */
  host?: string;
  logger?: Logger;
}

/** `GET /healthz/ready`: 200 `ready`, or 500 naming what is pending (or that zt is draining). */
export function startReadinessServer(opts: ReadinessServerOptions): Promise<RunningServer> {
  const { readiness } = opts;
  return serve(
    'readiness',
    (req, res, url) => {
      if (url.pathname !== '/healthz/ready') return send(res, 404, '');
      if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, 'GET, HEAD');
      if (readiness.draining) return send(res, 500, 'not ready, draining\n');
      const pending = readiness.pending();
      if (pending.length > 0) return send(res, 500, `not ready, pending: ${pending.join(', ')}\n`);
      send(res, 200, 'ready\n');
    },
    { port: opts.port ?? READINESS_PORT, host: opts.host, logger: opts.logger },
  );
}
