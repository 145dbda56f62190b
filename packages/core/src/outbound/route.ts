import { Identity, workloadIdentity } from '@zt/identity';
import type { Endpoint, GatewayAddress, ProxyStateView, Service, Workload } from '@zt/xds';
import { formatAddr, type SocketAddr } from '../addr.ts';

/** Where an outbound connection goes, decided from the state alone (no I/O). */
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
  | { kind: 'tcp'; connect: SocketAddr; workload: Workload; service?: Service }
  | { kind: 'passthrough'; connect: SocketAddr }
  | { kind: 'error'; code: RouteErrorCode; message: string };

export type RouteErrorCode = 'no-healthy-upstream' | 'unknown-waypoint' | 'no-valid-destination';

export interface RouteOptions {
  network: string;
  /** Trust domain for workloads whose own is empty. */
  trustDomain: string;
  /** Port of the destination zt's HBONE listener (upstream uses its own inbound port). */
  hbonePort: number;
  /** Picks one of several candidates; injectable so tests are deterministic. */
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

const randomPick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)] as T;

function error(code: RouteErrorCode, message: string): Route {
  return { kind: 'error', code, message };
}

/** Prefer the IP the client used, else one of the same family, else any. */
function pickIp(w: Workload, preferred: string | undefined, like: string): string | undefined {
  if (preferred && w.workloadIps.includes(preferred)) return preferred;
  const v6 = like.includes(':');
  return w.workloadIps.find((ip) => ip.includes(':') === v6) ?? w.workloadIps[0];
}

interface Upstream {
  workload: Workload;
  ip: string;
  port: number;
  service?: Service;
}

function endpointsFor(
  state: ProxyStateView,
  svc: Service,
  port: number,
  network: string,
  waypointMode: boolean,
): Endpoint[] {
  const svcPort = svc.ports.find((p) => p.servicePort === port);
  // A service addressed on a port it does not declare is not routable (waypoints excepted).
  if (!svcPort && !waypointMode) return [];
  return state.endpoints(svc).filter((ep) => {
    const w = ep.workload;
    if (w.status !== 'Healthy' || w.workloadIps.length === 0) return false;
    if ((w.network || '') !== (network || '')) return false;
    if (waypointMode) return true;
    return ep.ports[port] !== undefined || (svcPort?.targetPort ?? 0) > 0;
  });
}

function upstreamFromService(
  state: ProxyStateView,
  svc: Service,
  port: number,
  like: string,
  opts: RouteOptions,
  waypointMode: boolean,
): Upstream | undefined {
  const eps = endpointsFor(state, svc, port, opts.network, waypointMode);
  if (eps.length === 0) return undefined;
  const ep = (opts.pick ?? randomPick)(eps);
  const svcTarget = svc.ports.find((p) => p.servicePort === port)?.targetPort ?? 0;
  const target = ep.ports[port] ?? (svcTarget > 0 ? svcTarget : port);
  const ip = pickIp(ep.workload, undefined, like);
  if (!ip) return undefined;
  return { workload: ep.workload, ip, port: target, service: svc };
}

/** A waypoint referenced by address (a workload or a VIP) or by service hostname. */
function resolveWaypoint(
  state: ProxyStateView,
  gw: GatewayAddress,
  target: SocketAddr,
  opts: RouteOptions,
): Upstream | undefined {
  const d = gw.destination;
  if (d.kind === 'address') {
    const w = state.workloadByAddress(d.network, d.address);
    if (w) return { workload: w, ip: d.address, port: gw.hboneMtlsPort };
    const svc = state.serviceByVip(d.network, d.address);
    if (svc) return upstreamFromService(state, svc, gw.hboneMtlsPort, target.address, opts, true);
    return undefined;
  }
  const svc = state.serviceByHostname(d.namespace, d.hostname);
  if (!svc) return undefined;
  return upstreamFromService(state, svc, gw.hboneMtlsPort, target.address, opts, true);
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
 * Upstream's outbound decision (proxy/outbound.rs build_request), without network gateways:
 * a service VIP with a waypoint goes to the waypoint; a VIP otherwise picks a healthy endpoint and
 * maps the port (none: error); a workload with a waypoint (addressed directly) goes to the
 * waypoint; an HBONE workload goes to `<ip>:<hbonePort>` with `:authority <ip>:<target port>`;
 * a TCP workload is dialled directly; anything unknown is passed through.
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
      const wp = resolveWaypoint(state, service.waypoint, target, opts);
      if (!wp)
        return error(
          'unknown-waypoint',
          `waypoint of service ${service.namespace}/${service.hostname} not found`,
        );
      return waypointRoute('service-waypoint', { ...wp, service }, target, service, opts);
    }
    us = upstreamFromService(state, service, target.port, target.address, opts, false);
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
      const wp = resolveWaypoint(state, w.waypoint, target, opts);
      if (!wp) return error('unknown-waypoint', `waypoint of workload ${w.namespace}/${w.name} not found`);
      return waypointRoute('workload-waypoint', wp, target, undefined, opts);
    }
  }
  const svc = us.service;
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
    case 'tcp':
      return `tcp ${formatAddr(r.connect)}`;
    case 'passthrough':
      return `passthrough ${formatAddr(r.connect)}`;
    case 'error':
      return `error ${r.code}: ${r.message}`;
  }
}
