// A target is one way from the client to the server: direct TCP, the zt mesh (SOCKS5 into node A),
// or a peer proxy pair. Every scenario runs the same client code against each.
import { connect, type Socket } from 'node:net';
import { socks5Connect } from './socks5.ts';
import { nextSourcePort, portTaken } from './source-port.ts';

export interface Target {
  /** Row label, e.g. "zt (1 worker)". */
  name: string;
  kind: 'direct' | 'zt' | 'stunnel' | 'haproxy';
  /** Processes whose CPU and memory the efficiency figures read (none for direct). */
  pids: number[];
  /** zt only: each process's metrics endpoint (15020), in the order of `pids`. */
  metrics?: { node: string; url: string }[];
  /** Opens a connection to the target server; resolves once bytes can flow. */
  open(): Promise<Socket>;
}

function plainConnect(host: string, port: number, localAddress?: string): Promise<Socket> {
  if (!localAddress) return connectOnce(host, port);
  return withSourcePort((localPort) => connectOnce(host, port, localAddress, localPort));
}

function connectOnce(host: string, port: number, localAddress?: string, localPort?: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true, ...(localAddress ? { localAddress, localPort } : {}) });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Runs `open` with source ports in turn until one is free (a few tries). */
export async function withSourcePort<T>(open: (localPort: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await open(nextSourcePort());
    } catch (e) {
      if (!portTaken(e) || attempt >= 8) throw e;
    }
  }
}

export function directTarget(server: { host: string; port: number }, localAddress: string): Target {
  return {
    name: 'direct',
    kind: 'direct',
    pids: [],
    open: () => plainConnect(server.host, server.port, localAddress),
  };
}

export function meshTarget(
  name: string,
  socks: { host: string; port: number },
  clientPodIp: string,
  server: { host: string; port: number },
  pids: number[],
  metrics: { node: string; url: string }[] = [],
): Target {
  return {
    name,
    kind: 'zt',
    pids,
    metrics,
    open: () =>
      withSourcePort((localPort) =>
        socks5Connect({ proxy: socks, localAddress: clientPodIp, localPort, dest: server }),
      ),
  };
}

export function peerTarget(
  kind: 'stunnel' | 'haproxy',
  entry: { host: string; port: number },
  pids: number[],
): Target {
  return {
    name: kind === 'stunnel' ? 'stunnel pair' : 'HAProxy pair',
    kind,
    pids,
    open: () => plainConnect(entry.host, entry.port),
  };
}
