// In-pod mode: the pods istio-cni handed over (ZDS), each with its network namespace. A pod's
// listeners follow the pod, not its xDS workload: istiod often learns a pod after the CNI plugin
// has added it, so the workload is looked up when connections come, as upstream's
// wait_for_workload does, and waited for a little while.
import type { ProxyStateView, Workload } from '@zt/xds';

/** Upstream's wait for a pod's workload to arrive over xDS (proxy.rs get_workload: 5 s). */
export const POD_WORKLOAD_WAIT_MS = 5000;

/** A pod as ZDS describes it (WorkloadInfo) plus where its namespace is: plain data, cloneable to workers. */
export interface PodInfo {
  /** The Kubernetes pod uid (the ZDS request's uid); keys the pod's listener set. */
  uid: string;
  name: string;
  namespace: string;
  serviceAccount: string;
  /** A path opening the pod's network namespace (`/proc/<pid>/fd/<fd>`, `/var/run/netns/<name>`). */
  netns: string;
}

/**
 * The pod's workload as upstream's find_by_info: a workload of this node with the pod's namespace,
 * name and service account. Undefined while istiod has not sent it.
 */
export function podWorkload(view: ProxyStateView, nodeName: string, pod: PodInfo): Workload | undefined {
  return localIndex(view, nodeName)
    .get(podKey(pod))
    ?.find((w) => sameAccount(w, pod));
}

const podKey = (p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`;
const sameAccount = (w: Workload, pod: PodInfo) =>
  (w.serviceAccount || 'default') === (pod.serviceAccount || 'default');

/** This node's workloads by namespace/name, built once per state view (connections look pods up). */
const indexes = new WeakMap<ProxyStateView, { nodeName: string; byName: Map<string, Workload[]> }>();

function localIndex(view: ProxyStateView, nodeName: string): Map<string, Workload[]> {
  const cached = indexes.get(view);
  if (cached && cached.nodeName === nodeName) return cached.byName;
  const byName = new Map<string, Workload[]>();
  for (const w of view.snapshot().workloads) {
    if (w.node !== nodeName) continue;
    const key = podKey(w);
    const list = byName.get(key);
    if (list) list.push(w);
    else byName.set(key, [w]);
  }
  indexes.set(view, { nodeName, byName });
  return byName;
}

/**
 * Waits for pods' workloads: `waitFor` resolves with the workload as soon as a state has it, or
 * undefined after the timeout. `stateChanged` is called on every new state.
 */
export class PodWorkloads {
  readonly #view: () => ProxyStateView;
  readonly #nodeName: string;
  /** Each wait's check (true: found) and its cancel. */
  readonly #waiters = new Map<() => boolean, () => void>();

  constructor(view: () => ProxyStateView, nodeName: string) {
    this.#view = view;
    this.#nodeName = nodeName;
  }

  find(pod: PodInfo): Workload | undefined {
    return podWorkload(this.#view(), this.#nodeName, pod);
  }

  waitFor(pod: PodInfo, timeoutMs = POD_WORKLOAD_WAIT_MS): Promise<Workload | undefined> {
    const now = this.find(pod);
    if (now || timeoutMs <= 0) return Promise.resolve(now);
    return new Promise((resolve) => {
      const check = (): boolean => {
        const w = this.find(pod);
        if (w) done(w);
        return w !== undefined;
      };
      const done = (w: Workload | undefined): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(w);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.#waiters.set(check, () => done(undefined));
    });
  }

  /** A new state: wake whoever waits for a workload it may hold. */
  stateChanged(): void {
    for (const check of [...this.#waiters.keys()]) check();
  }

  /** Ends every wait now (undefined): zt is closing. */
  cancelAll(): void {
    for (const cancel of [...this.#waiters.values()]) cancel();
  }
}
