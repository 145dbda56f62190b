// In-pod mode: what the data plane needs of a pod istio-cni sent (ZDS): its WorkloadInfo and a
// path that opens its network namespace from any thread of this process.
import type { PodInfo } from '@zt/core';

/** The parts of an in-pod Pod the data plane reads. */
export interface PodRef {
  uid: string;
  namespace: string;
  name: string;
  serviceAccount: string;
  /** The pod's network namespace, an open file descriptor of this process. */
  netns: number;
}

/** The path of an open netns file descriptor, as the data plane opens it (from any thread). */
export function netnsPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/** The data plane's view of a pod. */
export function podInfo(pod: PodRef): PodInfo {
  return {
    uid: pod.uid,
    name: pod.name,
    namespace: pod.namespace,
    serviceAccount: pod.serviceAccount,
    netns: netnsPath(pod.netns),
  };
}
