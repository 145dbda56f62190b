// The workload model zt works with: what istio.workload.Address / istio.security.Authorization
// resources (and the local YAML config) decode into. Plain data, structured-clone safe, so snapshots
// can be posted to the data-plane worker threads as they are.

/** `HBONE`: the workload's zt (or a sidecar) accepts mTLS HBONE on 15008; `TCP`: plain TCP only. */
export type TunnelProtocol = 'HBONE' | 'TCP';

export type WorkloadStatus = 'Healthy' | 'Unhealthy';

/** An IP (canonical text form, IPv4 dotted or IPv6 compressed) within a network ('' = default). */
export interface NetworkAddress {
  network: string;
  address: string;
}

/** A waypoint or network gateway, by address or by service hostname. */
export interface GatewayAddress {
  destination:
    | { kind: 'address'; network: string; address: string }
    | { kind: 'hostname'; namespace: string; hostname: string };
  /** HBONE port of the gateway (15008 normally). */
  hboneMtlsPort: number;
}

export interface Locality {
  region: string;
  zone: string;
  subzone: string;
}

export interface Workload {
  /** Unique id, `<cluster>//<kind>/<namespace>/<name>` for pods. The primary key. */
  uid: string;
  name: string;
  namespace: string;
  /** The workload's IPs, canonical text form. */
  workloadIps: string[];
  hostname: string;
  network: string;
  protocol: TunnelProtocol;
  trustDomain: string;
  serviceAccount: string;
  waypoint?: GatewayAddress;
  networkGateway?: GatewayAddress;
  /** Kubernetes node the workload runs on: zt serves inbound only for workloads of its own node. */
  node: string;
  canonicalName: string;
  canonicalRevision: string;
  workloadType: 'deployment' | 'cronjob' | 'pod' | 'job';
  workloadName: string;
  clusterId: string;
  status: WorkloadStatus;
  /** Services this workload backs: key `namespace/hostname`, value service port -> target port. */
  services: Record<string, Record<number, number>>;
  /** Extra policies bound to this workload by name (`namespace/name`). */
  authorizationPolicies: string[];
  locality?: Locality;
  /** `HostNetwork`: the IP is shared with other workloads, so it is never indexed by address. */
  networkMode?: 'Standard' | 'HostNetwork';
  /** Relative capacity for load balancing; 1 when unset. */
  capacity?: number;
  /** The workload receives tunnel traffic itself (no de-tunneling by zt). */
  nativeTunnel?: boolean;
  /** The workload consumes tunnel metadata (PROXY protocol), optionally on another port. */
  applicationTunnel?: { protocol: 'NONE' | 'PROXY'; port?: number };
}

export interface ServicePort {
  servicePort: number;
  /** 0 means: take the target port from the workload's `services` map (named target port). */
  targetPort: number;
}

export interface Service {
  name: string;
  namespace: string;
  hostname: string;
  vips: NetworkAddress[];
  ports: ServicePort[];
  /** Extra identities acceptable for this service's endpoints. */
  subjectAltNames: string[];
  waypoint?: GatewayAddress;
  /** VIPs that are address blocks rather than single IPs (upstream's cidr_vips). */
  cidrVips?: Array<NetworkAddress & { length: number }>;
  /** Preferred over same-hostname services of other namespaces in hostname lookups. */
  canonical?: boolean;
  loadBalancer?: LoadBalancer;
  ipFamilies?: 'IPv4' | 'IPv6' | 'Dual';
  /** `Namespace`: meant only for clients in the service's namespace (upstream's default: `Public`). */
  visibility?: 'Public' | 'Namespace';
}

export interface LoadBalancer {
  routingPreferences: Array<'Region' | 'Zone' | 'Subzone' | 'Node' | 'Cluster' | 'Network'>;
  mode: 'Standard' | 'Strict' | 'Failover' | 'Passthrough';
  /** `AllowAll`: unhealthy endpoints are eligible too. */
  healthPolicy: 'OnlyHealthy' | 'AllowAll';
}

export type PolicyScope = 'Global' | 'Namespace' | 'WorkloadSelector';
export type PolicyAction = 'Allow' | 'Deny';

export type StringMatch =
  | { kind: 'exact'; value: string }
  | { kind: 'prefix'; value: string }
  | { kind: 'suffix'; value: string }
  | { kind: 'presence' };

/** An address block: `address/length`. */
export interface Cidr {
  address: string;
  length: number;
}

export interface ServiceAccountMatch {
  namespace: string;
  serviceAccount: string;
}

/** One match: every non-empty field must hold (AND); values within a field are alternatives (OR). */
export interface Match {
  namespaces: StringMatch[];
  notNamespaces: StringMatch[];
  principals: StringMatch[];
  notPrincipals: StringMatch[];
  sourceIps: Cidr[];
  notSourceIps: Cidr[];
  destinationIps: Cidr[];
  notDestinationIps: Cidr[];
  destinationPorts: number[];
  notDestinationPorts: number[];
  serviceAccounts: ServiceAccountMatch[];
  notServiceAccounts: ServiceAccountMatch[];
}

/** Matches are OR'ed. */
export interface Clause {
  matches: Match[];
}

/** Clauses are AND'ed. */
export interface Rule {
  clauses: Clause[];
}

export interface Authorization {
  name: string;
  namespace: string;
  scope: PolicyScope;
  action: PolicyAction;
  /** Rules are OR'ed. */
  rules: Rule[];
  dryRun: boolean;
}

/** A consistent, immutable view of everything zt knows; what readers and workers get. */
export interface StateSnapshot {
  /** Monotonic; bumps on every applied change. */
  version: number;
  workloads: Workload[];
  services: Service[];
  policies: Authorization[];
}

/** A backend of a service: the workload and the service-port -> target-port mapping that applies. */
export interface Endpoint {
  workload: Workload;
  /** service port -> target port, after resolving named (0) target ports through the workload. */
  ports: Record<number, number>;
}

/**
 * Read-only indexes over one StateSnapshot. The main thread and every worker build one from the
 * snapshot they hold; lookups never observe a half-applied update.
 */
export interface ProxyStateView {
  readonly version: number;
  workloadByUid(uid: string): Workload | undefined;
  workloadByAddress(network: string, ip: string): Workload | undefined;
  serviceByVip(network: string, ip: string): Service | undefined;
  serviceByHostname(namespace: string, hostname: string): Service | undefined;
  /** Every workload backing `service` (healthy or not; callers filter). */
  endpoints(service: Service): Endpoint[];
  /** Policies that apply to `workload`: global, its namespace's, and every policy it names (any scope). */
  policiesFor(workload: Workload): Authorization[];
  snapshot(): StateSnapshot;
}
