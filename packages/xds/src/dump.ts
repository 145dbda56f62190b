import { ProxyState } from './state.ts';
import type {
  Authorization,
  Cidr,
  GatewayAddress,
  NetworkAddress,
  ProxyStateView,
  Service,
  StateSnapshot,
  StringMatch,
  Workload,
} from './types.ts';

// The state in upstream ztunnel's /config_dump JSON shape (workloads, services with endpoints,
// policies, stagedServices), so istioctl ztunnel-config and other readers of upstream's dump work.
// The app adds `certificates`, `version`, `config` (and `staticConfig` when local config is used).

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const netAddr = (a: NetworkAddress) => `${a.network}/${a.address}`;

function gateway(g: GatewayAddress): Json {
  const d = g.destination;
  return {
    destination: d.kind === 'address' ? `${d.network}/${d.address}` : `${d.namespace}/${d.hostname}`,
    hboneMtlsPort: g.hboneMtlsPort,
  };
}

/** One workload as upstream serializes it (empty optional fields left out, as upstream's serde does). */
export function dumpWorkload(w: Workload): Json {
  const out: { [k: string]: Json } = { workloadIps: w.workloadIps };
  if (w.waypoint) out.waypoint = gateway(w.waypoint);
  if (w.networkGateway) out.networkGateway = gateway(w.networkGateway);
  out.protocol = w.protocol;
  out.networkMode = w.networkMode ?? 'Standard';
  const opt = (k: string, v: string) => {
    if (v) out[k] = v;
  };
  opt('uid', w.uid);
  out.name = w.name;
  out.namespace = w.namespace;
  opt('trustDomain', w.trustDomain);
  opt('serviceAccount', w.serviceAccount);
  opt('network', w.network);
  opt('workloadName', w.workloadName);
  opt('workloadType', w.workloadType);
  opt('canonicalName', w.canonicalName);
  opt('canonicalRevision', w.canonicalRevision);
  opt('hostname', w.hostname);
  opt('node', w.node);
  if (w.nativeTunnel) out.nativeTunnel = true;
  if (w.applicationTunnel)
    out.applicationTunnel = {
      protocol: w.applicationTunnel.protocol,
      port: w.applicationTunnel.port ?? null,
    };
  if (w.authorizationPolicies.length) out.authorizationPolicies = w.authorizationPolicies;
  out.status = w.status;
  out.clusterId = w.clusterId;
  const l = w.locality;
  if (l && (l.region || l.zone || l.subzone))
    out.locality = { region: l.region, zone: l.zone, subzone: l.subzone };
  const services = Object.keys(w.services);
  if (services.length) out.services = services;
  out.capacity = w.capacity ?? 1;
  return out;
}

export function dumpService(s: Service, state: ProxyStateView): Json {
  const ports: { [k: string]: Json } = {};
  for (const p of s.ports) ports[String(p.servicePort)] = p.targetPort;
  const endpoints: { [k: string]: Json } = {};
  // Upstream's service store keeps only the endpoints the health policy admits: unhealthy ones
  // are left out unless the service's load balancer says AllowAll.
  const allowAll = s.loadBalancer?.healthPolicy === 'AllowAll';
  for (const ep of state.endpoints(s)) {
    if (ep.workload.status !== 'Healthy' && !allowAll) continue;
    const port: { [k: string]: Json } = {};
    for (const [sp, tp] of Object.entries(ep.workload.services[`${s.namespace}/${s.hostname}`] ?? {}))
      port[sp] = tp;
    endpoints[ep.workload.uid] = { workloadUid: ep.workload.uid, port, status: ep.workload.status };
  }
  const out: { [k: string]: Json } = {
    name: s.name,
    namespace: s.namespace,
    hostname: s.hostname,
    vips: s.vips.map(netAddr),
  };
  if (s.cidrVips?.length)
    out.cidrVips = s.cidrVips.map((c) => ({ network: c.network, cidr: `${c.address}/${c.length}` }));
  out.ports = ports;
  out.endpoints = endpoints;
  out.subjectAltNames = s.subjectAltNames;
  if (s.waypoint) out.waypoint = gateway(s.waypoint);
  if (s.loadBalancer) {
    out.loadBalancer = {
      routingPreferences: s.loadBalancer.routingPreferences,
      mode: s.loadBalancer.mode,
      healthPolicy: s.loadBalancer.healthPolicy,
    };
  }
  if (s.ipFamilies) out.ipFamilies = s.ipFamilies;
  out.canonical = s.canonical ?? false;
  // Always written, as upstream renders it even when it is the default.
  out.visibility = s.visibility ?? 'Public';
  return out;
}

