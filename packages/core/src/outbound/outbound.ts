import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { workloadIdentity } from '@zt/identity';
import { HboneConnectError } from '@zt/transport';
import type { Workload } from '@zt/xds';
import { socketIp } from '@zt/xds';
import { formatAddr, type SocketAddr } from '../addr.ts';
import { dialFlag } from '../conn/flags.ts';
import type { ResponseFlag } from '../conn/labels.ts';
import { earlyDenials, type TrackedConnection } from '../conn/registry.ts';
import { relay } from '../conn/relay.ts';
import type { FlowContext } from '../context.ts';
import { DEFAULT_PORTS } from '../options.ts';
import { transports } from '../transports/registry.ts';
import { type CarriedRoute, reachedDestination } from '../transports/transport.ts';
import { hostResolverFor, needsResolution, resolveRouteHost } from './hostname.ts';
import { isSelfCall } from './loop.ts';
import { routeOutbound } from './route.ts';

function refuse(
  ctx: FlowContext,
  socket: Socket,
  src: SocketAddr,
  dst: SocketAddr,
  reason: string,
  message: string,
): void {
  earlyDenials.inc({ direction: 'outbound', reason });
  ctx.log.warn(
    {
      scope: 'access',
      'src.addr': formatAddr(src),
      'dst.addr': formatAddr(dst),
      direction: 'outbound',
      error: message,
    },
    'connection failed',
  );
  socket.destroy();
}

/** What the flow derives from a workload for each connection, derived once per workload object. */
interface WorkloadNames {
  trustDomain: string;
  /** Its SPIFFE identity under `trustDomain`. */
  identity: string;
  /** `namespace/name`, as the connection list shows it. */
  ref: string;
}

// Weak: a workload xDS replaced or removed drops its entry. xDS replaces a changed workload, never
// edits it, so an entry stays right for the object's life.
const namesByWorkload = new WeakMap<Workload, WorkloadNames>();

function namesOf(w: Workload, trustDomain: string): WorkloadNames {
  let n = namesByWorkload.get(w);
  if (n === undefined || n.trustDomain !== trustDomain) {
    n = { trustDomain, identity: workloadIdentity(w, trustDomain), ref: `${w.namespace}/${w.name}` };
    namesByWorkload.set(w, n);
  }
  return n;
}

/**
 * The tracked connection of an outbound route, built the same way whichever transport carries
 * it, so metrics labels and the access line depend on the route and on `mtls` alone. It lands on
 * the route's workload: the destination, its waypoint, or the network gateway of double HBONE
 * (as upstream reports it; dst.addr is then the gateway's address). Double HBONE counts its open
 * once the destination answered, relabelled from its answer, as upstream's proxy_to_double_hbone.
 */
function track(
  ctx: FlowContext,
  route: CarriedRoute,
  mtls: boolean,
  srcWl: Workload,
  src: SocketAddr,
  srcId: string,
): TrackedConnection {
  const w = route.kind === 'passthrough' ? undefined : route.workload;
  const svc = route.kind === 'passthrough' ? undefined : route.service;
  const dstNames = w ? namesOf(w, ctx.config.trustDomain) : undefined;
  const dstId = mtls ? dstNames?.identity : undefined;
  const hboneAddr =
    route.kind === 'hbone'
      ? formatAddr(route.authority)
      : route.kind === 'double-hbone'
        ? `${route.authority.hostname}:${route.authority.port}`
        : undefined;
  const dstAddr = route.kind === 'hbone' ? route.authority : route.connect;
  return ctx.registry.open({
    info: {
      direction: 'outbound',
      protocol: mtls ? 'HBONE' : 'TCP',
      src: {
        ...src,
        workload: namesOf(srcWl, ctx.config.trustDomain).ref,
        ...(mtls ? { identity: srcId } : {}),
      },
      dst: {
        address: dstAddr.address,
        port: dstAddr.port,
        ...(dstNames ? { workload: dstNames.ref } : {}),
        ...(dstId ? { identity: dstId } : {}),
        ...(svc ? { service: svc.hostname } : {}),
      },
    },
    labels: {
      reporter: 'source',
      source: srcWl,
      ...(mtls ? { sourceIdentity: srcId } : {}),
      ...(w ? { destination: w } : {}),
      ...(dstId ? { destinationIdentity: dstId } : {}),
      ...(svc ? { service: svc } : {}),
      mtls,
    },
    ...(hboneAddr ? { hboneAddr } : {}),
    ...(route.kind === 'double-hbone' ? { deferOpen: true } : {}),
  });
}

