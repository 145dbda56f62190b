import { ipToBytes } from './ip.ts';
import type { PbAddress, PbAuthorization, PbGatewayAddress, PbMatch, PbStringMatch } from './pb.ts';
import type { Authorization, Cidr, GatewayAddress, Service, StringMatch, Workload } from './types.ts';

// The model -> istio.workload / istio.security plain objects (for protobufjs fromObject). The test
// xDS server serves YAML and model objects through this, and round-trip tests pin it to decode.ts.

function bytes(ip: string): Uint8Array {
  const b = ipToBytes(ip);
  if (!b) throw new TypeError(`not an IP address: ${ip}`);
  return b;
}

function gateway(g: GatewayAddress): PbGatewayAddress {
  const d = g.destination;
  return d.kind === 'address'
    ? { address: { network: d.network, address: bytes(d.address) }, hboneMtlsPort: g.hboneMtlsPort }
    : { hostname: { namespace: d.namespace, hostname: d.hostname }, hboneMtlsPort: g.hboneMtlsPort };
}

const WORKLOAD_TYPES = { deployment: 'DEPLOYMENT', cronjob: 'CRONJOB', pod: 'POD', job: 'JOB' } as const;

export function encodeWorkload(w: Workload): PbAddress {
  const services: Record<string, { ports: Array<{ servicePort: number; targetPort: number }> }> = {};
  for (const [key, map] of Object.entries(w.services)) {
    services[key] = {
      ports: Object.entries(map).map(([sp, tp]) => ({ servicePort: Number(sp), targetPort: tp })),
    };
  }
  return {
    workload: {
      uid: w.uid,
      name: w.name,
      namespace: w.namespace,
      addresses: w.workloadIps.map(bytes),
      hostname: w.hostname,
      network: w.network,
      tunnelProtocol: w.protocol === 'HBONE' ? 'HBONE' : 'NONE',
      trustDomain: w.trustDomain,
      serviceAccount: w.serviceAccount,
      waypoint: w.waypoint ? gateway(w.waypoint) : null,
      networkGateway: w.networkGateway ? gateway(w.networkGateway) : null,
      node: w.node,
      canonicalName: w.canonicalName,
      canonicalRevision: w.canonicalRevision,
      workloadType: WORKLOAD_TYPES[w.workloadType],
      workloadName: w.workloadName,
      nativeTunnel: w.nativeTunnel ?? false,
      applicationTunnel: w.applicationTunnel
        ? { protocol: w.applicationTunnel.protocol, port: w.applicationTunnel.port ?? 0 }
        : null,
      services,
      authorizationPolicies: w.authorizationPolicies,
      status: w.status === 'Healthy' ? 'HEALTHY' : 'UNHEALTHY',
      clusterId: w.clusterId,
      locality: w.locality ?? null,
      networkMode: w.networkMode === 'HostNetwork' ? 'HOST_NETWORK' : 'STANDARD',
      capacity: w.capacity !== undefined && w.capacity !== 1 ? { value: w.capacity } : null,
    },
  };
}

const LB_SCOPES = {
  Region: 'REGION',
  Zone: 'ZONE',
  Subzone: 'SUBZONE',
  Node: 'NODE',
  Cluster: 'CLUSTER',
  Network: 'NETWORK',
} as const;
const LB_MODES = {
  Standard: 'UNSPECIFIED_MODE',
  Strict: 'STRICT',
  Failover: 'FAILOVER',
  Passthrough: 'PASSTHROUGH',
} as const;
const IP_FAMILIES = { IPv4: 'IPV4_ONLY', IPv6: 'IPV6_ONLY', Dual: 'DUAL' } as const;

export function encodeService(s: Service): PbAddress {
  return {
    service: {
      name: s.name,
      namespace: s.namespace,
      hostname: s.hostname,
      addresses: [
        ...s.vips.map((v) => ({ network: v.network, address: bytes(v.address) })),
        ...(s.cidrVips ?? []).map((v) => ({
          network: v.network,
          address: bytes(v.address),
          length: v.length,
        })),
      ],
      ports: s.ports.map((p) => ({ servicePort: p.servicePort, targetPort: p.targetPort })),
      subjectAltNames: s.subjectAltNames,
      waypoint: s.waypoint ? gateway(s.waypoint) : null,
      loadBalancing: s.loadBalancer
        ? {
            routingPreference: s.loadBalancer.routingPreferences.map((r) => LB_SCOPES[r]),
            mode: LB_MODES[s.loadBalancer.mode],
            healthPolicy: s.loadBalancer.healthPolicy === 'AllowAll' ? 'ALLOW_ALL' : 'ONLY_HEALTHY',
          }
        : null,
      ipFamilies: s.ipFamilies ? IP_FAMILIES[s.ipFamilies] : 'AUTOMATIC',
      canonical: s.canonical ?? false,
      visibility: s.visibility === 'Namespace' ? 'NAMESPACE' : 'PUBLIC',
    },
  };
}

function stringMatch(m: StringMatch): PbStringMatch {
  return m.kind === 'presence' ? { presence: {} } : { [m.kind]: m.value };
}

function cidr(c: Cidr) {
  return { address: bytes(c.address), length: c.length };
}

export function encodeAuthorization(p: Authorization): PbAuthorization {
  return {
    name: p.name,
    namespace: p.namespace,
    scope: p.scope === 'Global' ? 'GLOBAL' : p.scope === 'Namespace' ? 'NAMESPACE' : 'WORKLOAD_SELECTOR',
    action: p.action === 'Allow' ? 'ALLOW' : 'DENY',
    dryRun: p.dryRun,
    rules: p.rules.map((r) => ({
      clauses: r.clauses.map((c) => ({
        matches: c.matches.map(
          (m): PbMatch => ({
            namespaces: m.namespaces.map(stringMatch),
            notNamespaces: m.notNamespaces.map(stringMatch),
            principals: m.principals.map(stringMatch),
            notPrincipals: m.notPrincipals.map(stringMatch),
            sourceIps: m.sourceIps.map(cidr),
            notSourceIps: m.notSourceIps.map(cidr),
            destinationIps: m.destinationIps.map(cidr),
            notDestinationIps: m.notDestinationIps.map(cidr),
            destinationPorts: m.destinationPorts,
            notDestinationPorts: m.notDestinationPorts,
            serviceAccounts: m.serviceAccounts,
            notServiceAccounts: m.notServiceAccounts,
          }),
        ),
      })),
    })),
  };
}

/** xDS resource names as istiod uses them: uid, namespace/hostname, namespace/name. */
export function workloadResourceName(w: Workload): string {
  return w.uid;
}
export function serviceResourceName(s: Service): string {
  return `${s.namespace}/${s.hostname}`;
}
export function policyResourceName(p: Authorization): string {
  return `${p.namespace}/${p.name}`;
}