function stringMatch(m: StringMatch): Json {
  switch (m.kind) {
    case 'exact':
      return { Exact: m.value };
    case 'prefix':
      return { Prefix: m.value };
    case 'suffix':
      return { Suffix: m.value };
    case 'presence':
      return { Presence: [] };
  }
}

const cidr = (c: Cidr) => `${c.address}/${c.length}`;

export function dumpPolicy(p: Authorization): Json {
  return {
    name: p.name,
    namespace: p.namespace,
    scope: p.scope,
    action: p.action,
    rules: p.rules.map((r) =>
      r.clauses.map((c) =>
        c.matches.map((m) => {
          const out: { [k: string]: Json } = {};
          const put = (k: string, v: Json[]) => {
            if (v.length) out[k] = v;
          };
          put('namespaces', m.namespaces.map(stringMatch));
          put('notNamespaces', m.notNamespaces.map(stringMatch));
          put(
            'serviceAccounts',
            m.serviceAccounts.map((s) => ({ namespace: s.namespace, serviceAccount: s.serviceAccount })),
          );
          put(
            'notServiceAccounts',
            m.notServiceAccounts.map((s) => ({ namespace: s.namespace, serviceAccount: s.serviceAccount })),
          );
          put('principals', m.principals.map(stringMatch));
          put('notPrincipals', m.notPrincipals.map(stringMatch));
          put('sourceIps', m.sourceIps.map(cidr));
          put('notSourceIps', m.notSourceIps.map(cidr));
          put('destinationIps', m.destinationIps.map(cidr));
          put('notDestinationIps', m.notDestinationIps.map(cidr));
          put('destinationPorts', m.destinationPorts);
          put('notDestinationPorts', m.notDestinationPorts);
          return out;
        }),
      ),
    ),
    dryRun: p.dryRun,
  };
}

/**
 * The local config as upstream's `staticConfig` renders its LocalConfig: workloads with their
 * `services` port maps, then policies, then services (their `endpoints` as the file gives them:
 * none, the workloads' `services` carry them). Empty lists when zt runs from istiod.
 */
export function dumpLocalConfig(local: StateSnapshot | Omit<StateSnapshot, 'version'> | undefined): {
  workloads: Json[];
  policies: Json[];
  services: Json[];
} {
  if (!local) return { workloads: [], policies: [], services: [] };
  const view = new ProxyState({ version: 0, ...local, workloads: [] });
  return {
    workloads: local.workloads.map((w) => {
      const out = dumpWorkload(w) as { [k: string]: Json };
      const services: { [k: string]: Json } = {};
      for (const [key, ports] of Object.entries(w.services)) {
        const map: { [k: string]: Json } = {};
        for (const [sp, tp] of Object.entries(ports)) map[sp] = tp;
        services[key] = map;
      }
      out.services = services;
      return out;
    }),
    policies: local.policies.map(dumpPolicy),
    services: local.services.map((s) => dumpService(s, view)),
  };
}

