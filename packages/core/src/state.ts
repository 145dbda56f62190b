import type { Authorization, Endpoint, ProxyStateView, Service, StateSnapshot, Workload } from '@zt/xds';

/**
 * A small ProxyStateView over a snapshot. Stand-in until @zt/xds's ProxyState is available; keeps
 * the same contract (policy selection as upstream: global, the workload's namespace, and policies
 * bound to the workload by name).
 */
export class SnapshotView implements ProxyStateView {
  readonly version: number;
  readonly #snap: StateSnapshot;
  readonly #byUid = new Map<string, Workload>();
  readonly #byIp = new Map<string, Workload>();
  readonly #byVip = new Map<string, Service>();
  readonly #byHost = new Map<string, Service>();
  readonly #policies = new Map<string, Authorization>();
  readonly #backends = new Map<string, Workload[]>();

  constructor(snap: StateSnapshot) {
    this.#snap = snap;
    this.version = snap.version;
    for (const w of snap.workloads) {
      this.#byUid.set(w.uid, w);
      for (const ip of w.workloadIps) this.#byIp.set(`${w.network}/${ip}`, w);
      for (const key of Object.keys(w.services)) {
        const list = this.#backends.get(key) ?? [];
        list.push(w);
        this.#backends.set(key, list);
      }
    }
    for (const s of snap.services) {
      for (const v of s.vips) this.#byVip.set(`${v.network}/${v.address}`, s);
      this.#byHost.set(`${s.namespace}/${s.hostname}`, s);
      if (!this.#byHost.has(`/${s.hostname}`)) this.#byHost.set(`/${s.hostname}`, s);
    }
    for (const p of snap.policies) this.#policies.set(`${p.namespace}/${p.name}`, p);
  }

  workloadByUid(uid: string): Workload | undefined {
    return this.#byUid.get(uid);
  }
  workloadByAddress(network: string, ip: string): Workload | undefined {
    return this.#byIp.get(`${network}/${ip}`);
  }
  serviceByVip(network: string, ip: string): Service | undefined {
    return this.#byVip.get(`${network}/${ip}`);
  }
  serviceByHostname(namespace: string, hostname: string): Service | undefined {
    return this.#byHost.get(`${namespace}/${hostname}`) ?? this.#byHost.get(`/${hostname}`);
  }
  endpoints(service: Service): Endpoint[] {
    const key = `${service.namespace}/${service.hostname}`;
    return (this.#backends.get(key) ?? []).map((w) => {
      const mapping = w.services[key] ?? {};
      const ports: Record<number, number> = {};
      for (const sp of service.ports) {
        const t = sp.targetPort > 0 ? (mapping[sp.servicePort] ?? sp.targetPort) : mapping[sp.servicePort];
        if (t !== undefined && t > 0) ports[sp.servicePort] = t;
      }
      return { workload: w, ports };
    });
  }
  policiesFor(workload: Workload): Authorization[] {
    const out: Authorization[] = [];
    for (const p of this.#snap.policies) {
      if (p.scope === 'Global' || (p.scope === 'Namespace' && p.namespace === workload.namespace))
        out.push(p);
    }
    for (const key of workload.authorizationPolicies) {
      const p = this.#policies.get(key);
      if (p && !out.includes(p)) out.push(p);
    }
    return out;
  }
  snapshot(): StateSnapshot {
    return this.#snap;
  }
}
