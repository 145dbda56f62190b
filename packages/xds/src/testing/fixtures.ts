import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type {
  Authorization,
  Match,
  NetworkAddress,
  Service,
  ServicePort,
  StateSnapshot,
  Workload,
} from '../types.ts';

/** A local config file in upstream's examples/localhost.yaml shape (usable as LOCAL_XDS_PATH). */
export const LOCALHOST_CONFIG_PATH: string = fileURLToPath(
  new URL('./fixtures/localhost.yaml', import.meta.url),
);

export function localhostConfigYaml(): string {
  return readFileSync(LOCALHOST_CONFIG_PATH, 'utf8');
}

// The one set of model fixtures for zt's tests (xds, core, the app): the defaults are upstream's
// (test_default_workload and the xDS conversion): service account `default`, trust domain
// cluster.local, cluster Kubernetes, a deployment; pod uids are written as istiod writes them.
// A test states what it relies on beyond these.

/** A healthy HBONE pod in `default` on node-a, uid `Kubernetes//Pod/<namespace>/<name>`; override what the test cares about. */
export function makeWorkload(over: Partial<Workload> & { name: string }): Workload {
  const namespace = over.namespace ?? 'default';
  return {
    uid: `Kubernetes//Pod/${namespace}/${over.name}`,
    namespace,
    workloadIps: [],
    hostname: '',
    network: '',
    protocol: 'HBONE',
    trustDomain: 'cluster.local',
    serviceAccount: 'default',
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

/** What makeService takes: the model's fields, with VIPs and ports also in short form. */
export type ServiceOverrides = Partial<Omit<Service, 'vips' | 'ports'>> & {
  name: string;
  /** Plain IPs are on the default network (''). */
  vips?: Array<string | NetworkAddress>;
  /** Short form: `{ servicePort: targetPort }`. */
  ports?: ServicePort[] | Record<number, number>;
};

/** A service `<name>.<namespace>.svc.cluster.local` in `default`. */
export function makeService(over: ServiceOverrides): Service {
  const namespace = over.namespace ?? 'default';
  const { vips = [], ports = [], ...rest } = over;
  return {
    namespace,
    hostname: `${over.name}.${namespace}.svc.cluster.local`,
    subjectAltNames: [],
    ...rest,
    vips: vips.map((v) => (typeof v === 'string' ? { network: '', address: v } : v)),
    ports: Array.isArray(ports)
      ? ports
      : Object.entries(ports).map(([s, t]) => ({ servicePort: Number(s), targetPort: t })),
  };
}

/** A Match with every field empty; spread the fields the test needs. */
export function emptyMatch(over: Partial<Match> = {}): Match {
  return {
    namespaces: [],
    notNamespaces: [],
    principals: [],
    notPrincipals: [],
    sourceIps: [],
    notSourceIps: [],
    destinationIps: [],
    notDestinationIps: [],
    destinationPorts: [],
    notDestinationPorts: [],
    serviceAccounts: [],
    notServiceAccounts: [],
    ...over,
  };
}

/**
 * A namespace-scoped policy in `default` (ALLOW unless `action` says), with one rule of one clause
 * whose matches are `matches` (empty fields filled in). No matches: no rules, and a policy without
 * rules matches nothing, as upstream's.
 */
export function makePolicy(
  over: Partial<Authorization> & { name: string },
  matches: Partial<Match>[] = [],
): Authorization {
  return {
    namespace: 'default',
    scope: 'Namespace',
    action: 'Allow',
    rules: matches.length ? [{ clauses: [{ matches: matches.map((m) => emptyMatch(m)) }] }] : [],
    dryRun: false,
    ...over,
  };
}

/** A state snapshot of these parts (none: empty). */
export function makeSnapshot(
  version: number,
  parts: { workloads?: Workload[]; services?: Service[]; policies?: Authorization[] } = {},
): StateSnapshot {
  return {
    version,
    workloads: parts.workloads ?? [],
    services: parts.services ?? [],
    policies: parts.policies ?? [],
  };
}
