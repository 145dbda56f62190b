import { Resolver } from 'node:dns/promises';
import { ZtError } from '@zt/errors';
import { workloadIdentity } from '@zt/identity';
import { type Counter, counter, UNKNOWN } from '@zt/metrics';
import type { Workload } from '@zt/xds';
import type { SocketAddr } from '../addr.ts';
import type { ProxyConfig } from '../options.ts';
import type { Route } from './route.ts';

// Workloads known by hostname only (e.g. a ServiceEntry with DNS resolution): the route leaves the
// address empty and the outbound flow asks DNS for it as the connection is made, as upstream's
// resolve_on_demand_dns does: A and AAAA at once (A only when IPv6 is off), an address of the
// family the client dialled when there is one, picked at random; answers kept for their TTL.

/** The two queries zt makes; node:dns/promises' Resolver is one. */
export interface AddressResolver {
  resolve4(hostname: string, options: { ttl: true }): Promise<Array<{ address: string; ttl: number }>>;
  resolve6(hostname: string, options: { ttl: true }): Promise<Array<{ address: string; ttl: number }>>;
}

export interface HostnameResolverOptions {
  /** DNS servers (`ip` or `ip:port`); default: the system's (/etc/resolv.conf). */
  servers?: string[];
  /** Ask for AAAA records too (upstream: IPV6_ENABLED, default true). */
  ipv6?: boolean;
  /** Replaces the resolver built from `servers` (tests). */
  resolver?: AddressResolver;
  /** Clock for TTLs, in ms. */
  now?: () => number;
  /** Names whose answers are kept (upstream's resolver cache holds 4096). */
  cacheSize?: number;
}

export const DNS_ERROR_CODES = {
  noAddresses: 'ERR_ZT_DNS_NO_RESOLVED_ADDRESSES',
  emptyAnswer: 'ERR_ZT_DNS_EMPTY_RESOLVED_ADDRESSES',
  badServers: 'ERR_ZT_DNS_BAD_SERVERS',
} as const;

export class DnsResolveError extends ZtError {
  readonly hostname: string;
  constructor(code: (typeof DNS_ERROR_CODES)[keyof typeof DNS_ERROR_CODES], hostname: string, why: string) {
    super(code, why);
    this.name = 'DnsResolveError';
    this.hostname = hostname;
  }
}

interface Cached {
  addresses: string[];
  expires: number;
}

const isV6 = (ip: string) => ip.includes(':');

export class HostnameResolver {
  readonly #resolver: AddressResolver | undefined;
  readonly #setupError: DnsResolveError | undefined;
  readonly #ipv6: boolean;
  readonly #now: () => number;
  readonly #cacheSize: number;
  readonly #cache = new Map<string, Cached>();
  readonly #pending = new Map<string, Promise<string[]>>();

  constructor(opts: HostnameResolverOptions = {}) {
    this.#ipv6 = opts.ipv6 ?? true;
    this.#now = opts.now ?? Date.now;
    this.#cacheSize = opts.cacheSize ?? 4096;
    if (opts.resolver) {
      this.#resolver = opts.resolver;
      return;
    }
    const r = new Resolver();
    try {
      if (opts.servers?.length) r.setServers(opts.servers);
      this.#resolver = r;
    } catch (e) {
      // A bad server list fails every lookup with this message rather than the proxy's start.
      this.#setupError = new DnsResolveError(
        DNS_ERROR_CODES.badServers,
        '',
        `the DNS servers ${JSON.stringify(opts.servers)} are not valid (${(e as Error).message}); give IP or IP:port`,
      );
    }
  }

  /** Every address `hostname` has (cached while its TTL lasts). */
  async addresses(hostname: string): Promise<string[]> {
    const hit = this.#cache.get(hostname);
    if (hit && hit.expires > this.#now()) return hit.addresses;
    if (hit) this.#cache.delete(hostname);
    let p = this.#pending.get(hostname);
    if (!p) {
      p = this.#lookup(hostname).finally(() => this.#pending.delete(hostname));
      this.#pending.set(hostname, p);
    }
    return p;
  }

  /** One address of `hostname`, of the family of `like` when it has one, at random. */
  async pick(hostname: string, like: string, random: () => number = Math.random): Promise<string> {
    const all = await this.addresses(hostname);
    const same = all.filter((ip) => isV6(ip) === isV6(like));
    const from = same.length ? same : all;
    return from[Math.floor(random() * from.length)] as string;
  }

  async #lookup(hostname: string): Promise<string[]> {
    if (this.#setupError || !this.#resolver) {
      throw this.#setupError ?? new DnsResolveError(DNS_ERROR_CODES.badServers, hostname, 'no DNS resolver');
    }
    const r = this.#resolver;
    const queries = [r.resolve4(hostname, { ttl: true })];
    if (this.#ipv6) queries.push(r.resolve6(hostname, { ttl: true }));
    const settled = await Promise.allSettled(queries);
    const records: Array<{ address: string; ttl: number }> = [];
    const failures: string[] = [];
    settled.forEach((s, i) => {
      const type = i === 0 ? 'A' : 'AAAA';
      if (s.status === 'fulfilled') records.push(...s.value);
      else failures.push(`${type}: ${(s.reason as { code?: string }).code ?? (s.reason as Error).message}`);
    });
    if (failures.length === settled.length) {
      throw new DnsResolveError(
        DNS_ERROR_CODES.noAddresses,
        hostname,
        `no IP address was resolved for ${hostname} (${failures.join(', ')}); check that the name resolves from zt's node (its /etc/resolv.conf)`,
      );
    }
    if (records.length === 0) {
      throw new DnsResolveError(
        DNS_ERROR_CODES.emptyAnswer,
        hostname,
        `DNS answered for ${hostname} without A or AAAA records; check the name's DNS records`,
      );
    }
    const addresses = records.map((rec) => rec.address);
    const ttl = Math.min(...records.map((rec) => rec.ttl));
    if (ttl > 0) {
      if (this.#cache.size >= this.#cacheSize) {
        const oldest = this.#cache.keys().next().value;
        if (oldest !== undefined) this.#cache.delete(oldest);
      }
      this.#cache.set(hostname, { addresses, expires: this.#now() + ttl * 1000 });
    }
    return addresses;
  }
}

