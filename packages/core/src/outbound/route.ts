import { Identity, workloadIdentity } from '@zt/identity';
import type { GatewayAddress, ProxyStateView, Service, Workload } from '@zt/xds';
import { formatAddr, type SocketAddr } from '../addr.ts';
import { isRemote, loadBalance, reachableFrom, selectIp, targetPort, workloadByHostname } from './balance.ts';

/**
 * Where an outbound connection goes, decided from the state alone (no I/O). A workload known by
 * hostname only leaves `connect.address` empty, for DNS to fill (hostname.ts resolveRouteHost).
 */
export type Route =
  | {
      kind: 'hbone';
      /** `workload`: straight to the destination's zt; `*-waypoint`: through a waypoint proxy. */
      via: 'workload' | 'service-waypoint' | 'workload-waypoint';
      /** The TCP address to open the HBONE connection to (pod ip:15008 or waypoint:port). */
      connect: SocketAddr;
      /** `:authority` of the CONNECT request: the final `ip:port`. */
      authority: SocketAddr;
      /** SPIFFE identities the peer certificate may carry. */
      expectedIdentities: string[];
      /** The workload the connection actually lands on (the waypoint for waypoint routes). */
      workload: Workload;
      /** The service the client addressed, when it addressed one. */
      service?: Service;
    }
  | {
      /**
       * To a service endpoint (or waypoint) on another network, through that network's gateway:
       * an outer HBONE tunnel to the gateway, and inside it the inner HBONE (mTLS with the
       * destination) that the gateway forwards without reading it.
       */
      kind: 'double-hbone';
      /** The gateway's HBONE address (its `hboneMtlsPort`). */
      connect: SocketAddr;
      /** `:authority` of both CONNECTs: the service hostname and the port the client dialled. */
      authority: { hostname: string; port: number };
      /** SPIFFE identities the gateway may present (outer TLS). */
      gatewayIdentities: string[];
      /** SPIFFE identities the destination may present (inner TLS). */
      expectedIdentities: string[];
      /** The gateway: where the connection lands from this zt's view (as upstream reports it). */
      workload: Workload;
      /** The endpoint or waypoint picked on the remote network. */
      remote: Workload;
      service: Service;
    }
  | { kind: 'tcp'; connect: SocketAddr; workload: Workload; service?: Service }
  | { kind: 'passthrough'; connect: SocketAddr }
  | { kind: 'error'; code: RouteErrorCode; message: string };

export type RouteErrorCode =
  | 'no-healthy-upstream'
  | 'unknown-waypoint'
  | 'no-valid-destination'
  | 'no-resolved-addresses'
  | 'empty-resolved-addresses'
  | 'unknown-network-gateway';

export interface RouteOptions {
  network: string;
  /** Trust domain for workloads whose own is empty. */
  trustDomain: string;
  /** Port of the destination zt's HBONE listener (upstream uses its own inbound port). */
  hbonePort: number;
  /** Picks one of the best-ranked endpoints (default: at random, by capacity); tests fix it. */
  pick?: <T>(candidates: readonly T[]) => T;
}

// Identities are immutable and few (one per service account and SAN); parsing them on every
// connection showed in connection-rate profiles. Bounded: cleared wholesale when full.
const IDENTITY_CACHE_MAX = 4096;
const identities = new Map<string, Identity>();

/** `Identity.parse`, remembered per URI (it throws for a bad URI, which is not remembered). */
export function parseIdentity(uri: string): Identity {
  let id = identities.get(uri);
  if (id) return id;
  id = Identity.parse(uri);
  if (identities.size >= IDENTITY_CACHE_MAX) identities.clear();
  identities.set(uri, id);
  return id;
}

function error(code: RouteErrorCode, message: string): Route {
  return { kind: 'error', code, message };
}

interface Upstream {
  workload: Workload;
  ip: string;
  port: number;
  service?: Service;
}

// An empty `ip` stands for a workload known by hostname only: the outbound flow resolves it
// (hostname.ts resolveRouteHost) before dialling.
function upstreamFromService(
  state: ProxyStateView,
  source: Workload,
  svc: Service,
  port: number,
  like: string,
  opts: RouteOptions,
  waypointMode: boolean,
  anyNetwork = false,
): Upstream | undefined {
  const ep = loadBalance(state, source, svc, port, {
    mode: waypointMode ? 'waypoint' : 'standard',
    ...(anyNetwork ? {} : { reachable: reachableFrom(opts.network) }),
    choose: opts.pick,
  });
  const target = ep && targetPort(ep, port);
  if (!ep || target === undefined) return undefined;
  const ip = selectIp(ep.workload, like, svc.ipFamilies) ?? '';
  // No address is fine for a workload behind its network's gateway: the gateway picks it.
  if (!ip && !ep.workload.hostname && !isRemote(source, ep.workload)) return undefined;
  return { workload: ep.workload, ip, port: target, service: svc };
}

