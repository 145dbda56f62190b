// The narrow view of the workload state the DNS proxy reads. @zt/xds's state satisfies it through
// `dnsStateOf` (xds-state.ts); tests and other embedders may implement it directly.

/** The workload a query came from. */
export interface DnsClient {
  name: string;
  namespace: string;
  /** Network of the client: only VIPs on this network are answered. */
  network: string;
  /** Metric labels `source_canonical_service` / `source_canonical_revision`. */
  canonicalName: string;
  canonicalRevision: string;
}

export interface DnsVip {
  network: string;
  /** Canonical text form (IPv4 dotted, IPv6 compressed). */
  address: string;
}

/** A service (Kubernetes Service or ServiceEntry host) as DNS sees it. */
export interface DnsService {
  hostname: string;
  namespace: string;
  /** Empty for headless services: they are answered with their endpoints' IPs. */
  vips: readonly DnsVip[];
  /** Preferred over same-hostname services of other namespaces (after the client's own). */
  canonical?: boolean;
  /** `Namespace`: only clients of the service's namespace may resolve it; default `Public`. */
  visibility?: 'Public' | 'Namespace';
  /** A single-stack service answers only its family (headless pods may be dual stack). */
  ipFamilies?: 'IPv4' | 'IPv6' | 'Dual';
}

/** One consistent state; the proxy asks its `state()` for the current one on every query. */
export interface DnsStateView {
  /** The workload with `ip` on `network`, if any. */
  clientByAddress(network: string, ip: string): DnsClient | undefined;
  clientByUid(uid: string): DnsClient | undefined;
  /** Every service whose hostname is exactly `hostname` (lower case), whatever its namespace. */
  servicesByHostname(hostname: string): readonly DnsService[];
  /** The IPs of each workload backing `service`, one list per workload (headless answers). */
  endpointIps(service: DnsService): readonly (readonly string[])[];
}
