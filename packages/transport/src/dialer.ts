import type { Duplex } from 'node:stream';
import type { SocketAddress } from './authority.ts';

/**
 * Opens the TCP connection an HBONE connection runs over, when the default (a plain connect from
 * this process's network namespace) is not what is wanted: upstream's in-pod mode dials from inside
 * the source pod's namespace, so the peer sees the pod's IP and the pod's network policy applies.
 * Resolves with a connected byte stream: a socket, or another HBONE tunnel (double HBONE runs the
 * inner connection's TLS over the outer tunnel). Tunnels share a pooled connection only when their
 * dialers have the same `key` (e.g. the namespace path).
 */
export interface Dialer {
  readonly key: string;
  connect(address: SocketAddress): Promise<Duplex>;
}