/** A waypoint referenced by address (a workload or a VIP) or by service hostname. */
function resolveWaypoint(
  state: ProxyStateView,
  source: Workload,
  gw: GatewayAddress,
  target: SocketAddr,
  opts: RouteOptions,
): Upstream | undefined {
  const d = gw.destination;
  if (d.kind === 'address') {
    const w = state.workloadByAddress(d.network, d.address);
    if (w) return { workload: w, ip: d.address, port: gw.hboneMtlsPort };
    const svc = state.serviceByVip(d.network, d.address);
    if (svc) return upstreamFromService(state, source, svc, gw.hboneMtlsPort, target.address, opts, true);
    return undefined;
  }
  const svc = state.serviceByHostname(d.namespace, d.hostname);
  if (svc) return upstreamFromService(state, source, svc, gw.hboneMtlsPort, target.address, opts, true);
  // As upstream's find_hostname: no such service, then a workload of that hostname.
  const w = workloadByHostname(state, d.namespace, d.hostname);
  if (!w) return undefined;
  const ip = selectIp(w, target.address) ?? '';
  return ip || w.hostname ? { workload: w, ip, port: gw.hboneMtlsPort } : undefined;
}

function waypointRoute(
  via: 'service-waypoint' | 'workload-waypoint',
  wp: Upstream,
  target: SocketAddr,
  service: Service | undefined,
  opts: RouteOptions,
): Route {
  return {
    kind: 'hbone',
    via,
    connect: { address: wp.ip, port: wp.port },
    authority: target,
    expectedIdentities: sans(wp, opts),
    workload: wp.workload,
    ...(service ? { service } : {}),
  };
}

function sans(us: Upstream, opts: RouteOptions): string[] {
  const ids = [...(us.service?.subjectAltNames ?? []), workloadIdentity(us.workload, opts.trustDomain)];
  return [...new Set(ids)];
}

function describeGateway(gw: GatewayAddress): string {
  const d = gw.destination;
  return d.kind === 'address' ? `${d.network}/${d.address}` : `${d.namespace}/${d.hostname}`;
}

/**
 * The gateway `gw` names, as upstream's fetch_network_gateway: an address is a workload or a
 * service VIP on the gateway's network (dialled on `hboneMtlsPort`), a hostname a service (load
 * balanced for `hboneMtlsPort`) or else a workload of that hostname. Gateways live on other
 * networks by nature: their endpoints are not filtered by network.
 */
function resolveNetworkGateway(
  state: ProxyStateView,
  source: Workload,
  gw: GatewayAddress,
  target: SocketAddr,
  opts: RouteOptions,
): Upstream | undefined {
  const d = gw.destination;
  if (d.kind === 'address') {
    const w = state.workloadByAddress(d.network, d.address);
    if (w) return { workload: w, ip: d.address, port: gw.hboneMtlsPort };
    const svc = state.serviceByVip(d.network, d.address);
    if (!svc) return undefined;
    const us = upstreamFromService(state, source, svc, gw.hboneMtlsPort, d.address, opts, false, true);
    return us?.ip ? us : undefined;
  }
  const svc = state.serviceByHostname(d.namespace, d.hostname);
  if (svc) {
    const us = upstreamFromService(state, source, svc, gw.hboneMtlsPort, target.address, opts, false, true);
    return us?.ip ? us : undefined;
  }
  const w = workloadByHostname(state, d.namespace, d.hostname);
  const ip = w && selectIp(w, target.address);
  return w && ip ? { workload: w, ip, port: gw.hboneMtlsPort } : undefined;
}

/**
 * Upstream's build_request_through_gateway: `remote` (an endpoint or waypoint of `service` on
 * another network) is reached through its network's gateway with double HBONE. Both CONNECTs name
 * the service hostname and the port the client dialled, so the gateway can route without reading
 * the inner tunnel. No gateway, or one missing from the state, is an error.
 */
function throughGateway(
  state: ProxyStateView,
  source: Workload,
  remote: Upstream,
  service: Service,
  target: SocketAddr,
  opts: RouteOptions,
): Route {
  const w = remote.workload;
  const gw = w.networkGateway;
  if (!gw) {
    return error(
      'no-valid-destination',
      `workload ${w.namespace}/${w.name} is on network "${w.network}" and has no network gateway`,
    );
  }
  const via = resolveNetworkGateway(state, source, gw, target, opts);
  if (!via) {
    return error(
      'unknown-network-gateway',
      `network gateway ${describeGateway(gw)} of network "${w.network}" (for ${w.namespace}/${w.name}) ` +
        'is not in the state; check the gateway workload or service is known to zt (xDS)',
    );
  }
  return {
    kind: 'double-hbone',
    connect: { address: via.ip, port: via.port },
    authority: { hostname: service.hostname, port: target.port },
    gatewayIdentities: sans(via, opts),
    expectedIdentities: sans(remote, opts),
    workload: via.workload,
    remote: w,
    service,
  };
}

