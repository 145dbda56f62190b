import { isIPv6 } from 'node:net';
import type { InboundTunnel } from '@zt/transport';
import type { Workload } from '@zt/xds';
import { socketIp } from '@zt/xds';
import { formatAddr, type SocketAddr } from '../addr.ts';
import type { FlowContext } from '../context.ts';
import { DEFAULT_PORTS, DEFAULT_SOCKS5_PORT, type ProxyConfig } from '../options.ts';
import { acceptHeaders } from './baggage.ts';
import { localWorkloadAt, refuseEarly, serveInbound } from './flow.ts';
import { serveHostnameTunnel } from './hostname.ts';
import { proxyProtocolHeader } from './proxy-protocol.ts';
import { mayNameOtherAddress } from './sandwich.ts';

/**
 * Upstream's illegal ports: its 15001, 15006, 15008 (and 15080 with SOCKS5), here with the ports
 * zt is configured with too. A tunnel to one of them would trampoline through zt again.
 */
function isOwnPort(config: ProxyConfig, port: number): boolean {
  const { shared, workloads } = config.listeners;
  const socks5 = config.socks5?.enabled ? (config.socks5.port ?? DEFAULT_SOCKS5_PORT) : undefined;
  return (
    port === socks5 ||
    [DEFAULT_PORTS, shared, workloads].some(
      (p) => p !== undefined && (p.outbound === port || p.inboundPlaintext === port || p.inbound === port),
    )
  );
}

/**
 * One CONNECT on 15008. As upstream: the destination must be a workload of this node (503
 * otherwise); a tunnel that arrived at one pod's address but names another is a bad request
 * (400), unless that pod takes tunnel metadata itself or is the other address's waypoint; a
 * tunnel to one of zt's own ports is refused (503, self-call); then the shared inbound flow
 * (policy denies with 401, an unreachable workload is 503). The bytes go to the address the tunnel
 * arrived at, on the :authority's port, or to the workload's application tunnel, behind a PROXY
 * protocol header when it asks for one. A service `hostname:port` authority goes to hostname.ts
 * (double HBONE and the gateway role).
 *
 * `pod` is the workload of the pod whose listener took the connection (in-pod mode): the tunnel
 * is for it whatever local address the client dialled (its IP, or a loopback address inside it).
 */
export async function serveTunnel(ctx: FlowContext, tunnel: InboundTunnel, pod?: Workload): Promise<void> {
  const named = tunnel.authority;
  if ('hostname' in named) return serveHostnameTunnel(ctx, tunnel, named);
  const authority: SocketAddr = { address: socketIp(named.address), port: named.port };
  const local = socketIp(tunnel.local.address);
  const peerIdentity = String(tunnel.peerIdentity);
  const refuse = (status: 400 | 503, reason: string, message: string) =>
    refuseEarly(
      ctx,
      {
        'src.addr': formatAddr(tunnel.remote),
        'dst.addr': formatAddr(tunnel.local),
        'dst.hbone_addr': formatAddr(authority),
        'src.identity': peerIdentity,
      },
      reason,
      message,
      () => tunnel.reject(status),
    );
  // Inside a pod, a loopback address names the pod itself, as upstream serves any local address.
  const loopback = local === '127.0.0.1' || local === '::1';
  const atLocal = pod ?? localWorkloadAt(ctx, local);
  const arrivedAt = pod && (loopback || !pod.workloadIps.includes(local)) ? undefined : local;
  if (
    atLocal &&
    !atLocal.workloadIps.includes(authority.address) &&
    !mayNameOtherAddress(ctx.view(), ctx.config.network, atLocal, arrivedAt ?? local, authority.address)
  ) {
    return refuse(400, 'ip-mismatch', `tunnel arrived at ${local} but asks for ${authority.address}`);
  }
  const dstWl = atLocal ?? localWorkloadAt(ctx, authority.address);
  if (!dstWl) {
    return refuse(
      503,
      'unknown-destination',
      `${authority.address} is not a workload of node ${ctx.config.nodeName}`,
    );
  }
  if (isOwnPort(ctx.config, authority.port)) {
    return refuse(503, 'self-call', `refusing a tunnel to zt's own port ${formatAddr(authority)}`);
  }
  const src: SocketAddr = { address: socketIp(tunnel.remote.address), port: tunnel.remote.port };
  // Upstream targets the address the tunnel arrived at; the :authority only gives the port.
  const address = atLocal && arrivedAt !== undefined ? arrivedAt : authority.address;
  const app = dstWl.applicationTunnel;
  const dst: SocketAddr = { address, port: app?.port ?? authority.port };
  const proxy = app?.protocol === 'PROXY';
  const onLoopback = proxy && ctx.config.localhostAppTunnel !== false && ctx.netnsOf(dstWl.uid) !== undefined;
  const forwardedNetwork = tunnel.headers['x-forwarded-network'];
  return serveInbound(
    ctx,
    {
      protocol: 'HBONE',
      src,
      dst,
      peerIdentity,
      headers: {
        ...(tunnel.headers.baggage !== undefined ? { baggage: tunnel.headers.baggage } : {}),
        ...(tunnel.forwarded !== undefined ? { forwarded: tunnel.forwarded } : {}),
        ...(typeof forwardedNetwork === 'string' ? { forwardedNetwork } : {}),
      },
      hboneAddr: authority,
      ...(onLoopback
        ? { connectTo: { address: isIPv6(address) ? '::1' : '127.0.0.1', port: dst.port } }
        : {}),
      // The application learns the client and the target it asked for, which the socket cannot tell.
      ...(proxy ? { preamble: proxyProtocolHeader(src, authority, peerIdentity) } : {}),
      reject: (status) => tunnel.reject(status),
      accept: () => tunnel.accept(acceptHeaders(ctx, dstWl)),
    },
    dstWl,
  );
}
