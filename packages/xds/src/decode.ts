import { ResourceError } from './errors.ts';
import { bytesToIp, maxPrefix } from './ip.ts';
import type {
  PbAddress,
  PbAuthorization,
  PbCidr,
  PbGatewayAddress,
  PbMatch,
  PbPort,
  PbService,
  PbStringMatch,
  PbWorkload,
} from './pb.ts';
import type {
  Authorization,
  Cidr,
  GatewayAddress,
  LoadBalancer,
  Match,
  NetworkAddress,
  PolicyAction,
  PolicyScope,
  Service,
  StringMatch,
  TunnelProtocol,
  Workload,
} from './types.ts';

// istio.workload.Address / istio.security.Authorization (as plain objects) -> the model. Every
// failure is a ResourceError naming the resource, so the client can NACK just that one and keep the
// rest. Defaults follow upstream: trust domain cluster.local, service account default, cluster id
// Kubernetes, capacity 1.

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
export const DEFAULT_SERVICE_ACCOUNT = 'default';
export const DEFAULT_CLUSTER_ID = 'Kubernetes';

/** Thrown by field helpers; turned into a ResourceError with the resource's name by the callers. */
class Invalid extends Error {}

function ip(bytes: Uint8Array | undefined, what: string): string {
  const text = bytesToIp(bytes ?? new Uint8Array());
  if (text === undefined)
    throw new Invalid(`${what}: ${bytes?.length ?? 0} bytes is not an IPv4 (4) or IPv6 (16) address`);
  return text;
}

/** Enum value by name; protobufjs leaves numbers it does not know as numbers. */
function enumOf<T extends string>(
  value: string | number | undefined,
  map: Record<string, T>,
  what: string,
): T {
  const name = value === undefined ? undefined : String(value);
  const out = name === undefined ? undefined : map[name];
  if (out === undefined) throw new Invalid(`unknown ${what} ${String(value)}`);
  return out;
}

function port(n: number | undefined, what: string): number {
  const p = n ?? 0;
  if (!Number.isInteger(p) || p < 0 || p > 65535) throw new Invalid(`${what} ${p} is not a port number`);
  return p;
}

export function decodeGateway(g: PbGatewayAddress, what: string): GatewayAddress {
  const hboneMtlsPort = port(g.hboneMtlsPort, `${what} hbone_mtls_port`);
  if (g.address) {
    return {
      destination: {
        kind: 'address',
        network: g.address.network ?? '',
        address: ip(g.address.address, `${what} address`),
      },
      hboneMtlsPort,
    };
  }
  if (g.hostname) {
    return {
      destination: {
        kind: 'hostname',
        namespace: g.hostname.namespace ?? '',
        hostname: g.hostname.hostname ?? '',
      },
      hboneMtlsPort,
    };
  }
  throw new Invalid(`${what} has neither an address nor a hostname`);
}

function portMap(ports: PbPort[] | undefined, what: string): Record<number, number> {
  const out: Record<number, number> = {};
  for (const p of ports ?? [])
    out[port(p.servicePort, `${what} service port`)] = port(p.targetPort, `${what} target port`);
  return out;
}

const PROTOCOLS: Record<string, TunnelProtocol> = { NONE: 'TCP', HBONE: 'HBONE' };
const WORKLOAD_TYPES = { DEPLOYMENT: 'deployment', CRONJOB: 'cronjob', POD: 'pod', JOB: 'job' } as const;
const STATUSES = { HEALTHY: 'Healthy', UNHEALTHY: 'Unhealthy' } as const;
const NETWORK_MODES = { STANDARD: 'Standard', HOST_NETWORK: 'HostNetwork' } as const;
const APP_TUNNEL = { NONE: 'NONE', PROXY: 'PROXY' } as const;

