import type { InboundTunnel } from '@zt/transport';
import { socketIp } from '@zt/xds';
import { formatAddr, type SocketAddr } from '../addr.ts';
import type { FlowContext } from '../context.ts';
import { localWorkloadAt, refuseEarly, serveInbound } from './flow.ts';

/**
 * One CONNECT on 15008. As upstream: the destination must be a workload of this node (503
 * otherwise); a tunnel that arrived at one pod's address but names another is a bad request
 * (400); then the shared inbound flow (policy denies with 401, an unreachable workload is 503).
 */
export async function serveTunnel(ctx: FlowContext, tunnel: InboundTunnel): Promise<void> {
  const dst: SocketAddr = { address: socketIp(tunnel.authority.address), port: tunnel.authority.port };
  const local = socketIp(tunnel.local.address);
  const peerIdentity = String(tunnel.peerIdentity);
  const refuse = (status: 400 | 503, reason: string, message: string) =>
    refuseEarly(
      ctx,
      {
        'src.addr': formatAddr(tunnel.remote),
        'dst.addr': formatAddr(tunnel.local),
        'dst.hbone_addr': formatAddr(tunnel.authority),
        'src.identity': peerIdentity,
      },
      reason,
      message,
      () => tunnel.reject(status),
    );
  const atLocal = localWorkloadAt(ctx, local);
  if (atLocal && !atLocal.workloadIps.includes(dst.address)) {
    return refuse(400, 'ip-mismatch', `tunnel arrived at ${local} but asks for ${dst.address}`);
  }
  const dstWl = atLocal ?? localWorkloadAt(ctx, dst.address);
  if (!dstWl) {
    return refuse(
      503,
      'unknown-destination',
      `${dst.address} is not a workload of node ${ctx.config.nodeName}`,
    );
  }
  const src: SocketAddr = { address: socketIp(tunnel.remote.address), port: tunnel.remote.port };
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
      reject: (status) => tunnel.reject(status),
      accept: () => tunnel.accept(),
    },
    dstWl,
  );
}
