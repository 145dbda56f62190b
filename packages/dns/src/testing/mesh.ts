import type { Service, StateSnapshot, Workload } from '@zt/xds';
import { makeService, makeWorkload } from '@zt/xds/testing';

// Upstream's DNS test mesh (src/dns/server.rs tests, `state()`), as an xDS snapshot: the services and
// workloads its lookup table is written against. The client is `client` in ns1 on network nw1.

export const NS1 = 'ns1';
export const NS2 = 'ns2';
export const NS3 = 'ns3';
export const PREFERRED = 'preferred-ns';
export const NW1 = 'nw1';
export const NW2 = 'nw2';

type DnsTestService = Service & { visibility?: 'Public' | 'Namespace' };

const vip = (network: string, address: string) => ({ network, address });

/** A Kubernetes service `<name>.<ns>.svc.cluster.local`. */
function kube(
  name: string,
  namespace: string,
  vips: Array<{ network: string; address: string }>,
): DnsTestService {
  return makeService({ name, namespace, vips, ports: [{ servicePort: 80, targetPort: 80 }] });
}

/** A ServiceEntry-like host: hostname as given. */
function external(hostname: string, namespace: string, vips: Array<{ network: string; address: string }>) {
  return { ...kube(hostname, namespace, vips), hostname };
}

function backend(name: string, hostname: string, service: string, ips: string[]): Workload {
  return makeWorkload({
    name,
    namespace: NS1,
    hostname,
    network: NW1,
    workloadIps: ips,
    services: { [service]: { 80: 80 } },
  });
}

/** The snapshot; `clientIps` are the addresses the test's queries come from. */
export function upstreamDnsTestState(clientIps: string[] = ['127.0.0.1', '::1']): StateSnapshot {
  const services: DnsTestService[] = [
    external('www.google.com', NS1, [vip(NW1, '1.1.1.1')]),
    kube('productpage', NS1, [vip(NW1, '9.9.9.9')]),
    kube('example', NS2, [vip(NW1, '10.10.10.10')]),
    // Namespace-scoped: the ns2 one is invisible to the ns1 client (forwarded).
    { ...kube('nslocal', NS2, [vip(NW1, '10.10.10.240')]), visibility: 'Namespace' },
    { ...kube('nslocalsame', NS1, [vip(NW1, '10.10.10.241')]), visibility: 'Namespace' },
    // Same host in several namespaces: the client's own, then canonical, then the preferred one.
    external('everywhere.io', NS2, [vip(NW1, '10.10.10.110')]),
    external('preferred.io', NS2, [vip(NW1, '10.10.10.210')]),
    external('everywhere.io', PREFERRED, [vip(NW1, '10.10.10.111')]),
    external('preferred.io', PREFERRED, [vip(NW1, '10.10.10.211')]),
    external('everywhere.io', NS1, [vip(NW1, '10.10.10.112')]),
    external('canonical.svc', NS2, [vip(NW1, '10.10.10.140')]),
    { ...external('canonical.svc', NS3, [vip(NW1, '10.10.10.141')]), canonical: true },
    external('canonical.with.local', NS1, [vip(NW1, '10.10.10.150')]),
    { ...external('canonical.with.local', NS2, [vip(NW1, '10.10.10.151')]), canonical: true },
    {
      ...kube(
        'details',
        NS2,
        ['11.11.11.11', '12.12.12.12', '13.13.13.13', '14.14.14.14'].map((a) => vip(NW1, a)),
      ),
      hostname: 'details.ns2.svc.cluster.remote',
    },
    external('ipv4.localhost', NS1, [vip(NW1, '2.2.2.2')]),
    external('ipv6.localhost', NS1, [vip(NW1, '2001:db8::ff00:42:8329')]),
    external('dual.localhost', NS1, [vip(NW1, '2.2.2.2'), vip(NW1, '2001:db8::ff00:42:8329')]),
    external('*.wildcard', NS1, [vip(NW1, '10.10.10.10')]),
    external('*.b.wildcard', NS1, [vip(NW1, '11.11.11.11')]),
    external('*.svc.mesh.company.net', NS1, [vip(NW1, '10.1.2.3')]),
    kube('nw2-only', NS1, [vip(NW2, '20.20.20.20')]),
    kube('both-networks', NS1, [vip(NW1, '21.21.21.21'), vip(NW2, '22.22.22.22')]),
    // Headless (no VIP): answered with endpoint IPs when a Kubernetes service, forwarded otherwise.
    kube('headless', NS1, []),
    external('headless.example.com', NS1, []),
    external('headless-no-endpoints.example.com', NS1, []),
    { ...kube('headless-ipv6', NS1, []), ipFamilies: 'IPv6' },
  ];
  const workloads: Workload[] = [
    makeWorkload({
      name: 'client',
      namespace: NS1,
      network: NW1,
      workloadIps: clientIps,
      canonicalRevision: 'v1',
    }),
    backend('headless0', 'headless.pod0.ns1.svc.cluster.local', `${NS1}/headless.ns1.svc.cluster.local`, [
      '30.30.30.30',
      '2001:db8::30',
    ]),
    backend('headless1', 'headless.pod1.ns1.svc.cluster.local', `${NS1}/headless.ns1.svc.cluster.local`, [
      '31.31.31.31',
      '2001:db8::31',
    ]),
    backend('headless-external', '', `${NS1}/headless.example.com`, ['32.32.32.32', '2001:db8::32']),
    backend(
      'headless2',
      'headless2.pod2.ns1.svc.cluster.local',
      `${NS1}/headless-ipv6.ns1.svc.cluster.local`,
      ['33.33.33.33', '2001:db8::33'],
    ),
  ];
  return { version: 1, workloads, services, policies: [] };
}