function decodeWorkloadInner(w: PbWorkload): Workload {
  if (!w.uid) throw new Invalid('workload without uid');
  if (w.tunnelProtocol === 'LEGACY_ISTIO_MTLS') {
    throw new Invalid(
      'unsupported tunnel protocol LEGACY_ISTIO_MTLS (ztunnel cannot send legacy Istio mTLS)',
    );
  }
  const services: Record<string, Record<number, number>> = {};
  for (const [key, list] of Object.entries(w.services ?? {})) {
    if (!key.includes('/')) throw new Invalid(`service key "${key}" is not namespace/hostname`);
    services[key] = portMap(list.ports, `service ${key}`);
  }
  const out: Workload = {
    uid: w.uid,
    name: w.name ?? '',
    namespace: w.namespace ?? '',
    workloadIps: (w.addresses ?? []).map((a, i) => ip(a, `address #${i}`)),
    hostname: w.hostname ?? '',
    network: w.network ?? '',
    protocol: enumOf(w.tunnelProtocol ?? 'NONE', PROTOCOLS, 'tunnel protocol'),
    trustDomain: w.trustDomain || DEFAULT_TRUST_DOMAIN,
    serviceAccount: w.serviceAccount || DEFAULT_SERVICE_ACCOUNT,
    node: w.node ?? '',
    canonicalName: w.canonicalName ?? '',
    canonicalRevision: w.canonicalRevision ?? '',
    workloadType: enumOf(w.workloadType ?? 'DEPLOYMENT', WORKLOAD_TYPES, 'workload type'),
    workloadName: w.workloadName ?? '',
    clusterId: w.clusterId || DEFAULT_CLUSTER_ID,
    status: enumOf(w.status ?? 'HEALTHY', STATUSES, 'workload status'),
    services,
    authorizationPolicies: [...(w.authorizationPolicies ?? [])],
    networkMode: enumOf(w.networkMode ?? 'STANDARD', NETWORK_MODES, 'network mode'),
    capacity: w.capacity?.value ?? 1,
  };
  if (w.waypoint) out.waypoint = decodeGateway(w.waypoint, 'waypoint');
  if (w.networkGateway) out.networkGateway = decodeGateway(w.networkGateway, 'network gateway');
  if (w.locality)
    out.locality = {
      region: w.locality.region ?? '',
      zone: w.locality.zone ?? '',
      subzone: w.locality.subzone ?? '',
    };
  if (w.nativeTunnel) out.nativeTunnel = true;
  if (w.applicationTunnel) {
    out.applicationTunnel = {
      protocol: enumOf(w.applicationTunnel.protocol ?? 'NONE', APP_TUNNEL, 'application tunnel protocol'),
    };
    const p = port(w.applicationTunnel.port, 'application tunnel port');
    if (p !== 0) out.applicationTunnel.port = p;
  }
  return out;
}

const LB_SCOPES = {
  REGION: 'Region',
  ZONE: 'Zone',
  SUBZONE: 'Subzone',
  NODE: 'Node',
  CLUSTER: 'Cluster',
  NETWORK: 'Network',
} as const;
const LB_MODES = {
  UNSPECIFIED_MODE: 'Standard',
  STRICT: 'Strict',
  FAILOVER: 'Failover',
  PASSTHROUGH: 'Passthrough',
} as const;
const LB_HEALTH = { ONLY_HEALTHY: 'OnlyHealthy', ALLOW_ALL: 'AllowAll' } as const;
const IP_FAMILIES = { AUTOMATIC: '', IPV4_ONLY: 'IPv4', IPV6_ONLY: 'IPv6', DUAL: 'Dual' } as const;

function decodeServiceInner(s: PbService): Service {
  if (!s.namespace || !s.hostname) throw new Invalid('service without namespace or hostname');
  const vips: NetworkAddress[] = [];
  const cidrVips: Array<NetworkAddress & { length: number }> = [];
  for (const [i, a] of (s.addresses ?? []).entries()) {
    const address = ip(a.address, `address #${i}`);
    const network = a.network ?? '';
    const max = maxPrefix(address);
    if (a.length == null || a.length === max) {
      vips.push({ network, address });
    } else if (a.length >= 0 && a.length < max) {
      cidrVips.push({ network, address, length: a.length });
    } else {
      throw new Invalid(`address #${i} prefix length ${a.length} is out of range for ${address}`);
    }
  }
  const out: Service = {
    name: s.name ?? '',
    namespace: s.namespace,
    hostname: s.hostname,
    vips,
    ports: (s.ports ?? []).map((p) => ({
      servicePort: port(p.servicePort, 'service port'),
      targetPort: port(p.targetPort, 'target port'),
    })),
    subjectAltNames: [...(s.subjectAltNames ?? [])],
  };
  if (cidrVips.length) out.cidrVips = cidrVips;
  if (s.waypoint) out.waypoint = decodeGateway(s.waypoint, 'waypoint');
  if (s.canonical) out.canonical = true;
  if (s.loadBalancing) {
    const lb: LoadBalancer = {
      routingPreferences: (s.loadBalancing.routingPreference ?? []).map((r) =>
        enumOf(r, LB_SCOPES, 'load balancing scope'),
      ),
      mode: enumOf(s.loadBalancing.mode ?? 'UNSPECIFIED_MODE', LB_MODES, 'load balancing mode'),
      healthPolicy: enumOf(s.loadBalancing.healthPolicy ?? 'ONLY_HEALTHY', LB_HEALTH, 'health policy'),
    };
    out.loadBalancer = lb;
  }
  const fam = enumOf(s.ipFamilies ?? 'AUTOMATIC', IP_FAMILIES, 'ip families');
  if (fam) out.ipFamilies = fam;
  // As upstream: an unknown visibility falls back to PUBLIC rather than dropping the service.
  if (s.visibility === 'NAMESPACE') out.visibility = 'Namespace';
  return out;
}

