import { aliases, isWildcard, wildcards } from './names.ts';
import type { DnsClient, DnsService, DnsStateView } from './state.ts';

// Answers A/AAAA queries for mesh names from the workload state, as upstream's Store
// (src/dns/server.rs): find_server, get_addresses, service_family_allowed.

export type AddressType = 'A' | 'AAAA';

export interface MeshLookupOptions {
  clusterDomain: string;
  /** Preferred after the client's namespace and canonical services (upstream's PREFERED_SERVICE_NAMESPACE). */
  preferredServiceNamespace?: string;
  /** false: AAAA queries for mesh names get empty answers (upstream's IPV6_ENABLED=false). */
  ipv6Enabled: boolean;
}

/** A mesh name was found: the proxy answers authoritatively, possibly with no records. */
export interface MeshAnswer {
  service: DnsService;
  /** The hostname (or wildcard host) that matched. */
  matched: string;
  /**
   * Set when the name was found by stripping a search domain (and the match is no wildcard): the
   * number of leading labels of the asked name the answer's A/AAAA records are named by, after a
   * CNAME from the asked name.
   */
  cnameLabels?: number;
  /** In random order. Empty: NOERROR with no records (the name exists, not this family). */
  addresses: string[];
  /** For the access log: `success`, `no records`, or why the family is refused. */
  result: string;
}

export class MeshLookup {
  readonly #clusterDomain: string;
  readonly #svcSuffix: string;
  readonly #preferred: string | undefined;
  readonly #ipv6: boolean;

  constructor(o: MeshLookupOptions) {
    this.#clusterDomain = o.clusterDomain.toLowerCase().replace(/\.$/, '');
    this.#svcSuffix = `.svc.${this.#clusterDomain}`;
    this.#preferred = o.preferredServiceNamespace || undefined;
    this.#ipv6 = o.ipv6Enabled;
  }

  get clusterDomain(): string {
    return this.#clusterDomain;
  }

  /**
   * The answer for `name` (normalized: lower case, no trailing dot) asked by `client`, or
   * undefined when it is no mesh name the client may see (the query is then forwarded).
   */
  lookup(
    state: DnsStateView,
    client: DnsClient,
    name: string,
    type: AddressType,
    searchDomains: readonly string[],
  ): MeshAnswer | undefined {
    const found = this.find(state, client, name, searchDomains);
    if (!found) return undefined;
    const { service, matched, strippedLabels } = found;
    const cnameLabels = strippedLabels !== undefined && !isWildcard(matched) ? strippedLabels : undefined;
    const base = { service, matched, ...(cnameLabels !== undefined ? { cnameLabels } : {}) };
    const refused = this.#familyRefused(service, type);
    if (refused) return { ...base, addresses: [], result: refused };
    const addresses = shuffle(this.#addresses(state, client, service, type));
    return { ...base, addresses, result: addresses.length > 0 ? 'success' : 'no records' };
  }

  /** The service a client means by `name`: the first alias, most specific wildcard first, that has one. */
  find(
    state: DnsStateView,
    client: DnsClient,
    name: string,
    searchDomains: readonly string[],
  ): { service: DnsService; matched: string; strippedLabels?: number } | undefined {
    if (name === '') return undefined;
    for (const alias of aliases(name, client.namespace, searchDomains, this.#clusterDomain)) {
      for (const host of wildcards(alias.name)) {
        const service = this.#best(state.servicesByHostname(host), client.namespace);
        if (service) {
          return {
            service,
            matched: host,
            ...(alias.strippedLabels !== undefined ? { strippedLabels: alias.strippedLabels } : {}),
          };
        }
      }
    }
    return undefined;
  }

  #best(candidates: readonly DnsService[], clientNs: string): DnsService | undefined {
    // As upstream's ServiceMatch::find_best_match over the visible candidates: the client's
    // namespace wins outright; then the last canonical one; then one in the preferred namespace
    // (unless a canonical was already seen); then the first.
    let canonical: DnsService | undefined;
    let preferred: DnsService | undefined;
    let first: DnsService | undefined;
    for (const s of candidates) {
      if (!this.#eligible(s, clientNs)) continue;
      if (s.namespace === clientNs) return s;
      if (s.canonical) canonical = s;
      else if (this.#preferred !== undefined && s.namespace === this.#preferred && !canonical) preferred = s;
      first ??= s;
    }
    return canonical ?? preferred ?? first;
  }

  #eligible(s: DnsService, clientNs: string): boolean {
    // Without a VIP only Kubernetes headless services are answered (by endpoint IPs); a VIP-less
    // ServiceEntry is forwarded. Upstream tells them apart by the cluster's service domain.
    if (s.vips.length === 0 && !s.hostname.toLowerCase().endsWith(this.#svcSuffix)) return false;
    // A namespace-scoped service is unknown outside its namespace.
    return s.visibility !== 'Namespace' || s.namespace === clientNs;
  }

  #familyRefused(s: DnsService, type: AddressType): string | undefined {
    if (type === 'AAAA' && !this.#ipv6) return 'ipv6 disabled';
    if (s.ipFamilies === 'IPv4' && type === 'AAAA') return 'service does not support this record type';
    if (s.ipFamilies === 'IPv6' && type === 'A') return 'service does not support this record type';
    return undefined;
  }

  #addresses(state: DnsStateView, client: DnsClient, s: DnsService, type: AddressType): string[] {
    const want = type === 'AAAA';
    const out: string[] = [];
    if (s.vips.length === 0) {
      // Headless: each backing workload's first IP of the asked family.
      for (const ips of state.endpointIps(s)) {
        const ip = ips.find((a) => isV6(a) === want);
        if (ip !== undefined) out.push(ip);
      }
      return out;
    }
    // VIPs reachable from the client's network only.
    for (const v of s.vips) {
      if (v.network === client.network && isV6(v.address) === want) out.push(v.address);
    }
    return out;
  }
}

function isV6(ip: string): boolean {
  return ip.includes(':');
}

/** Fisher-Yates, in place: DNS-based load balancing over the VIPs or endpoints. */
function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const t = a[i] as T;
    a[i] = a[j] as T;
    a[j] = t;
  }
  return a;
}
