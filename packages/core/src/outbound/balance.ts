import type { Endpoint, LoadBalancer, ProxyStateView, Service, Workload } from '@zt/xds';

// Endpoint selection for a service, as upstream's ProxyState::load_balance (state.rs): the
// endpoints the service's health policy admits and that can take the port, ranked by how many of
// the service's routing-preference scopes they share with the SOURCE workload (Strict: all or
// nothing; Failover: the best rank present wins), then one picked at random weighted by capacity.

/** `standard`: a service the client addressed. `waypoint`: a waypoint's service, reached on its HBONE port. */
export type ResolutionMode = 'standard' | 'waypoint';

export interface BalanceOptions {
  mode: ResolutionMode;
  /**
   * Whether zt can send to this workload at all. Endpoints it cannot reach are never candidates,
   * so that ranking and weights only ever pick among reachable ones. Default: every endpoint.
   */
  reachable?: (w: Workload) => boolean;
  /** Picks one of the best-ranked candidates; default: weighted by capacity (`chooseByCapacity`). */
  choose?: (candidates: readonly Endpoint[]) => Endpoint | undefined;
}

/** As upstream's should_include_endpoint: healthy endpoints, and unhealthy ones under `AllowAll`. */
export function admitsEndpoint(svc: Service, w: Workload): boolean {
  return w.status === 'Healthy' || svc.loadBalancer?.healthPolicy === 'AllowAll';
}

/**
 * Endpoints eligible for `port` of `svc`, before locality ranking. A workload with neither an IP
 * nor a hostname can only be reached through its network gateway, which is never used within the
 * source's own network. `standard`: the service must declare the port, and an endpoint whose
 * target port is named (0) must map it. `waypoint`: the port may be undeclared only for endpoints
 * with an application tunnel (the peer's zt handles the port).
 */
export function eligibleEndpoints(
  state: ProxyStateView,
  source: Workload,
  svc: Service,
  port: number,
  mode: ResolutionMode,
  reachable?: (w: Workload) => boolean,
): Endpoint[] {
  const svcPort = svc.ports.find((p) => p.servicePort === port);
  if (mode === 'standard' && !svcPort) return [];
  return state.endpoints(svc).filter((ep) => {
    const w = ep.workload;
    if (!admitsEndpoint(svc, w)) return false;
    if (reachable && !reachable(w)) return false;
    if (w.workloadIps.length === 0 && !w.hostname) {
      const inNetwork = (w.network || '') === (source.network || '');
      if (inNetwork || !w.networkGateway) return false;
    }
    if (mode === 'standard') return (svcPort?.targetPort ?? 0) !== 0 || ep.ports[port] !== undefined;
    return svcPort !== undefined || w.applicationTunnel !== undefined;
  });
}

const localityOf = (w: Workload) => w.locality ?? { region: '', zone: '', subzone: '' };

/**
 * How well `w` matches `source` under `lb`'s routing preferences: the number of leading scopes
 * that match, counting stops at the first mismatch. When `Network` is the first preference, a
 * network match lifts the rank above any rank without it (it adds len-1) and a network mismatch
 * is skipped rather than ending the count. `undefined`: excluded (Strict and not every scope
 * matches).
 */
export function localityRank(source: Workload, w: Workload, lb: LoadBalancer): number | undefined {
  const prefs = lb.routingPreferences;
  const networkFirst = prefs[0] === 'Network';
  const src = localityOf(source);
  const dst = localityOf(w);
  let rank = 0;
  let adjust = 0;
  for (const scope of prefs) {
    let matches: boolean;
    switch (scope) {
      case 'Region':
        matches = src.region === dst.region;
        break;
      case 'Zone':
        matches = src.zone === dst.zone;
        break;
      case 'Subzone':
        matches = src.subzone === dst.subzone;
        break;
      case 'Node':
        matches = source.node === w.node;
        break;
      case 'Cluster':
        matches = source.clusterId === w.clusterId;
        break;
      case 'Network':
        matches = (source.network || '') === (w.network || '');
        if (networkFirst) {
          if (!matches) continue;
          adjust = prefs.length - 1;
        }
        break;
    }
    if (!matches) break;
    rank++;
  }
  if (lb.mode === 'Strict' && rank !== prefs.length) return undefined;
  return rank + adjust;
}

