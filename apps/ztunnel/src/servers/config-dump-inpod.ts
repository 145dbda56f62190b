import { isIPv6 } from 'node:net';
import type { ConnectionInfo, ConnectionPeer } from './connections.ts';

// `workloadState` of /config_dump in in-pod mode, as upstream's workload manager renders it: one
// entry per pod istio-cni handed over, keyed by the pod's UID, with the pod's connections.
// `istioctl ztunnel-config connections` reads nothing else.

/** A pod as the in-pod manager knows it (@zt/inpod's Pod fits). */
export interface DumpPod {
  /** The Kubernetes pod UID istio-cni sent (upstream's WorkloadUid). */
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** One connection as upstream dumps it: addresses as `ip:port` (`[ip]:port` for IPv6). */
export interface ConnectionDump {
  src: string;
  /** Inbound: the destination service's hostname when known, else null. Outbound: where the app dialed. */
  originalDst: string | null;
  actualDst: string;
  protocol: 'HBONE' | 'TCP';
}

export interface WorkloadStateEntry {
  /** `Up` once the pod's listeners are bound, `Pending` before. */
  state: 'Up' | 'Pending';
  /** Present once Up, as upstream's (a pending pod has no connection manager yet). */
  connections?: { inbound: ConnectionDump[]; outbound: ConnectionDump[] };
  info: { name: string; namespace: string; serviceAccount: string };
}

/** What workloadStateOf needs besides the pods. */
export interface WorkloadStateInput {
  pods: readonly DumpPod[];
  /**
   * `namespace/name` of the pods whose listeners are bound (before the add is acked, from the pod
   * alone); a pod whose bind failed is Pending until a retry succeeds.
   */
  bound: ReadonlySet<string>;
  connections: readonly ConnectionInfo[];
}

const addr = (p: ConnectionPeer) =>
  isIPv6(p.address) ? `[${p.address}]:${p.port}` : `${p.address}:${p.port}`;

/** Upstream's `workloadState`: pods by UID, sorted for a stable dump. */
export function workloadStateOf(input: WorkloadStateInput): Record<string, WorkloadStateEntry> {
  const byPod = new Map<string, WorkloadStateEntry['connections']>();
  const of = (workload: string | undefined) => (workload ? byPod.get(workload) : undefined);
  for (const pod of input.pods) byPod.set(`${pod.namespace}/${pod.name}`, { inbound: [], outbound: [] });
  for (const c of input.connections) {
    if (c.direction === 'inbound') {
      of(c.dst.workload)?.inbound.push({
        src: addr(c.src),
        originalDst: c.dst.service ?? null,
        actualDst: addr(c.dst),
        protocol: c.protocol,
      });
    } else {
      // zt's connection record keeps the destination it reached, not the address the app dialed
      // (a service VIP): both fields carry it.
      of(c.src.workload)?.outbound.push({
        src: addr(c.src),
        originalDst: addr(c.dst),
        actualDst: addr(c.dst),
        protocol: c.protocol,
      });
    }
  }
  const out: Record<string, WorkloadStateEntry> = {};
  for (const pod of [...input.pods].sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0))) {
    const key = `${pod.namespace}/${pod.name}`;
    const info = { name: pod.name, namespace: pod.namespace, serviceAccount: pod.serviceAccount };
    out[pod.uid] = input.bound.has(key)
      ? { state: 'Up', connections: byPod.get(key) ?? { inbound: [], outbound: [] }, info }
      : { state: 'Pending', info };
  }
  return out;
}
