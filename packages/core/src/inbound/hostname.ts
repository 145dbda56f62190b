import type { HostAuthority, InboundTunnel } from '@zt/transport';
import { type ProxyStateView, type Service, socketIp, type Workload } from '@zt/xds';
import { formatAddr, type SocketAddr } from '../addr.ts';
import { dialTcp } from '../conn/dial.ts';
import { relay } from '../conn/relay.ts';
import type { FlowContext } from '../context.ts';
import { DEFAULT_PORTS } from '../options.ts';
import { loadBalance, selectIp } from '../outbound/balance.ts';
import { X_FORWARDED_NETWORK } from '../transports/double-hbone.ts';
import { acceptHeaders } from './baggage.ts';
import { localWorkloadAt, refuseEarly, serveInbound } from './flow.ts';

// A CONNECT whose :authority is a service `hostname:port` arrives in two roles. At an endpoint
// of the service (the inner tunnel of double HBONE, forwarded by a gateway), it is for that
// workload: the service port maps to the workload's port, as upstream's find_inbound_upstream.
// At a workload that is the network gateway of the service's endpoints on this network (the outer
// tunnel), zt acts as Istio's east-west gateway: it picks an endpoint on its network and forwards
// the tunnel's bytes, the inner HBONE it cannot read, to the endpoint's HBONE port.

/** A service by hostname, in `namespace` first (upstream's get_best_by_host), else in any namespace. */
function serviceByHost(view: ProxyStateView, hostname: string, namespace: string): Service | undefined {
  return (
    view.serviceByHostname(namespace, hostname) ??
    view.snapshot().services.find((s) => s.hostname === hostname)
  );
}

/** Whether `gw` (a workload's networkGateway) names `w`, by address or by hostname. */
function namesWorkload(view: ProxyStateView, gw: Workload['networkGateway'], w: Workload): boolean {
  if (!gw) return false;
  const d = gw.destination;
  if (d.kind === 'address')
    return (w.network || '') === (d.network || '') && w.workloadIps.includes(d.address);
  if (w.hostname === d.hostname && w.namespace === d.namespace) return true;
  const svc = view.serviceByHostname(d.namespace, d.hostname);
  return svc ? view.endpoints(svc).some((e) => e.workload.uid === w.uid) : false;
}

/** Whether `x-forwarded-network` names another network than ours: the source is then unknown here. */
function fromOtherNetwork(ctx: FlowContext, tunnel: InboundTunnel): boolean {
  const h = tunnel.headers[X_FORWARDED_NETWORK];
  const network = Array.isArray(h) ? h[0] : h;
  return network !== undefined && network.toLowerCase() !== ctx.config.network.toLowerCase();
}

export async function serveHostnameTunnel(
  ctx: FlowContext,
  tunnel: InboundTunnel,
  authority: HostAuthority,
): Promise<void> {
  const local = socketIp(tunnel.local.address);
  const peerIdentity = String(tunnel.peerIdentity);
  const hboneAddr = `${authority.hostname}:${authority.port}`;
  const refuse = (reason: string, message: string) =>
    refuseEarly(
      ctx,
      {
        'src.addr': formatAddr(tunnel.remote),
        'dst.addr': formatAddr(tunnel.local),
        'dst.hbone_addr': hboneAddr,
        'src.identity': peerIdentity,
      },
      reason,
      message,
      () => tunnel.reject(503),
    );
  const atLocal = localWorkloadAt(ctx, local);
  if (!atLocal)
    return refuse('unknown-destination', `${local} is not a workload of node ${ctx.config.nodeName}`);
  const view = ctx.view();
  const svc = serviceByHost(view, authority.hostname, atLocal.namespace);
  if (!svc) return refuse('unknown-service', `no service with hostname ${authority.hostname}`);
  const endpoints = view.endpoints(svc);
  const own = endpoints.find((e) => e.workload.uid === atLocal.uid);
  const network = ctx.config.network || '';
  const here = (w: Workload) => (w.network || '') === network;
  if (
    !own &&
    endpoints.some((e) => here(e.workload) && namesWorkload(view, e.workload.networkGateway, atLocal))
  ) {
    return forwardAsGateway(ctx, tunnel, atLocal, svc, authority, refuse);
  }
  const port =
    own?.ports[authority.port] ?? svc.ports.find((p) => p.servicePort === authority.port)?.targetPort;
  if (!port) {
    return refuse(
      'no-port',
      `service ${svc.hostname} maps no target port for ${authority.port} on ${atLocal.name}`,
    );
  }
  const src: SocketAddr = { address: socketIp(tunnel.remote.address), port: tunnel.remote.port };
  return serveInbound(
    ctx,
    {
      protocol: 'HBONE',
      src,
      dst: { address: local, port },
      peerIdentity,
      fromGateway: fromOtherNetwork(ctx, tunnel),
      reject: (status) => tunnel.reject(status),
      accept: () => tunnel.accept(acceptHeaders(ctx, atLocal)),
    },
    atLocal,
  );
}

/** The east-west gateway's part: an endpoint of `svc` on this network gets the tunnel's bytes. */
async function forwardAsGateway(
  ctx: FlowContext,
  tunnel: InboundTunnel,
  gateway: Workload,
  svc: Service,
  authority: HostAuthority,
  refuse: (reason: string, message: string) => void,
): Promise<void> {
  const network = ctx.config.network || '';
  const ep = loadBalance(ctx.view(), gateway, svc, authority.port, {
    mode: 'standard',
    reachable: (w) => (w.network || '') === network && w.protocol === 'HBONE',
  });
  const ip = ep && selectIp(ep.workload, socketIp(tunnel.local.address), svc.ipFamilies);
  if (!ep || !ip) {
    return refuse(
      'no-healthy-upstream',
      `service ${svc.hostname} has no healthy HBONE endpoint on network "${network}" for port ${authority.port}`,
    );
  }
  const to: SocketAddr = { address: ip, port: ctx.config.hbonePort ?? DEFAULT_PORTS.inbound };
  const peerIdentity = String(tunnel.peerIdentity);
  // The gateway knows the outer identity only: the inner one is inside TLS it does not terminate.
  const t = ctx.registry.open({
    info: {
      direction: 'inbound',
      protocol: 'HBONE',
      src: { address: socketIp(tunnel.remote.address), port: tunnel.remote.port, identity: peerIdentity },
      dst: { ...to, workload: `${ep.workload.namespace}/${ep.workload.name}`, service: svc.hostname },
    },
    labels: {
      reporter: 'destination',
      sourceIdentity: peerIdentity,
      destination: ep.workload,
      service: svc,
      mtls: true,
    },
    hboneAddr: `${authority.hostname}:${authority.port}`,
  });
  let upstream: import('node:net').Socket;
  try {
    upstream = await dialTcp(ctx, to);
  } catch (e) {
    tunnel.reject(503);
    t.finish(e as Error, 'CONNECT');
    return;
  }
  try {
    await relay(tunnel.accept(), upstream, t);
    t.finish();
  } catch (e) {
    upstream.destroy();
    t.finish(e as Error);
  }
}
