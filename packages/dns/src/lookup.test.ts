// Upstream's lookup table (src/dns/server.rs `lookup`), over real sockets: every case is asked over
// UDP and over TCP of a DnsProxy answering from an xDS ProxyState, forwarding to a TestDnsServer.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ztLogger } from '@zt/log';
import { ProxyState } from '@zt/xds';
import dnsPacket, { type Answer, type DecodedPacket } from 'dns-packet';
import { SystemForwarder } from './forwarder.ts';
import { MeshLookup } from './lookup.ts';
import { type DnsListener, DnsProxy } from './proxy.ts';
import {
  dnsQuery,
  framed,
  NW1,
  PREFERRED,
  sendTcp,
  sendUdp,
  TestDnsServer,
  upstreamDnsTestState,
} from './testing/index.ts';
import { dnsStateOf } from './xds-state.ts';

interface Case {
  name: string;
  host: string;
  type?: 'A' | 'AAAA' | 'NS';
  rcode?: string;
  authoritative?: boolean;
  /** `CNAME name -> target`, `A name ip`, `AAAA name ip`; compared sorted (answers are shuffled). */
  answers?: string[];
}

const cases: Case[] = [
  {
    name: 'an unsupported record type is forwarded',
    host: 'productpage.ns1.',
    type: 'NS',
    authoritative: false,
    rcode: 'NXDOMAIN',
  },
  { name: 'a non-k8s host in the mesh', host: 'www.google.com', answers: ['A www.google.com 1.1.1.1'] },
  {
    name: 'a non-k8s host with a search domain: CNAME then A',
    host: 'www.google.com.ns1.svc.cluster.local.',
    answers: ['CNAME www.google.com.ns1.svc.cluster.local -> www.google.com', 'A www.google.com 1.1.1.1'],
  },
  {
    name: 'a host not in the mesh is forwarded',
    host: 'www.bing.com',
    authoritative: false,
    answers: ['A www.bing.com 1.1.1.1'],
  },
  {
    name: 'k8s fqdn',
    host: 'productpage.ns1.svc.cluster.local.',
    answers: ['A productpage.ns1.svc.cluster.local 9.9.9.9'],
  },
  { name: 'k8s name.namespace', host: 'productpage.ns1.', answers: ['A productpage.ns1 9.9.9.9'] },
  { name: 'k8s short name', host: 'productpage.', answers: ['A productpage 9.9.9.9'] },
  {
    name: 'k8s name.namespace with a search domain: CNAME then A',
    host: 'productpage.ns1.ns1.svc.cluster.local.',
    answers: ['CNAME productpage.ns1.ns1.svc.cluster.local -> productpage.ns1', 'A productpage.ns1 9.9.9.9'],
  },
  {
    name: 'AAAA for an IPv4 service with a search domain: empty',
    host: 'productpage.ns1.ns1.svc.cluster.local.',
    type: 'AAAA',
    answers: [],
  },
  { name: 'another namespace: name.namespace', host: 'example.ns2.', answers: ['A example.ns2 10.10.10.10'] },
  {
    name: 'another namespace: fqdn',
    host: 'example.ns2.svc.cluster.local.',
    answers: ['A example.ns2.svc.cluster.local 10.10.10.10'],
  },
  {
    name: 'visibility: a namespace-scoped service of another namespace is forwarded',
    host: 'nslocal.ns2.svc.cluster.local.',
    authoritative: false,
    rcode: 'NXDOMAIN',
  },
  {
    name: 'visibility: a namespace-scoped service of the own namespace resolves',
    host: 'nslocalsame.ns1.svc.cluster.local.',
    answers: ['A nslocalsame.ns1.svc.cluster.local 10.10.10.241'],
  },
  {
    name: 'another namespace: name.namespace.svc',
    host: 'example.ns2.svc.',
    answers: ['A example.ns2.svc 10.10.10.10'],
  },
  {
    name: "another namespace's short name is forwarded",
    host: 'example.',
    authoritative: false,
    rcode: 'NXDOMAIN',
  },
  {
    name: 'a remote cluster domain: fqdn',
    host: 'details.ns2.svc.cluster.remote.',
    answers: ['11.11.11.11', '12.12.12.12', '13.13.13.13', '14.14.14.14'].map(
      (ip) => `A details.ns2.svc.cluster.remote ${ip}`,
    ),
  },
  {
    name: 'a remote cluster domain: name.namespace is forwarded',
    host: 'details.ns2.',
    authoritative: false,
    rcode: 'NXDOMAIN',
  },
  { name: 'A returns A records only', host: 'dual.localhost.', answers: ['A dual.localhost 2.2.2.2'] },
  {
    name: 'AAAA returns AAAA records only',
    host: 'dual.localhost.',
    type: 'AAAA',
    answers: ['AAAA dual.localhost 2001:db8::ff00:42:8329'],
  },
  { name: 'A for an IPv6-only host: empty NOERROR, not NXDOMAIN', host: 'ipv6.localhost.', answers: [] },
  { name: 'AAAA for an IPv4-only host: empty NOERROR', host: 'ipv4.localhost.', type: 'AAAA', answers: [] },
  { name: 'wildcard', host: 'foo.wildcard.', answers: ['A foo.wildcard 10.10.10.10'] },
  { name: 'the more specific wildcard wins', host: 'a.b.wildcard.', answers: ['A a.b.wildcard 11.11.11.11'] },
  {
    name: 'wildcard with a domain',
    host: 'foo.svc.mesh.company.net.',
    answers: ['A foo.svc.mesh.company.net 10.1.2.3'],
  },
  {
    name: 'wildcard with a namespace and a domain',
    host: 'foo.foons.svc.mesh.company.net.',
    answers: ['A foo.foons.svc.mesh.company.net 10.1.2.3'],
  },
  {
    name: 'wildcard with a search domain: no CNAME',
    host: 'foo.svc.mesh.company.net.ns1.svc.cluster.local.',
    answers: ['A foo.svc.mesh.company.net.ns1.svc.cluster.local 10.1.2.3'],
  },
  { name: "no VIP on the client's network: empty", host: 'nw2-only.ns1.svc.cluster.local.', answers: [] },
  {
    name: "only the VIP of the client's network",
    host: 'both-networks.ns1.svc.cluster.local.',
    answers: ['A both-networks.ns1.svc.cluster.local 21.21.21.21'],
  },
  {
    name: 'headless: endpoint IPs for A',
    host: 'headless.ns1.svc.cluster.local.',
    answers: ['A headless.ns1.svc.cluster.local 30.30.30.30', 'A headless.ns1.svc.cluster.local 31.31.31.31'],
  },
  {
    name: 'headless: endpoint IPs for AAAA',
    host: 'headless.ns1.svc.cluster.local.',
    type: 'AAAA',
    answers: [
      'AAAA headless.ns1.svc.cluster.local 2001:db8::30',
      'AAAA headless.ns1.svc.cluster.local 2001:db8::31',
    ],
  },
  {
    name: 'headless IPv6-only service: AAAA',
    host: 'headless-ipv6.ns1.svc.cluster.local.',
    type: 'AAAA',
    answers: ['AAAA headless-ipv6.ns1.svc.cluster.local 2001:db8::33'],
  },
  {
    name: 'headless IPv6-only service: A is empty',
    host: 'headless-ipv6.ns1.svc.cluster.local.',
    answers: [],
  },
  // Pod names of headless services are not served yet (upstream issue 1119): forwarded.
  {
    name: 'a pod fqdn is forwarded',
    host: 'headless.pod0.ns1.svc.cluster.local.',
    authoritative: false,
    rcode: 'NXDOMAIN',
  },
  {
    name: 'a pod name.domain.ns is forwarded',
    host: 'headless.pod0.ns1.',
    authoritative: false,
    rcode: 'NXDOMAIN',
  },
  {
    name: 'a headless external host without endpoints is forwarded',
    host: 'headless-no-endpoints.example.com',
    authoritative: false,
    rcode: 'NXDOMAIN',
  },
  {
    name: 'a headless external host is forwarded',
    host: 'headless.example.com',
    authoritative: false,
    rcode: 'NXDOMAIN',
  },
  {
    name: 'the preferred namespace when the own one has none',
    host: 'preferred.io.',
    answers: ['A preferred.io 10.10.10.211'],
  },
  { name: "the client's namespace first", host: 'everywhere.io.', answers: ['A everywhere.io 10.10.10.112'] },
  {
    name: 'a canonical service when the own namespace has none',
    host: 'canonical.svc',
    answers: ['A canonical.svc 10.10.10.141'],
  },
  {
    name: "the own namespace's over a canonical one",
    host: 'canonical.with.local',
    answers: ['A canonical.with.local 10.10.10.150'],
  },
  // zt's additions: DNS is case-insensitive, and the answer keeps the client's spelling.
  {
    name: 'mixed case is found, and echoed',
    host: 'ProductPage.NS1.',
    answers: ['A ProductPage.NS1 9.9.9.9'],
  },
];

