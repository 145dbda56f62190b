import type { ProxyStateView, Service, Workload } from '@zt/xds';
import type { DnsService, DnsStateView } from './state.ts';

// @zt/xds's state seen through DnsStateView. xds indexes services by namespace/hostname and by VIP;
// DNS needs them by hostname across namespaces (a ServiceEntry host may exist in several), so the
// adapter builds that index once per state version, on the first query that needs it.

const views = new WeakMap<ProxyStateView, DnsStateView>();

/** The DNS view of one xDS state; cached, so calling it per query costs a WeakMap lookup. */
export function dnsStateOf(view: ProxyStateView): DnsStateView {
  let v = views.get(view);
  if (!v) {
    v = new XdsDnsState(view);
    views.set(view, v);
  }
  return v;
}

class XdsDnsState implements DnsStateView {
  readonly #view: ProxyStateView;
  #byHost: Map<string, Service[]> | undefined;

  constructor(view: ProxyStateView) {
    this.#view = view;
  }

  clientByAddress(network: string, ip: string): Workload | undefined {
    return this.#view.workloadByAddress(network, ip);
  }

  clientByUid(uid: string): Workload | undefined {
    return this.#view.workloadByUid(uid);
  }

  servicesByHostname(hostname: string): readonly Service[] {
    if (!this.#byHost) {
      const byHost = new Map<string, Service[]>();
      for (const s of this.#view.snapshot().services) {
        const h = s.hostname.toLowerCase();
        const list = byHost.get(h);
        if (list) list.push(s);
        else byHost.set(h, [s]);
      }
      this.#byHost = byHost;
    }
    return this.#byHost.get(hostname) ?? [];
  }

  endpointIps(service: DnsService): readonly (readonly string[])[] {
    // Only services of this state reach here (servicesByHostname returned them).
    return this.#view.endpoints(service as Service).map((e) => e.workload.workloadIps);
  }
}