export type DecodedAddress = { kind: 'workload'; workload: Workload } | { kind: 'service'; service: Service };

/** Decode one istio.workload.Address resource named `name`. */
export function decodeAddress(name: string, a: PbAddress): DecodedAddress {
  try {
    if (a.workload) return { kind: 'workload', workload: decodeWorkloadInner(a.workload) };
    if (a.service) return { kind: 'service', service: decodeServiceInner(a.service) };
    throw new Invalid('Address holds neither a workload nor a service');
  } catch (e) {
    if (e instanceof Invalid) throw new ResourceError(name, e.message);
    throw e;
  }
}

const SCOPES: Record<string, PolicyScope> = {
  GLOBAL: 'Global',
  NAMESPACE: 'Namespace',
  WORKLOAD_SELECTOR: 'WorkloadSelector',
};
const ACTIONS: Record<string, PolicyAction> = { ALLOW: 'Allow', DENY: 'Deny' };

function stringMatches(list: PbStringMatch[] | undefined): StringMatch[] {
  const out: StringMatch[] = [];
  // An empty StringMatch (no oneof member) matches nothing; upstream drops it, and so do we.
  for (const m of list ?? []) {
    switch (m.matchType) {
      case 'exact':
        out.push({ kind: 'exact', value: m.exact ?? '' });
        break;
      case 'prefix':
        out.push({ kind: 'prefix', value: m.prefix ?? '' });
        break;
      case 'suffix':
        out.push({ kind: 'suffix', value: m.suffix ?? '' });
        break;
      case 'presence':
        out.push({ kind: 'presence' });
        break;
    }
  }
  return out;
}

function cidrs(list: PbCidr[] | undefined, what: string): Cidr[] {
  return (list ?? []).map((c, i) => {
    const address = ip(c.address, `${what} #${i}`);
    const length = c.length ?? 0;
    if (length < 0 || length > maxPrefix(address))
      throw new Invalid(`${what} #${i}: prefix length ${length} is out of range`);
    return { address, length };
  });
}

function ports(list: number[] | undefined, what: string): number[] {
  return (list ?? []).map((p) => port(p, what));
}

function decodeMatch(m: PbMatch): Match {
  const sa = (l: PbMatch['serviceAccounts']) =>
    (l ?? []).map((x) => ({ namespace: x.namespace ?? '', serviceAccount: x.serviceAccount ?? '' }));
  return {
    namespaces: stringMatches(m.namespaces),
    notNamespaces: stringMatches(m.notNamespaces),
    principals: stringMatches(m.principals),
    notPrincipals: stringMatches(m.notPrincipals),
    sourceIps: cidrs(m.sourceIps, 'source ip'),
    notSourceIps: cidrs(m.notSourceIps, 'not source ip'),
    destinationIps: cidrs(m.destinationIps, 'destination ip'),
    notDestinationIps: cidrs(m.notDestinationIps, 'not destination ip'),
    destinationPorts: ports(m.destinationPorts, 'destination port'),
    notDestinationPorts: ports(m.notDestinationPorts, 'not destination port'),
    serviceAccounts: sa(m.serviceAccounts),
    notServiceAccounts: sa(m.notServiceAccounts),
  };
}

/** Decode one istio.security.Authorization resource named `name` (normally `namespace/name`). */
export function decodeAuthorization(name: string, p: PbAuthorization): Authorization {
  try {
    if (!p.name) throw new Invalid('policy without a name');
    return {
      name: p.name,
      namespace: p.namespace ?? '',
      scope: enumOf(p.scope ?? 'GLOBAL', SCOPES, 'scope'),
      action: enumOf(p.action ?? 'ALLOW', ACTIONS, 'action'),
      rules: (p.rules ?? []).map((r) => ({
        clauses: (r.clauses ?? []).map((c) => ({ matches: (c.matches ?? []).map(decodeMatch) })),
      })),
      dryRun: p.dryRun ?? false,
    };
  } catch (e) {
    if (e instanceof Invalid) throw new ResourceError(name, e.message);
    throw e;
  }
}
