import type { Socket } from 'node:net';
import { workloadIdentity } from '@zt/identity';
import { HboneConnectError } from '@zt/transport';
import type { Workload } from '@zt/xds';
import { socketIp } from '@zt/xds';
import { formatAddr, type SocketAddr } from '../addr.ts';
import { dialTcp } from '../conn/dial.ts';
import { dialFlag } from '../conn/flags.ts';
import type { ResponseFlag } from '../conn/labels.ts';
import { earlyDenials, type TrackedConnection } from '../conn/registry.ts';
import { relay } from '../conn/relay.ts';
import type { FlowContext } from '../context.ts';
import { DEFAULT_PORTS } from '../options.ts';
import { baggageHeader, forwardedHeader, newTraceparent } from './headers.ts';
import { hostResolverFor, needsResolution, resolveRouteHost } from './hostname.ts';
import { isSelfCall } from './loop.ts';
import { parseIdentity, routeOutbound } from './route.ts';

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

/**
 * One outbound connection (15001 capture or SOCKS5): find the source workload, route, then carry
 * the bytes over HBONE or plain TCP. `source` is given for in-pod listeners (the pod whose
 * namespace the listener lives in); otherwise the source is looked up by the peer IP.
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

  const srcId = workloadIdentity(srcWl, ctx.config.trustDomain);
  const srcInfo = { ...src, workload: `${srcWl.namespace}/${srcWl.name}` };
  let t: TrackedConnection;
  let upstream: Promise<import('node:stream').Duplex>;
  if (route.kind === 'hbone') {
    const dstId = workloadIdentity(route.workload, ctx.config.trustDomain);
    t = ctx.registry.open({
      info: {
        direction: 'outbound',
        protocol: 'HBONE',
        src: { ...srcInfo, identity: srcId },
        dst: {
          ...route.authority,
          workload: `${route.workload.namespace}/${route.workload.name}`,
          identity: dstId,
          ...(route.service ? { service: route.service.hostname } : {}),
        },
      },
      labels: {
        reporter: 'source',
        source: srcWl,
        sourceIdentity: srcId,
        destination: route.workload,
        destinationIdentity: dstId,
        ...(route.service ? { service: route.service } : {}),
        mtls: true,
      },
      hboneAddr: formatAddr(route.authority),
    });
    // Dial from the pod's own address when zt holds it (loopback demo), so the destination sees
    // the source pod as the TCP peer, as with upstream's in-pod mode.
    const localAddress =
      ctx.config.listeners.workloads?.mode === 'loopback' && srcWl.node === ctx.config.nodeName
        ? srcWl.workloadIps.find((ip) => ip.includes(':') === route.connect.address.includes(':'))
        : undefined;
    // In-pod: dial from inside the source pod's namespace, as upstream does, so the peer sees the
    // pod's IP and the pod's network policy applies; the mark keeps the pod's capture rules off it.
    const netns = source ? ctx.netnsOf(source.uid) : undefined;
    const connectIn = ctx.ops.connect;
    const mark = ctx.config.socketMark;
    const dialer =
      netns && connectIn
        ? {
            key: `netns:${netns}`,
            connect: (to: SocketAddr) => connectIn(to, { netns, ...(mark ? { mark } : {}) }),
          }
        : undefined;
    upstream = ctx.pool.open({
      source: parseIdentity(srcId),
      destinationIdentities: route.expectedIdentities.map(parseIdentity),
      address: route.connect,
      authority: formatAddr(route.authority),
      headers: {
        baggage: baggageHeader(srcWl),
        forwarded: forwardedHeader(src, route.service),
        traceparent: newTraceparent(),
      },
      ...(localAddress ? { localAddress } : {}),
      ...(dialer ? { dialer } : {}),
    });
  } else {
    const w = route.kind === 'tcp' ? route.workload : undefined;
    const svc = route.kind === 'tcp' ? route.service : undefined;
    t = ctx.registry.open({
      info: {
        direction: 'outbound',
        protocol: 'TCP',
        src: srcInfo,
        dst: {
          ...route.connect,
          ...(w ? { workload: `${w.namespace}/${w.name}` } : {}),
          ...(svc ? { service: svc.hostname } : {}),
        },
      },
      labels: {
        reporter: 'source',
        source: srcWl,
        ...(w ? { destination: w } : {}),
        ...(svc ? { service: svc } : {}),
        mtls: false,
      },
    });
    upstream = dialTcp(ctx, route.connect);
  }
  socket.pause();
  let aborted: Error | undefined;
  t.onAbort((e) => {
    aborted = e;
    socket.destroy();
  });
  let server: import('node:stream').Duplex;
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
