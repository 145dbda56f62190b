import type { Authorization, Match, Service, StateSnapshot, Workload } from '@zt/xds';
import { emptyMatch } from '@zt/xds/testing';

export { emptyMatch };

/** A healthy HBONE pod with the given overrides; uid `cluster//Pod/<ns>/<name>`. */
export function workload(over: Partial<Workload> & { name: string; workloadIps: string[] }): Workload {
  const namespace = over.namespace ?? 'default';
  return {
    uid: `Kubernetes//Pod/${namespace}/${over.name}`,
    namespace,
    hostname: '',
    network: '',
    protocol: 'HBONE',
    trustDomain: 'cluster.local',
    serviceAccount: over.name,
    node: 'node-a',
    canonicalName: over.name,
    canonicalRevision: 'latest',
    workloadType: 'deployment',
    workloadName: over.name,
    clusterId: 'Kubernetes',
    status: 'Healthy',
    services: {},
    authorizationPolicies: [],
    ...over,
  };
}

export function service(
  over: Partial<Omit<Service, 'vips' | 'ports'>> & {
    name: string;
    vips: string[];
    ports: Record<number, number>;
  },
): Service {
  const namespace = over.namespace ?? 'default';
  const { vips, ports, ...rest } = over;
  return {
    namespace,
    hostname: `${over.name}.${namespace}.svc.cluster.local`,
    subjectAltNames: [],
    ...rest,
    vips: vips.map((address) => ({ network: '', address })),
    ports: Object.entries(ports).map(([s, t]) => ({ servicePort: Number(s), targetPort: t })),
  };
}

/** A policy with one rule of one clause holding the given matches (none: matches everything). */
export function policy(
  over: Partial<Authorization> & { name: string; action: 'Allow' | 'Deny' },
  matches: Partial<Match>[] = [],
): Authorization {
  return {
    namespace: 'default',
    scope: 'Namespace',
    rules: [{ clauses: matches.length ? [{ matches: matches.map(emptyMatch) }] : [] }],
    dryRun: false,
    ...over,
  };
}

export function snapshot(
  version: number,
  parts: { workloads?: Workload[]; services?: Service[]; policies?: Authorization[] },
): StateSnapshot {
  return {
    version,
    workloads: parts.workloads ?? [],
    services: parts.services ?? [],
    policies: parts.policies ?? [],
  };
}
