import type { InboundTunnel } from '@zt/transport';
import type { Workload } from '@zt/xds';
import { formatAddr, type SocketAddr } from '../addr.ts';
import { type AuthzConnection, authorize } from '../authz/authorize.ts';
import { dialTcp } from '../conn/dial.ts';
import { earlyDenials, type TrackedConnection } from '../conn/registry.ts';
import { relay } from '../conn/relay.ts';
import type { FlowContext } from '../context.ts';
import { canonicalIp } from '../ip.ts';
import { workloadIdentity } from '../outbound/route.ts';
import { watchPolicy } from './recheck.ts';

/** The local workload a connection arriving at `local` is for: the pod owning that address. */
export function localWorkloadAt(ctx: FlowContext, address: string): Workload | undefined {
  const w = ctx.view().workloadByAddress(ctx.config.network, canonicalIp(address));
  return w && w.node === ctx.config.nodeName ? w : undefined;
}

function earlyReject(
  ctx: FlowContext,
  tunnel: InboundTunnel,
  status: 400 | 503,
  reason: string,
  message: string,
): void {
  earlyDenials.inc({ direction: 'inbound', reason });
  ctx.log.warn(
    {
      scope: 'access',
      'src.addr': formatAddr(tunnel.remote),
      'dst.addr': formatAddr(tunnel.local),
      'dst.hbone_addr': formatAddr(tunnel.authority),
      'src.identity': String(tunnel.peerIdentity),
      direction: 'inbound',
      error: message,
    },
    'connection failed',
  );
  tunnel.reject(status);
}

/**
 * One CONNECT on 15008. As upstream: the destination must be a workload of this node (503
 * otherwise); a tunnel that arrived at one pod's address but names another is a bad request
 * (400); policy denies with 401; an unreachable workload is 503; then bytes both ways.
 */
export async function serveTunnel(ctx: FlowContext, tunnel: InboundTunnel): Promise<void> {
  const target: SocketAddr = { address: canonicalIp(tunnel.authority.address), port: tunnel.authority.port };
  const local = canonicalIp(tunnel.local.address);
  const atLocal = localWorkloadAt(ctx, local);
  if (atLocal && !atLocal.workloadIps.includes(target.address)) {
    return earlyReject(
      ctx,
      tunnel,
      400,
      'ip-mismatch',
      `tunnel arrived at ${local} but asks for ${target.address}`,
    );
  }
  const dstWl = atLocal ?? localWorkloadAt(ctx, target.address);
  if (!dstWl) {
    return earlyReject(
      ctx,
      tunnel,
      503,
      'unknown-destination',
      `${target.address} is not a workload of node ${ctx.config.nodeName}`,
    );
  }
  const view = ctx.view();
  const remote: SocketAddr = { address: canonicalIp(tunnel.remote.address), port: tunnel.remote.port };
  const peer = String(tunnel.peerIdentity);
  const srcWl = view.workloadByAddress(ctx.config.network, remote.address);
  const conn: AuthzConnection = { src: remote, dst: target, srcIdentity: peer };
  const decision = authorize(conn, view.policiesFor(dstWl));
  for (const p of decision.dryRunMatches)
    ctx.log.info({ policy: p, src: peer, dst: formatAddr(target) }, 'dry-run: policy match');
  const dstId = workloadIdentity(dstWl, ctx.config.trustDomain);
  const t: TrackedConnection = ctx.registry.open({
    info: {
      direction: 'inbound',
      protocol: 'HBONE',
      src: { ...remote, identity: peer, ...(srcWl ? { workload: `${srcWl.namespace}/${srcWl.name}` } : {}) },
      dst: { ...target, workload: `${dstWl.namespace}/${dstWl.name}`, identity: dstId },
      verdict: decision.allowed ? 'allow' : 'deny',
      ...(decision.policy ? { policy: decision.policy } : {}),
      ...(decision.rule !== undefined ? { rule: decision.rule } : {}),
    },
    labels: {
      reporter: 'destination',
      ...(srcWl ? { source: srcWl } : {}),
      sourceIdentity: peer,
      destination: dstWl,
      destinationIdentity: dstId,
      mtls: true,
    },
    hboneAddr: formatAddr(target),
  });
  if (!decision.allowed) {
    tunnel.reject(401);
    t.finish(
      new Error(
        `denied by ${decision.policy ? `policy ${decision.policy}` : 'default deny (no ALLOW policy matched)'}`,
      ),
      'DENY',
    );
    return;
  }
  let upstream: import('node:net').Socket;
  try {
    upstream = await dialTcp(ctx, target, ctx.netnsOf(dstWl.uid), remote.address);
  } catch (e) {
    tunnel.reject(503);
    t.finish(e as Error, 'CONNECT');
    return;
  }
  let stream: import('node:stream').Duplex;
  try {
    stream = tunnel.accept();
  } catch (e) {
    upstream.destroy();
    t.finish(e as Error, 'CONNECT');
    return;
  }
  watchPolicy(ctx, t, dstWl.uid, conn);
  try {
    await relay(stream, upstream, t);
    t.finish();
  } catch (e) {
    t.finish(e as Error);
  }
}
