// Simulated nodes on this machine for the in-pod suite: every pod is a network namespace joined to
// this (the "host") namespace by a veth pair, with the capture rules istio-cni installs inside
// ambient pods. zt itself stays in the host namespace, as upstream's ztunnel pod does; only its
// listeners live in the pods. Both "nodes" share the host namespace, so pod IPs route directly.
import { existsSync } from 'node:fs';
import * as native from '@zt/native';
import {
  addVethPod,
  enablePodForwarding,
  freeTestSubnet,
  must,
  netnsUnsupported,
  type ShResult,
  sh,
  sweepStaleNetns,
} from '@zt/native/testing';

/**
 * Upstream's in-pod rules (istio/istio cni/pkg/iptables, the default golden file) for mark 1337
 * (0x539): inbound TCP except HBONE (15008) goes to 15006; outbound TCP leaving the pod goes to
 * 15001 unless zt marked the socket; replies of connections zt accepted are restored to zt's mark
 * (0x111 connmark) so they are not captured again. The DNS (15053) and probe (169.254.7.127) rules
 * are left out: zt has no DNS proxy and the suite sends no kubelet probes.
 */
export const INPOD_RULES = `*mangle
:ISTIO_PRERT - [0:0]
:ISTIO_OUTPUT - [0:0]
-A PREROUTING -j ISTIO_PRERT
-A OUTPUT -j ISTIO_OUTPUT
-A ISTIO_PRERT -m mark --mark 0x539/0xfff -j CONNMARK --set-xmark 0x111/0xfff
-A ISTIO_OUTPUT -m connmark --mark 0x111/0xfff -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff
COMMIT
*nat
:ISTIO_PRERT - [0:0]
:ISTIO_OUTPUT - [0:0]
-A PREROUTING -j ISTIO_PRERT
-A OUTPUT -j ISTIO_OUTPUT
-A ISTIO_PRERT ! -d 127.0.0.1/32 -p tcp -m tcp ! --dport 15008 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15006
-A ISTIO_OUTPUT -p tcp -m mark --mark 0x111/0xfff -j ACCEPT
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -j ACCEPT
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -p tcp -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001
COMMIT
`;

function installRules(ns: string): ShResult {
  return sh('ip', ['netns', 'exec', ns, 'iptables-restore', '--noflush'], INPOD_RULES);
}

/** Why the in-pod suite cannot run here (then it skips with this reason), or undefined. */
export function inpodUnsupported(): string | undefined {
  const netns = netnsUnsupported();
  if (netns) return netns;
  if (!native.available) return `@zt/native unavailable: ${native.unavailableReason}`;
  for (const tool of ['iptables', 'iptables-restore']) {
    if (!['/usr/sbin', '/sbin', '/usr/bin', '/bin'].some((d) => existsSync(`${d}/${tool}`)))
      return `${tool} is not installed`;
  }
  const probe = `zti-probe-${process.pid}`;
  if (!sh('ip', ['netns', 'add', probe]).ok) return 'cannot create a network namespace here';
  const rules = installRules(probe);
  sh('ip', ['netns', 'del', probe]);
  return rules.ok ? undefined : `upstream's in-pod iptables rules do not load in a namespace: ${rules.out}`;
}

export interface PodSpec {
  name: string;
  namespace: string;
  serviceAccount: string;
  node: string;
  /** Not enrolled in ambient (no capture rules; xDS protocol TCP): default false. */
  outOfMesh?: boolean;
}

export interface SimPod extends PodSpec {
  /** Kubernetes-style uid, also the xDS workload uid. */
  uid: string;
  /** `ip netns` name (what FakeCniServer.createPod takes as `netns`). */
  netns: string;
  path: string;
  ip: string;
  /** The host end of the pod's veth: an address outside the mesh the pod can reach. */
  gateway: string;
}

/** Pods of all simulated nodes; `destroy()` removes every namespace, veth and rule it made. */
export class Topology {
  readonly pods: SimPod[] = [];
  readonly #tag: string;
  readonly #net: number;
  readonly #hostIfs: string[] = [];
  readonly #undoForwarding: () => void;

  constructor() {
    // Namespaces of killed earlier runs keep host routes that would swallow this run's traffic.
    sweepStaleNetns();
    this.#tag = `${process.pid}`;
    // 10.150-199.x.0/24: apart from core's multi-node test (10.200-249), which may run alongside.
    this.#net = freeTestSubnet(150, 50);
    // zt dials HBONE from inside the source pod's namespace, so pod to pod traffic is routed here,
    // as on a node.
    this.#undoForwarding = enablePodForwarding();
  }

  addPod(spec: PodSpec): SimPod {
    const n = this.pods.length + 1;
    const netns = `zti-${this.#tag}-${n}`;
    const hostIf = `zti${this.#tag}${n}`;
    const gw = `10.${this.#net}.${n}.1`;
    const ip = `10.${this.#net}.${n}.10`;
    const pod: SimPod = {
      ...spec,
      uid: `uid-${spec.name}-${this.#tag}`,
      netns,
      path: `/var/run/netns/${netns}`,
      ip,
      gateway: gw,
    };
    // Recorded first, so destroy() also removes a pod that fails half-made.
    this.pods.push(pod);
    this.#hostIfs.push(hostIf);
    addVethPod({ netns, hostIf, gateway: gw, ip });
    const inNs = (...a: string[]) => must('ip', ['-n', netns, ...a]);
    if (spec.outOfMesh) return pod;
    const rules = installRules(netns);
    if (!rules.ok) throw new Error(`in-pod rules in ${netns}: ${rules.out}`);
    // istio-cni's in-pod routing: packets of connections zt made (connmark 0x111, restored as the
    // packet mark by the rules above) are delivered locally, so the app's replies to a client IP
    // zt connected from (original source) come back to zt instead of leaving the pod.
    inNs('rule', 'add', 'fwmark', '0x111/0xfff', 'pref', '32764', 'lookup', '133');
    inNs('route', 'add', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', '133');
    return pod;
  }

  /** The workloads of the local config (upstream's LOCAL_XDS format), one per pod. */
  workloadsYaml(pods: readonly SimPod[] = this.pods): string {
    return pods
      .map((p) =>
        [
          `  - uid: ${p.uid}`,
          `    name: ${p.name}`,
          `    namespace: ${p.namespace}`,
          `    serviceAccount: ${p.serviceAccount}`,
          `    workloadIps: ["${p.ip}"]`,
          `    protocol: ${p.outOfMesh ? 'TCP' : 'HBONE'}`,
          `    node: ${p.node}`,
        ].join('\n'),
      )
      .join('\n');
  }

  destroy(): void {
    for (const p of this.pods) sh('ip', ['netns', 'del', p.netns]);
    // Deleting a namespace deletes its veth end and with it the peer; this catches half-made pods.
    for (const i of this.#hostIfs) if (sh('ip', ['link', 'show', i]).ok) sh('ip', ['link', 'del', i]);
    this.pods.length = 0;
    this.#undoForwarding();
  }
}
