import type { GatewayAddress, ProxyStateView, Service, Workload } from '@zt/xds';

type Target = { kind: 'workload'; workload: Workload } | { kind: 'service'; service: Service };

/** Upstream's find_address: a workload at the address, else a service with it as a VIP. */
function findAddress(view: ProxyStateView, network: string, ip: string): Target | undefined {
  const workload = view.workloadByAddress(network, ip);
  if (workload) return { kind: 'workload', workload };
  const service = view.serviceByVip(network, ip);
  return service ? { kind: 'service', service } : undefined;
}

/** Upstream's find_destination for a waypoint reference (a hostname names a service). */
function findGateway(view: ProxyStateView, g: GatewayAddress): Target | undefined {
  const d = g.destination;
  if (d.kind === 'address') return findAddress(view, d.network, d.address);
  const service = view.serviceByHostname(d.namespace, d.hostname);
  return service ? { kind: 'service', service } : undefined;
}

/**
 * Whether a tunnel that arrived at `local` (an address of `localWl`) may name another address,
 * `hboneIp`, as upstream's validate_destination allows: when the local workload takes tunnel
 * metadata itself (an application tunnel: its PROXY header carries the target), or when it is the
 * waypoint of what `hboneIp` is (the waypoint "sandwich": a waypoint sends traffic for its
 * workloads back through its own zt). Otherwise the mismatch is refused.
 */
export function mayNameOtherAddress(
  view: ProxyStateView,
  network: string,
  localWl: Workload,
  local: string,
  hboneIp: string,
): boolean {
  if (localWl.applicationTunnel) return true;
  const target = findAddress(view, network, hboneIp);
  if (!target) return false;
  const waypoint = target.kind === 'service' ? target.service.waypoint : target.workload.waypoint;
  if (!waypoint) return false;
  const resolved = findGateway(view, waypoint);
  if (!resolved) return false;
  if (resolved.kind === 'workload') return resolved.workload.workloadIps.includes(local);
  return view.endpoints(resolved.service).some((e) => e.workload.uid === localWl.uid);
}
