import type { Socket } from 'node:net';
import { socketIp, type Workload } from '@zt/xds';
import { formatAddr, type SocketAddr } from '../addr.ts';
import type { FlowContext } from '../context.ts';
import { localWorkloadAt, refuseEarly, serveInbound } from './flow.ts';

/**
 * One connection on 15006 (upstream's inbound passthrough): the destination is the original
 * destination of the REDIRECTed socket, which must be a workload of this node; authorization knows
 * only the source IP (no identity). Then the shared inbound flow. On a pod's listener (in-pod),
 * `podWorkload` waits for that pod's workload when the state does not have the address yet.
 */
export async function servePlaintext(
  ctx: FlowContext,
  socket: Socket,
  podWorkload?: () => Promise<Workload | undefined>,
): Promise<void> {
  const src: SocketAddr = { address: socketIp(socket.remoteAddress ?? ''), port: socket.remotePort ?? 0 };
  const orig = ctx.ops.originalDst?.(socket);
  const refuse = (reason: string, message: string, dst?: SocketAddr) =>
    refuseEarly(
      ctx,
      { 'src.addr': formatAddr(src), 'dst.addr': dst && formatAddr(dst) },
      reason,
      message,
      () => socket.destroy(),
    );
  if (!orig)
    return refuse(
      'no-original-dst',
      'no original destination (SO_ORIGINAL_DST unavailable: is @zt/native built and the connection REDIRECTed?)',
    );
  const dst: SocketAddr = { address: socketIp(orig.address), port: orig.port };
  if (ctx.ownPorts.has(dst.port) && ctx.ownAddresses.has(dst.address))
    return refuse('self-call', `refusing a connection to zt's own port ${formatAddr(dst)}`, dst);
  const atDst = localWorkloadAt(ctx, dst.address);
  const podWl = !atDst && podWorkload ? await podWorkload() : undefined;
  const dstWl = atDst ?? (podWl?.workloadIps.includes(dst.address) ? podWl : undefined);
  if (!dstWl)
    return refuse(
      'unknown-destination',
      `${dst.address} is not a workload of node ${ctx.config.nodeName}`,
      dst,
    );
  // Hold the client's bytes until the destination is connected (relay resumes it).
  socket.pause();
  return serveInbound(
    ctx,
    { protocol: 'TCP', src, dst, reject: () => socket.destroy(), accept: () => socket },
    dstWl,
  );
}