/** One network gateway as zt's config_dump lists it (zt's own key: upstream has no such list). */
export interface NetworkGatewayDump {
  /** As in the workloads' `networkGateway`: `network/address` or `namespace/hostname`. */
  destination: string;
  hboneMtlsPort: number;
  /** The networks of the workloads that name it (the networks it is the way into). */
  networks: string[];
  /** How many workloads name it. */
  workloads: number;
  /**
   * What the state resolves it to, as routing does: a workload (`namespace/name`) or a service
   * (`namespace/hostname`, with its endpoint count); null when it is missing from the state, so
   * connections through it are refused (`unknown-network-gateway`).
   */
  resolved: { kind: 'workload'; name: string } | { kind: 'service'; name: string; endpoints: number } | null;
}

function resolveGateway(view: ProxyStateView, g: GatewayAddress): NetworkGatewayDump['resolved'] {
  const d = g.destination;
  const svcOf = (s: Service) => ({
    kind: 'service' as const,
    name: `${s.namespace}/${s.hostname}`,
    endpoints: view.endpoints(s).length,
  });
  if (d.kind === 'address') {
    const w = view.workloadByAddress(d.network, d.address);
    if (w) return { kind: 'workload', name: `${w.namespace}/${w.name}` };
    const s = view.serviceByVip(d.network, d.address);
    return s ? svcOf(s) : null;
  }
  const s = view.serviceByHostname(d.namespace, d.hostname);
  if (s) return svcOf(s);
  const w = view.snapshot().workloads.find((x) => x.hostname === d.hostname && x.namespace === d.namespace);
  return w ? { kind: 'workload', name: `${w.namespace}/${w.name}` } : null;
}

/**
 * Every network gateway the workloads name, once each (by destination and port, sorted), with
 * what it resolves to: the east-west gateways this zt would send other networks' traffic through.
 */
export function dumpNetworkGateways(state: ProxyStateView | StateSnapshot): NetworkGatewayDump[] {
  const view = 'policiesFor' in state ? state : new ProxyState(state);
  const byKey = new Map<string, { g: GatewayAddress; networks: Set<string>; workloads: number }>();
  for (const w of view.snapshot().workloads) {
    const g = w.networkGateway;
    if (!g) continue;
    const destination = (gateway(g) as { destination: string }).destination;
    const key = `${destination}:${g.hboneMtlsPort}`;
    const e = byKey.get(key) ?? { g, networks: new Set<string>(), workloads: 0 };
    e.networks.add(w.network);
    e.workloads++;
    byKey.set(key, e);
  }
  return [...byKey.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, e]) => ({
      destination: (gateway(e.g) as { destination: string }).destination,
      hboneMtlsPort: e.g.hboneMtlsPort,
      networks: [...e.networks].sort(),
      workloads: e.workloads,
      resolved: resolveGateway(view, e.g),
    }));
}

export interface ConfigDump {
  workloads: Json[];
  services: Json[];
  policies: Json[];
  stagedServices: Record<string, never>;
  [extra: string]: unknown;
}

/**
 * The whole state in upstream's /config_dump shape, sorted as upstream sorts it (workloads by uid,
 * services by hostname, policies by namespace/name). `extra` is merged on top (certificates, ...).
 */
export function configDump(
  state: ProxyStateView | StateSnapshot,
  extra: Record<string, unknown> = {},
): ConfigDump {
  const view = 'policiesFor' in state ? state : new ProxyState(state);
  const snap = view.snapshot();
  const by =
    <T>(f: (x: T) => string) =>
    (a: T, b: T) =>
      f(a) < f(b) ? -1 : f(a) > f(b) ? 1 : 0;
  return {
    workloads: [...snap.workloads].sort(by((w: Workload) => w.uid)).map(dumpWorkload),
    services: [...snap.services]
      .sort(by((s: Service) => `${s.hostname}/${s.namespace}`))
      .map((s) => dumpService(s, view)),
    policies: [...snap.policies].sort(by((p: Authorization) => `${p.namespace}/${p.name}`)).map(dumpPolicy),
    stagedServices: {},
    certificates: [],
    ...extra,
  };
}
