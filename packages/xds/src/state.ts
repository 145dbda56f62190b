import { canonicalIp } from './ip.ts';
import type { Authorization, Endpoint, ProxyStateView, Service, StateSnapshot, Workload } from './types.ts';

// Read-only indexes over one snapshot. Built once per snapshot (main thread and every worker),
// then every lookup is a Map hit. Structured-clone copies work: only plain data is read.

const key = (a: string, b: string) => `${a}/${b}`;

export class ProxyState implements ProxyStateView {
  readonly version: number;
  readonly #snap: StateSnapshot;
  readonly #byUid = new Map<string, Workload>();
  readonly #byAddress = new Map<string, Workload>();
  readonly #svcByVip = new Map<string, Service>();
  readonly #svcByHost = new Map<string, Service>();
  /** namespace/hostname -> workloads that list it in their `services`. */
  readonly #backends = new Map<string, Workload[]>();
  readonly #endpoints = new Map<string, Endpoint[]>();
  readonly #global: Authorization[] = [];
  readonly #byNamespace = new Map<string, Authorization[]>();
  readonly #policyByKey = new Map<string, Authorization>();

  constructor(snap: StateSnapshot) {
    this.#snap = snap;
    this.version = snap.version;
    for (const w of snap.workloads) {
      this.#byUid.set(w.uid, w);
      // A host-network IP is shared by many workloads: an IP lookup could name the wrong one.
      if (w.networkMode !== 'HostNetwork') {
        for (const ip of w.workloadIps) this.#byAddress.set(key(w.network, ip), w);
      }
      for (const svc of Object.keys(w.services)) {
        let list = this.#backends.get(svc);
        if (!list) {
          list = [];
          this.#backends.set(svc, list);
        }
        list.push(w);
      }
    }
    for (const s of snap.services) {
      this.#svcByHost.set(key(s.namespace, s.hostname), s);
      for (const v of s.vips) {
        const k = key(v.network, v.address);
        if (!this.#svcByVip.has(k)) this.#svcByVip.set(k, s);
      }
    }
    for (const p of snap.policies) {
      this.#policyByKey.set(key(p.namespace, p.name), p);
      if (p.scope === 'Global') this.#global.push(p);
      else if (p.scope === 'Namespace') {
        let list = this.#byNamespace.get(p.namespace);
        if (!list) {
          list = [];
          this.#byNamespace.set(p.namespace, list);
        }
        list.push(p);
      }
    }
  }

  /** Rebuild from a snapshot received over a MessagePort (a structured-clone copy). */
  static fromSnapshot(snap: StateSnapshot): ProxyState {
    return new ProxyState(snap);
  }

  workloadByUid(uid: string): Workload | undefined {
    return this.#byUid.get(uid);
  }

  workloadByAddress(network: string, ip: string): Workload | undefined {
    return this.#byAddress.get(key(network, ip)) ?? this.#retry(this.#byAddress, network, ip);
  }

  serviceByVip(network: string, ip: string): Service | undefined {
    return this.#svcByVip.get(key(network, ip)) ?? this.#retry(this.#svcByVip, network, ip);
  }

  // Callers normally pass canonical text already (socket addresses are); other spellings of the
  // same IP (upper case, uncompressed IPv6) still find their entry.
  #retry<T>(map: Map<string, T>, network: string, ip: string): T | undefined {
    // Dotted IPv4 has one valid spelling; only IPv6 text can differ from the canonical form.
    if (!ip.includes(':')) return undefined;
    const c = canonicalIp(ip);
    return c !== undefined && c !== ip ? map.get(key(network, c)) : undefined;
  }

  serviceByHostname(namespace: string, hostname: string): Service | undefined {
    return this.#svcByHost.get(key(namespace, hostname));
  }

  /**
   * Backends of `service` with their port mapping. As upstream, a port mapping the workload carries
   * for this service wins; otherwise the service's non-zero target port applies; a service port
   * with neither is left out of `ports` (the workload cannot be reached on it).
   */
  endpoints(service: Service): Endpoint[] {
    const k = key(service.namespace, service.hostname);
    const cached = this.#endpoints.get(k);
    if (cached) return cached;
    const out: Endpoint[] = [];
    for (const workload of this.#backends.get(k) ?? []) {
      const own = workload.services[k] ?? {};
      const ports: Record<number, number> = {};
      for (const p of service.ports) {
        const target = own[p.servicePort] || p.targetPort;
        if (target) ports[p.servicePort] = target;
      }
      for (const [sp, tp] of Object.entries(own)) if (tp && !(Number(sp) in ports)) ports[Number(sp)] = tp;
      out.push({ workload, ports });
    }
    this.#endpoints.set(k, out);
    return out;
  }

  /**
   * Global policies, then the workload's namespace's, then every policy the workload names, whatever
   * its scope: istiod lists a policy there because it selects the workload, as upstream's
   * assert_rbac trusts it. A policy already included is not repeated.
   */
  policiesFor(workload: Workload): Authorization[] {
    const ns = this.#byNamespace.get(workload.namespace) ?? [];
    const out = this.#global.concat(ns);
    for (const name of workload.authorizationPolicies) {
      const p = this.#policyByKey.get(name);
      if (p && !out.includes(p)) out.push(p);
    }
    return out;
  }

  /** Every policy, by `namespace/name`. */
  policy(namespace: string, name: string): Authorization | undefined {
    return this.#policyByKey.get(key(namespace, name));
  }

  snapshot(): StateSnapshot {
    return this.#snap;
  }
}
