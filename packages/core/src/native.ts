import type { Socket as UdpSocket } from 'node:dgram';
import type { Server, Socket } from 'node:net';
import type { SocketAddr } from './addr.ts';
import { type TcpSocketOptions, userTimeoutMs } from './conn/socket-options.ts';
import type { SocketConnectOptions, SocketOps } from './context.ts';

/**
 * The SocketOps @zt/native provides on this host; empty (portable fallbacks: SOCKS5, explicit
 * destinations, no in-pod listeners) where the addon is not built or the platform lacks the calls.
 */
export async function nativeSocketOps(): Promise<SocketOps> {
  const native = await import('@zt/native');
  if (!native.available) return {};
  return {
    originalDst(socket: Socket): SocketAddr | undefined {
      try {
        const a = native.originalDst(socket);
        return { address: a.address, port: a.port };
      } catch {
        // The flow refuses the connection with what to check (REDIRECT rules, @zt/native built),
        // logged and counted as an early denial (no-original-dst).
        return undefined;
      }
    },
    releaseFreeMemory(): void {
      native.releaseFreeMemory();
    },
    mark(socket: Socket, mark: number): void {
      native.setMark(socket, mark);
    },
    tcpOptions(socket: Socket, o: TcpSocketOptions): void {
      if (o.keepaliveEnabled) {
        // The kernel counts whole seconds; the configuration is checked to be at least one.
        native.setTcpKeepalive(socket, {
          idleSeconds: Math.floor(o.keepaliveTimeMs / 1000),
          intervalSeconds: Math.floor(o.keepaliveIntervalMs / 1000),
          count: o.keepaliveRetries,
        });
      }
      if (o.userTimeoutEnabled) native.setTcpUserTimeout(socket, userTimeoutMs(o));
    },
    async connect(target: SocketAddr, o: SocketConnectOptions): Promise<Socket> {
      const s = await native.connectSocket({
        host: target.address,
        port: target.port,
        ...(o.netns ? { netns: o.netns } : {}),
        ...(o.mark ? { mark: o.mark } : {}),
        ...(o.localAddress ? { localAddress: o.localAddress } : {}),
        ...(o.transparent ? { transparent: true } : {}),
      });
      s.allowHalfOpen = true;
      s.setNoDelay(true);
      return s;
    },
    async listen(
      server: Server,
      o: { host: string; port: number; netns: string; mark?: number; reusePort?: boolean },
    ): Promise<number> {
      const a = await native.listenServer(server, {
        host: o.host,
        port: o.port,
        netns: o.netns,
        reusePort: o.reusePort ?? true,
        ...(o.mark ? { mark: o.mark } : {}),
      });
      return a.port;
    },
    async listenUdp(
      socket: UdpSocket,
      o: { host: string; port: number; netns: string; mark?: number },
    ): Promise<number> {
      const a = await native.bindUdpSocket(socket, {
        host: o.host,
        port: o.port,
        netns: o.netns,
        reusePort: true,
        ...(o.mark ? { mark: o.mark } : {}),
      });
      return a.port;
    },
  };
}
