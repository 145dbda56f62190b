import type { Socket as UdpSocket } from 'node:dgram';
import type { Server, Socket } from 'node:net';
import type { CertSource } from '@zt/identity';
import type { Logger } from '@zt/log';
import type { HbonePool } from '@zt/transport';
import type { ProxyStateView } from '@zt/xds';
import type { SocketAddr } from './addr.ts';
import type { ConnectionRegistry } from './conn/registry.ts';
import type { TcpSocketOptions } from './conn/socket-options.ts';
import type { ProxyConfig } from './options.ts';

/**
 * How SocketOps.connect makes a socket: inside `netns` when given, marked with `mark`, from
 * `localAddress` when given, with IP_TRANSPARENT when `transparent` (an address not on this host).
 */
export interface SocketConnectOptions {
  netns?: string;
  mark?: number;
  localAddress?: string;
  transparent?: boolean;
}

/**
 * The Linux calls zt needs beyond Node's (socket options, namespaces, the allocator), provided by
 * @zt/native where it works. Every member may be missing: flows then fall back (no original
 * destination: refuse with a reason).
 */
export interface SocketOps {
  /** SO_ORIGINAL_DST of an accepted, REDIRECTed socket. */
  originalDst?(socket: Socket): SocketAddr | undefined;
  /** SO_MARK on a socket, so capture rules skip zt's own traffic. */
  mark?(socket: Socket, mark: number): void;
  /** A connected TCP socket, made as `options` say. */
  connect?(target: SocketAddr, options: SocketConnectOptions): Promise<Socket>;
  /** Makes `server` listen on a socket created inside `netns` (in-pod listeners). */
  listen?(
    server: Server,
    options: { host: string; port: number; netns: string; mark?: number; reusePort?: boolean },
  ): Promise<number>;
  /** TCP keepalive (idle, interval, count) and the user timeout, all of them (Node sets only the idle time). */
  tcpOptions?(socket: Socket, options: TcpSocketOptions): void;
  /** Binds `socket` to a UDP socket created inside `netns` (the in-pod DNS proxy). */
  listenUdp?(
    socket: UdpSocket,
    options: { host: string; port: number; netns: string; mark?: number },
  ): Promise<number>;
  /** Hands the C heap's freed pages back to the OS; called once traffic has gone quiet. */
  releaseFreeMemory?(): void;
}

/** What every flow of one proxy shares. */
export interface FlowContext {
  readonly config: ProxyConfig;
  readonly log: Logger;
  readonly registry: ConnectionRegistry;
  readonly pool: HbonePool;
  readonly certs: CertSource;
  readonly ops: SocketOps;
  /** The current state; replaced as a whole on every update. */
  view(): ProxyStateView;
  /** Ports and addresses zt listens on (loop protection). */
  readonly ownPorts: Set<number>;
  readonly ownAddresses: Set<string>;
  /** The pod network namespace of a local workload (in-pod mode), by uid. */
  netnsOf(uid: string): string | undefined;
}
