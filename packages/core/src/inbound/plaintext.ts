import type { Socket } from 'node:net';
import { formatAddr, type SocketAddr } from '../addr.ts';
import { type AuthzConnection, authorize } from '../authz/authorize.ts';
import { dialTcp } from '../conn/dial.ts';
import { earlyDenials } from '../conn/registry.ts';
import { relay } from '../conn/relay.ts';
import type { FlowContext } from '../context.ts';
import { canonicalIp } from '../ip.ts';
import { workloadIdentity } from '../outbound/route.ts';
import { localWorkloadAt } from './hbone.ts';
import { watchPolicy } from './recheck.ts';

/**
 * One connection on 15006 (upstream's inbound passthrough): the destination is the original
 * destination of the REDIRECTed socket; authorization knows only the source IP (no identity).
 */
export async function servePlaintext(ctx: FlowContext, socket: Socket): Promise<void> {
  const src: SocketAddr = { address: canonicalIp(socket.remoteAddress ?? ''), port: socket.remotePort ?? 0 };
  const orig = ctx.ops.originalDst?.(socket);
  const refuse = (reason: string, message: string, dst?: SocketAddr) => {
    earlyDenials.inc({ direction: 'inbound', reason });
    ctx.log.warn(
      {
        scope: 'access',
        'src.addr': formatAddr(src),
        ...(dst ? { 'dst.addr': formatAddr(dst) } : {}),
        direction: 'inbound',
        error: message,
      },
      'connection failed',
    );
    socket.destroy();
  };
  if (!orig)
    return refuse(
      'no-original-dst',
      'no original destination (SO_ORIGINAL_DST unavailable: is @zt/native built and the connection REDIRECTed?)',
    );
  const dst: SocketAddr = { address: canonicalIp(orig.address), port: orig.port };
  if (ctx.ownPorts.has(dst.port) && ctx.ownAddresses.has(dst.address))
    return refuse('self-call', `refusing a connection to zt's own port ${formatAddr(dst)}`, dst);
  const dstWl = localWorkloadAt(ctx, dst.address);
  if (!dstWl)
    return refuse(
      'unknown-destination',
      `${dst.address} is not a workload of node ${ctx.config.nodeName}`,
      dst,
    );
  const view = ctx.view();
  const srcWl = view.workloadByAddress(ctx.config.network, src.address);
  const conn: AuthzConnection = { src, dst };
  const decision = authorize(conn, view.policiesFor(dstWl));
  const t = ctx.registry.open({
    info: {
      direction: 'inbound',
      protocol: 'TCP',
      src: { ...src, ...(srcWl ? { workload: `${srcWl.namespace}/${srcWl.name}` } : {}) },
      dst: {
        ...dst,
        workload: `${dstWl.namespace}/${dstWl.name}`,
        identity: workloadIdentity(dstWl, ctx.config.trustDomain),
      },
      verdict: decision.allowed ? 'allow' : 'deny',
      ...(decision.policy ? { policy: decision.policy } : {}),
      ...(decision.rule !== undefined ? { rule: decision.rule } : {}),
    },
    labels: { reporter: 'destination', ...(srcWl ? { source: srcWl } : {}), destination: dstWl, mtls: false },
  });
  if (!decision.allowed) {
    socket.destroy();
    t.finish(
      new Error(`denied by ${decision.policy ? `policy ${decision.policy}` : 'default deny'}`),
      'DENY',
    );
    return;
  }
  socket.pause();
  let upstream: Socket;
  try {
    upstream = await dialTcp(ctx, dst, ctx.netnsOf(dstWl.uid), src.address);
  } catch (e) {
    socket.destroy();
    t.finish(e as Error, 'CONNECT');
    return;
  }
  watchPolicy(ctx, t, dstWl.uid, conn);
  try {
    await relay(socket, upstream, t);
    t.finish();
  } catch (e) {
    t.finish(e as Error);
  }
}
