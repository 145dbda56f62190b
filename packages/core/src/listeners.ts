import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '@zt/log';
import type { Workload } from '@zt/xds';
import { formatAddr } from './addr.ts';
import { countOpenSocket } from './conn/sockets.ts';
import { ListenError } from './errors.ts';
import type { BoundListener } from './options.ts';

export type ListenerKind = BoundListener['kind'];

interface Entry {
  server: Server;
  bound: BoundListener;
}

/**
 * The listeners of one proxy: each set is keyed (`shared`, `socks5`, or a workload uid) so the
 * per-workload sets can follow the state. Every listener sets SO_REUSEPORT, so each worker thread
 * binds the same addresses and the kernel spreads connections between them.
 */
export class Listeners {
  readonly #sets = new Map<string, Entry[]>();
  readonly #log: Logger;
  #closed = false;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Binds one listener; `listen` replaces Node's own bind (e.g. a socket made inside a pod netns). */
  async bind(
    set: string,
    kind: ListenerKind,
    address: string,
    port: number,
    onConnection: (s: Socket) => void,
    listen?: (server: Server) => Promise<number>,
  ): Promise<BoundListener> {
    const server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (s) => {
      countOpenSocket(kind, s);
      onConnection(s);
    });
    try {
      if (listen) {
        await listen(server);
      } else {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: address, port, reusePort: true }, () => resolve());
        });
      }
    } catch (e) {
      server.close();
      throw new ListenError(kind, address, port, e as Error);
    }
    server.on('error', (e) => this.#log.error({ err: e, set, kind }, 'listener error'));
    const a = server.address();
    const bound: BoundListener = { kind, set, address, port: a && typeof a === 'object' ? a.port : port };
    const list = this.#sets.get(set) ?? [];
    list.push({ server, bound });
    this.#sets.set(set, list);
    if (this.#closed) server.close();
    this.#log.debug({ set, kind, address: formatAddr(bound) }, 'listener established');
    return bound;
  }

  has(set: string): boolean {
    return this.#sets.has(set);
  }

  sets(): string[] {
    return [...this.#sets.keys()];
  }

  servers(set: string): Server[] {
    return (this.#sets.get(set) ?? []).map((e) => e.server);
  }

  bound(): BoundListener[] {
    return [...this.#sets.values()].flatMap((l) => l.map((e) => e.bound));
  }

  /**
   * Stops accepting on one set; open connections are not touched (the connection registry tracks
   * and drains them). The listening socket closes at once; the close callback is not awaited:
   * net.Server reports closed only after every accepted socket has, and a socket handed to TLS
   * (HBONE) may never report it to the server, so waiting would hang drain and listener changes.
   */
  async closeSet(set: string): Promise<void> {
    const list = this.#sets.get(set) ?? [];
    this.#sets.delete(set);
    for (const e of list) e.server.close();
  }

  async closeAll(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.sets().map((s) => this.closeSet(s)));
  }
}

/** Workloads this node serves: `node` equal to the configured node name, with addresses. */
export function localWorkloads(workloads: readonly Workload[], nodeName: string): Workload[] {
  return workloads.filter((w) => w.node === nodeName && w.workloadIps.length > 0);
}