/** Whether `source` is (one of the endpoints of) `dst`'s waypoint: then do not loop back to it. */
function isFromWaypoint(state: ProxyStateView, dst: Workload, source: Workload): boolean {
  const gw = dst.waypoint;
  if (!gw) return false;
  const d = gw.destination;
  if (d.kind === 'address') {
    if (source.workloadIps.includes(d.address)) return true;
    const svc = state.serviceByVip(d.network, d.address);
    return svc ? state.endpoints(svc).some((e) => e.workload.uid === source.uid) : false;
  }
  const svc = state.serviceByHostname(d.namespace, d.hostname);
  return svc ? state.endpoints(svc).some((e) => e.workload.uid === source.uid) : false;
}

/**
 * Upstream's outbound decision (proxy/outbound.rs build_request): a service VIP with a waypoint
 * goes to the waypoint; a VIP otherwise picks a healthy endpoint and maps the port (none: error);
 * a workload with a waypoint (addressed directly) goes to the waypoint; an HBONE workload goes to
 * `<ip>:<hbonePort>` with `:authority <ip>:<target port>`; a TCP workload is dialled directly;
 * anything unknown is passed through. A waypoint or endpoint on another network than the source's
 * is reached through that network's gateway (double HBONE).
 */
export function routeOutbound(
  state: ProxyStateView,
  source: Workload,
  target: SocketAddr,
  opts: RouteOptions,
): Route {
  const network = opts.network;
  const service = state.serviceByVip(network, target.address);
  let us: Upstream | undefined;
  if (service) {
    if (service.waypoint) {
      const wp = resolveWaypoint(state, source, service.waypoint, target, opts);
      if (!wp)
        return error(
          'unknown-waypoint',
          `waypoint of service ${service.namespace}/${service.hostname} not found`,
        );
      if (isRemote(source, wp.workload)) return throughGateway(state, source, wp, service, target, opts);
      return waypointRoute('service-waypoint', { ...wp, service }, target, service, opts);
    }
    // A passthrough service is not load balanced: the connection goes where the client sent it.
    if (service.loadBalancer?.mode === 'Passthrough') return { kind: 'passthrough', connect: target };
    us = upstreamFromService(state, source, service, target.port, target.address, opts, false);
    if (!us) {
      return error(
        'no-healthy-upstream',
        `service ${service.namespace}/${service.hostname} has no healthy endpoint for port ${target.port}`,
      );
    }
  } else {
    const w = state.workloadByAddress(network, target.address);
    if (!w) return { kind: 'passthrough', connect: target };
    us = { workload: w, ip: target.address, port: target.port };
    if (w.waypoint && !isFromWaypoint(state, w, source)) {
      const wp = resolveWaypoint(state, source, w.waypoint, target, opts);
      if (!wp) return error('unknown-waypoint', `waypoint of workload ${w.namespace}/${w.name} not found`);
      return waypointRoute('workload-waypoint', wp, target, undefined, opts);
    }
  }
  const svc = us.service;
  // Only a service endpoint can be on another network: addresses are looked up on this one.
  if (svc && isRemote(source, us.workload)) return throughGateway(state, source, us, svc, target, opts);
  if (us.workload.protocol === 'HBONE') {
    return {
      kind: 'hbone',
      via: 'workload',
      connect: { address: us.ip, port: opts.hbonePort },
      authority: { address: us.ip, port: us.port },
      expectedIdentities: sans(us, opts),
      workload: us.workload,
      ...(svc ? { service: svc } : {}),
    };
  }
  return {
    kind: 'tcp',
    connect: { address: us.ip, port: us.port },
    workload: us.workload,
    ...(svc ? { service: svc } : {}),
  };
}

export function describeRoute(r: Route): string {
  switch (r.kind) {
    case 'hbone':
      return `hbone(${r.via}) ${formatAddr(r.connect)} authority ${formatAddr(r.authority)}`;
    case 'double-hbone':
      return `double-hbone gateway ${formatAddr(r.connect)} authority ${r.authority.hostname}:${r.authority.port}`;
    case 'tcp':
      return `tcp ${formatAddr(r.connect)}`;
    case 'passthrough':
      return `passthrough ${formatAddr(r.connect)}`;
    case 'error':
      return `error ${r.code}: ${r.message}`;
  }
}
