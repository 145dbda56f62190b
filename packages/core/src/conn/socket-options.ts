// TCP options on the sockets zt proxies, as upstream sets them (its SocketConfig): on connections
// accepted on the outbound (15001) and inbound plaintext (15006) listeners, and on every plain TCP
// connection zt dials. Keepalives are not hop by hop: without them here, an application that relies
// on TCP keepalive only keeps its side of zt alive, and a NAT or load balancer on the other side
// drops the idle connection.
import type { Socket } from 'node:net';
import type { Logger } from '@zt/log';
import type { SocketOps } from '../context.ts';

/** KEEPALIVE_ENABLED, KEEPALIVE_TIME, KEEPALIVE_INTERVAL, KEEPALIVE_RETRIES, USER_TIMEOUT_ENABLED. */
export interface TcpSocketOptions {
  keepaliveEnabled: boolean;
  /** Idle time before the first probe. */
  keepaliveTimeMs: number;
  /** Time between unanswered probes. */
  keepaliveIntervalMs: number;
  /** Unanswered probes before the kernel drops the connection. */
  keepaliveRetries: number;
  /** TCP_USER_TIMEOUT of time + retries * interval: unacknowledged data fails as fast as silence. */
  userTimeoutEnabled: boolean;
}

/** Upstream's defaults: probe after 3 minutes idle, every 3 minutes, 9 times; no user timeout. */
export const DEFAULT_TCP_SOCKET_OPTIONS: TcpSocketOptions = {
  keepaliveEnabled: true,
  keepaliveTimeMs: 180_000,
  keepaliveIntervalMs: 180_000,
  keepaliveRetries: 9,
  userTimeoutEnabled: false,
};

/** The user timeout upstream derives: TCP_KEEPIDLE + TCP_KEEPINTVL * TCP_KEEPCNT, in ms. */
export function userTimeoutMs(o: TcpSocketOptions): number {
  return o.keepaliveTimeMs + o.keepaliveRetries * o.keepaliveIntervalMs;
}

/**
 * Applies `o` to a connected or accepted socket. With @zt/native (`ops.tcpOptions`) every value is
 * set; without it Node's setKeepAlive sets the idle time only and the host's interval and count
 * apply, and there is no user timeout. A refused option is logged and the connection goes on, as
 * upstream does: these options tune failure detection, they are not needed to carry bytes.
 */
export function applyTcpOptions(socket: Socket, o: TcpSocketOptions, ops: SocketOps, log: Logger): void {
  if (!o.keepaliveEnabled && !o.userTimeoutEnabled) return;
  if (ops.tcpOptions) {
    try {
      ops.tcpOptions(socket, o);
      return;
    } catch (e) {
      // A socket already closed by the peer (EBADF, EINVAL): nothing left to tune.
      log.debug({ err: (e as Error).message }, 'TCP keepalive options refused');
      return;
    }
  }
  if (o.keepaliveEnabled) socket.setKeepAlive(true, o.keepaliveTimeMs);
}