function render(records: Answer[]): string[] {
  const line = (r: Answer): string => {
    if (r.type === 'CNAME') return `CNAME ${r.name} -> ${r.data}`;
    return `${r.type} ${r.name} ${(r as { data: unknown }).data}`;
  };
  const order = (s: string): number => (s.startsWith('CNAME') ? 0 : s.startsWith('AAAA') ? 2 : 1);
  return records.map(line).sort((a, b) => order(a) - order(b) || a.localeCompare(b));
}

describe('mesh lookups: upstream lookup table over UDP and TCP', () => {
  let upstream: TestDnsServer;
  let proxy: DnsProxy;
  let listener: DnsListener;
  before(async () => {
    upstream = await TestDnsServer.start();
    upstream.set('www.bing.com', 'A', ['1.1.1.1']);
    const state = new ProxyState(upstreamDnsTestState());
    proxy = new DnsProxy({
      state: () => dnsStateOf(state),
      forwarder: new SystemForwarder({ servers: [{ host: upstream.host, port: upstream.port }] }),
      logger: ztLogger('silent', 'json', { write: () => {} }),
      network: NW1,
      preferredServiceNamespace: PREFERRED,
    });
    listener = await proxy.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  for (const c of cases) {
    for (const protocol of ['udp', 'tcp'] as const) {
      test(`[${protocol}] ${c.name}`, async () => {
        const id = Math.floor(Math.random() * 0x10000);
        const q = dnsQuery({ name: c.host, type: c.type ?? 'A', id, edns: 1232 });
        let raw: Buffer | undefined;
        if (protocol === 'udp') raw = await sendUdp('127.0.0.1', listener.udp.port, q);
        else raw = (await sendTcp('127.0.0.1', listener.tcp.port, framed(q))).messages[0];
        assert.ok(raw, 'an answer');
        const r = dnsPacket.decode(raw) as DecodedPacket & { rcode: string };
        assert.equal(r.id, id, 'the id is the query id');
        assert.equal(r.rcode, c.rcode ?? 'NOERROR');
        assert.equal(r.flag_aa, c.authoritative ?? true, 'authoritative');
        assert.equal(r.flag_tc, false);
        assert.equal(r.questions?.[0]?.name, c.host.replace(/\.$/, ''), 'the question is echoed');
        if (c.answers)
          assert.deepEqual(
            render(r.answers ?? []),
            [...c.answers].sort((a, b) =>
              a.startsWith('CNAME') ? -1 : b.startsWith('CNAME') ? 1 : a.localeCompare(b),
            ),
          );
        if (c.authoritative ?? true) {
          // Upstream's response: RA set, RD echoed, TTL 30, the client's EDNS size echoed.
          assert.equal(r.flag_ra, true);
          assert.equal(r.flag_rd, true);
          for (const a of r.answers ?? []) assert.equal((a as { ttl?: number }).ttl, 30);
          const opt = r.additionals?.find((a) => a.type === 'OPT');
          assert.equal(opt?.type === 'OPT' ? opt.udpPayloadSize : undefined, 1232);
        }
      });
    }
  }
});

describe('MeshLookup without sockets', () => {
  const state = dnsStateOf(new ProxyState(upstreamDnsTestState()));
  const client = state.clientByAddress(NW1, '127.0.0.1');
  const search = ['ns1.svc.cluster.local', 'svc.cluster.local', 'cluster.local'];
  test('the test client is found by its address', () => {
    assert.equal(client?.name, 'client');
  });
  test('addresses come in random order', () => {
    const mesh = new MeshLookup({ clusterDomain: 'cluster.local', ipv6Enabled: true });
    const orders = new Set<string>();
    for (let i = 0; i < 200 && client; i++) {
      orders.add(
        mesh.lookup(state, client, 'details.ns2.svc.cluster.remote', 'A', search)?.addresses.join(',') ?? '',
      );
    }
    // 4 addresses have 24 orders; 200 draws see well over one of them.
    assert.ok(orders.size > 5, `${orders.size} orders seen`);
  });
  test('IPv6 disabled: AAAA for a mesh name is empty, not forwarded', () => {
    const mesh = new MeshLookup({ clusterDomain: 'cluster.local', ipv6Enabled: false });
    const r = client && mesh.lookup(state, client, 'dual.localhost', 'AAAA', search);
    assert.deepEqual(r?.addresses, []);
    assert.equal(r?.result, 'ipv6 disabled');
  });
  test('another cluster domain', () => {
    const mesh = new MeshLookup({ clusterDomain: 'cluster.remote', ipv6Enabled: true });
    assert.deepEqual(client && mesh.lookup(state, client, 'details.ns2', 'A', [])?.addresses.sort(), [
      '11.11.11.11',
      '12.12.12.12',
      '13.13.13.13',
      '14.14.14.14',
    ]);
  });
});