// One resolver (and its cache) per proxy configuration, i.e. per proxy engine and worker thread.
const resolvers = new WeakMap<ProxyConfig, HostnameResolver>();

export function hostResolverFor(config: ProxyConfig): HostnameResolver {
  let r = resolvers.get(config);
  if (!r) {
    r = new HostnameResolver({
      ...(config.dns?.servers ? { servers: config.dns.servers } : {}),
      ...(config.dns?.ipv6 !== undefined ? { ipv6: config.dns.ipv6 } : {}),
    });
    resolvers.set(config, r);
  }
  return r;
}

const ON_DEMAND_DNS_LABELS = [
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'hostname',
] as const;

/** upstream's `istio_on_demand_dns_total`: connections that needed an on-demand DNS lookup. */
export const onDemandDns: Counter<(typeof ON_DEMAND_DNS_LABELS)[number]> = counter(
  'istio_on_demand_dns_total',
  'The total number of requests that used on-demand DNS (unstable)',
  ON_DEMAND_DNS_LABELS,
);

const orUnknown = (v: string) => v || UNKNOWN;

/** Whether `route` names a workload known by hostname only, whose address DNS must give. */
export function needsResolution(route: Route): route is Extract<Route, { kind: 'hbone' | 'tcp' }> {
  return (route.kind === 'hbone' || route.kind === 'tcp') && route.connect.address === '';
}

/**
 * `route` with the address of its hostname workload filled in (the dialled address, and the
 * CONNECT authority when the tunnel ends at the workload itself), or a route error when DNS gives
 * no address. Routes that need no DNS are returned as they are.
 */
export async function resolveRouteHost(
  route: Route,
  source: Workload,
  target: SocketAddr,
  resolver: HostnameResolver,
  trustDomain: string,
): Promise<Route> {
  if (!needsResolution(route)) return route;
  const hostname = route.workload.hostname;
  onDemandDns.inc({
    source_workload: orUnknown(source.workloadName),
    source_canonical_service: orUnknown(source.canonicalName),
    source_canonical_revision: orUnknown(source.canonicalRevision),
    source_workload_namespace: orUnknown(source.namespace),
    source_principal: workloadIdentity(source, trustDomain),
    source_app: orUnknown(source.canonicalName),
    source_version: orUnknown(source.canonicalRevision),
    source_cluster: orUnknown(source.clusterId),
    hostname: orUnknown(hostname),
  });
  let ip: string;
  try {
    if (!hostname) {
      throw new DnsResolveError(
        DNS_ERROR_CODES.noAddresses,
        hostname,
        `workload ${route.workload.namespace}/${route.workload.name} has neither an IP nor a hostname`,
      );
    }
    ip = await resolver.pick(hostname, target.address);
  } catch (e) {
    const empty = e instanceof DnsResolveError && e.code === DNS_ERROR_CODES.emptyAnswer;
    return {
      kind: 'error',
      code: empty ? 'empty-resolved-addresses' : 'no-resolved-addresses',
      message: `workload ${route.workload.namespace}/${route.workload.name}: ${(e as Error).message}`,
    };
  }
  const connect = { address: ip, port: route.connect.port };
  if (route.kind === 'hbone' && route.via === 'workload') {
    return { ...route, connect, authority: { address: ip, port: route.authority.port } };
  }
  return { ...route, connect };
}