/**
 * The candidates the load balancer may pick from: all of them without locality preferences
 * (no `loadBalancer`, or mode `Standard`), otherwise those of the best rank present.
 */
export function bestRanked(source: Workload, svc: Service, eps: readonly Endpoint[]): readonly Endpoint[] {
  const lb = svc.loadBalancer;
  if (!lb || lb.mode === 'Standard') return eps;
  let best = -1;
  let out: Endpoint[] = [];
  for (const ep of eps) {
    const rank = localityRank(source, ep.workload, lb);
    if (rank === undefined || rank < best) continue;
    if (rank > best) {
      best = rank;
      out = [];
    }
    out.push(ep);
  }
  return out;
}

/**
 * One endpoint at random, each as likely as its workload's capacity (1 when unset). Capacity 0
 * is never picked; when every capacity is 0 there is nothing to pick, as upstream.
 */
export function chooseByCapacity(
  eps: readonly Endpoint[],
  random: () => number = Math.random,
): Endpoint | undefined {
  let total = 0;
  for (const ep of eps) total += ep.workload.capacity ?? 1;
  if (total <= 0) return undefined;
  const r = random() * total;
  let acc = 0;
  let last: Endpoint | undefined;
  for (const ep of eps) {
    const weight = ep.workload.capacity ?? 1;
    if (weight <= 0) continue;
    acc += weight;
    last = ep;
    if (r < acc) return ep;
  }
  return last;
}

/**
 * The port to dial on `ep` for service port `port`, as upstream: the endpoint's own mapping (the
 * service's non-zero target port is already folded into `ep.ports`), else the service port itself
 * when the workload has an application tunnel with its own port; else none.
 */
export function targetPort(ep: Endpoint, port: number): number | undefined {
  const mapped = ep.ports[port];
  if (mapped !== undefined) return mapped;
  return ep.workload.applicationTunnel?.port !== undefined ? port : undefined;
}

/** upstream's load_balance: the endpoint of `svc` to send a connection for `port` to, if any. */
export function loadBalance(
  state: ProxyStateView,
  source: Workload,
  svc: Service,
  port: number,
  opts: BalanceOptions,
): Endpoint | undefined {
  const eps = eligibleEndpoints(state, source, svc, port, opts.mode, opts.reachable);
  const candidates = bestRanked(source, svc, eps);
  if (candidates.length === 0) return undefined;
  return (opts.choose ?? chooseByCapacity)(candidates);
}

const isV6 = (ip: string) => ip.includes(':');

/**
 * The workload IP to dial, as upstream's pick_workload_destination_or_resolve: among the IPs the
 * service's IP families allow, one of the same family as `like` (the address the client dialled),
 * else the first. `undefined`: none fits (a hostname workload is then resolved through DNS).
 */
export function selectIp(w: Workload, like: string, families?: Service['ipFamilies']): string | undefined {
  const allowed =
    families === 'IPv4'
      ? w.workloadIps.filter((ip) => !isV6(ip))
      : families === 'IPv6'
        ? w.workloadIps.filter(isV6)
        : w.workloadIps;
  return allowed.find((ip) => isV6(ip) === isV6(like)) ?? allowed[0];
}

/**
 * Whether zt can send to `w` from `network`: a workload on the same network directly, one on
 * another network only through its network gateway (double HBONE). A workload on another network
 * without a gateway is never a candidate (upstream would pick it and fail the connection).
 */
export function reachableFrom(network: string): (w: Workload) => boolean {
  let f = reachable.get(network);
  if (!f) {
    const n = network || '';
    f = (w: Workload) => (w.network || '') === n || w.networkGateway !== undefined;
    reachable.set(network, f);
  }
  return f;
}
// One predicate per network name (a handful per mesh): routes run per connection.
const reachable = new Map<string, (w: Workload) => boolean>();

/** Whether `w` is on another network than `source` (then it is reached through its gateway). */
export function isRemote(source: Workload, w: Workload): boolean {
  return (w.network || '') !== (source.network || '');
}

/**
 * A workload by `namespace/hostname`, for a waypoint named by hostname that is no service. As
 * upstream, a scan: the lookup is rare and an index would cost memory on every snapshot.
 */
export function workloadByHostname(
  state: ProxyStateView,
  namespace: string,
  hostname: string,
): Workload | undefined {
  return state.snapshot().workloads.find((w) => w.hostname === hostname && w.namespace === namespace);
}
