// In-pod mode: which network namespace each local workload's listeners go into. The node agent
// (istio-cni, over ZDS) names pods; xDS names workloads; they meet by namespace/name on this node.

/** The parts of an in-pod Pod the matching reads. */
export interface PodRef {
  namespace: string;
  name: string;
  /** The pod's network namespace, an open file descriptor of this process. */
  netns: number;
}

/** The parts of a Workload the matching reads. */
export interface WorkloadRef {
  uid: string;
  namespace: string;
  name: string;
  node: string;
}

/** The path of an open netns file descriptor, as the data plane opens it (from any thread). */
export function netnsPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/** Workload uid -> netns path, for the workloads of `nodeName` whose pod the node agent sent. */
export function podNetnsMap(
  pods: Iterable<PodRef>,
  workloads: Iterable<WorkloadRef>,
  nodeName: string,
): Record<string, string> {
  const byName = new Map<string, string>();
  for (const pod of pods) byName.set(`${pod.namespace}/${pod.name}`, netnsPath(pod.netns));
  const map: Record<string, string> = {};
  for (const w of workloads) {
    const path = w.node === nodeName ? byName.get(`${w.namespace}/${w.name}`) : undefined;
    if (path) map[w.uid] = path;
  }
  return map;
}
