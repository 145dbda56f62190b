import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Authorization, Match, Service, Workload } from '../types.ts';

/** A local config file in upstream's examples/localhost.yaml shape (usable as LOCAL_XDS_PATH). */
export const LOCALHOST_CONFIG_PATH: string = fileURLToPath(
  new URL('./fixtures/localhost.yaml', import.meta.url),
);

export function localhostConfigYaml(): string {
  return readFileSync(LOCALHOST_CONFIG_PATH, 'utf8');
}

/** A healthy HBONE pod workload in `default`; override what the test cares about. */
export function makeWorkload(over: Partial<Workload> & { name: string }): Workload {
  const namespace = over.namespace ?? 'default';
  return {
    uid: `Kubernetes//v1/Pod/${namespace}/${over.name}`,
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
    workloadType: 'pod',
    workloadName: over.name,
    clusterId: 'Kubernetes',
    status: 'Healthy',
    services: {},
    authorizationPolicies: [],
    ...over,
  };
}

/** A service `<name>.<namespace>.svc.cluster.local`. */
export function makeService(over: Partial<Service> & { name: string }): Service {
  const namespace = over.namespace ?? 'default';
  return {
    namespace,
    hostname: `${over.name}.${namespace}.svc.cluster.local`,
    vips: [],
    ports: [],
    subjectAltNames: [],
    ...over,
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

/** A namespace-scoped ALLOW policy with one rule of one clause of `matches`. */
export function makePolicy(
  over: Partial<Authorization> & { name: string },
  matches: Match[] = [],
): Authorization {
  return {
    namespace: 'default',
    scope: 'Namespace',
    action: 'Allow',
    rules: matches.length ? [{ clauses: [{ matches }] }] : [],
    dryRun: false,
    ...over,
  };
}