/**
 * One outbound connection (15001 capture or SOCKS5): find the source workload, route, then carry
 * the bytes over the transport the registry gives for the route (plain TCP, HBONE, double HBONE).
 * `source` is given for in-pod listeners (the pod whose namespace the listener lives in);
 * otherwise the source is looked up by the peer IP.
 */
export async function proxyOutbound(
  ctx: FlowContext,
  socket: Socket,
  target: SocketAddr,
  source?: Workload,
): Promise<void> {
  const src: SocketAddr = { address: socketIp(socket.remoteAddress ?? ''), port: socket.remotePort ?? 0 };
  const dst: SocketAddr = { address: socketIp(target.address), port: target.port };
  if (isSelfCall(dst, ctx.ownPorts, ctx.ownAddresses)) {
    return refuse(
      ctx,
      socket,
      src,
      dst,
      'self-call',
      `refusing a connection to zt's own port ${formatAddr(dst)} (loop)`,
    );
  }
  const view = ctx.view();
  const srcWl = source ?? view.workloadByAddress(ctx.config.network, src.address);
  if (!srcWl) {
    return refuse(
      ctx,
      socket,
      src,
      dst,
      'unknown-source',
      `no workload with address ${src.address}: unknown source; check the workload is known to zt (xDS)`,
    );
  }
  const hbonePort = ctx.config.hbonePort ?? DEFAULT_PORTS.inbound;
  let route = routeOutbound(view, srcWl, dst, {
    network: ctx.config.network,
    trustDomain: ctx.config.trustDomain,
    hbonePort,
  });
  if (needsResolution(route)) {
    const resolver = hostResolverFor(ctx.config);
    route = await resolveRouteHost(route, srcWl, dst, resolver, ctx.config.trustDomain);
  }
  if (route.kind === 'error') return refuse(ctx, socket, src, dst, route.code, route.message);

  const transport = transports.select(route);
  if (!transport) {
    return refuse(ctx, socket, src, dst, 'no-transport', `no transport registered for a ${route.kind} route`);
  }
  const srcId = namesOf(srcWl, ctx.config.trustDomain).identity;
  const t = track(ctx, route, transport.mtls, srcWl, src, srcId);
  let upstream: Promise<Duplex>;
  try {
    upstream = transport.open({
      ctx,
      route,
      source: srcWl,
      sourceIdentity: srcId,
      client: src,
      inPod: !!source,
    });
  } catch (e) {
    upstream = Promise.reject(e);
  }
  socket.pause();
  let aborted: Error | undefined;
  t.onAbort((e) => {
    aborted = e;
    socket.destroy();
  });
  let server: Duplex;
  try {
    server = await upstream;
  } catch (e) {
    const err = e as Error;
    const flag: ResponseFlag =
      err instanceof HboneConnectError && err.status === 401 ? 'DENY' : dialFlag(err);
    socket.destroy();
    t.finish(err, flag);
    return;
  }
  if (route.kind === 'double-hbone') t.countOpen(reachedDestination(server));
  if (aborted) {
    server.destroy();
    t.finish(aborted);
    return;
  }
  try {
    await relay(socket, server, t);
    t.finish();
  } catch (e) {
    t.finish(e as Error);
  }
}
