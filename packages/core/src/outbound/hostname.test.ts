import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { registry } from '@zt/metrics';
import { ProxyState } from '@zt/xds';
import { makeService, makeSnapshot, makeWorkload } from '@zt/xds/testing';
import { startDnsServer, type TestDnsServer } from '../testing/dns.ts';
import {
  DNS_ERROR_CODES,
  DnsResolveError,
  HostnameResolver,
  hostResolverFor,
  needsResolution,
  resolveRouteHost,
} from './hostname.ts';
import { type Route, routeOutbound } from './route.ts';

let dns: TestDnsServer;
before(async () => {
  dns = await startDnsServer({
    'v4.example.com': { A: ['10.1.0.1', '10.1.0.2'] },
    'v6.example.com': { AAAA: ['fd00::1'] },
    'dual.example.com': { A: ['10.1.0.3'], AAAA: ['fd00::3'] },
    'short.example.com': { A: ['10.1.0.4'], ttl: 1 },
    'broken.example.com': { servfail: true },
    'nodata.example.com': {},
  });
});
after(() => dns.close());

const resolver = (extra: ConstructorParameters<typeof HostnameResolver>[0] = {}) =>
  new HostnameResolver({ servers: [dns.server], ...extra });

describe('HostnameResolver against a DNS server on loopback', () => {
  test('asks A and AAAA and returns every address', async () => {
    const r = resolver();
    assert.deepEqual((await r.addresses('dual.example.com')).sort(), ['10.1.0.3', 'fd00::3']);
    assert.ok(dns.queries.includes('A dual.example.com'));
    assert.ok(dns.queries.includes('AAAA dual.example.com'));
  });
  test('IPv6 off: A only', async () => {
    const before = dns.queries.length;
    const r = resolver({ ipv6: false });
    assert.deepEqual(await r.addresses('v4.example.com'), ['10.1.0.1', '10.1.0.2']);
    assert.deepEqual(dns.queries.slice(before), ['A v4.example.com']);
    await assert.rejects(r.addresses('v6.example.com'), { code: DNS_ERROR_CODES.noAddresses });
  });
  test('picks the family of the dialled address when it can, any otherwise', async () => {
    const r = resolver();
    assert.equal(await r.pick('dual.example.com', '10.96.0.1'), '10.1.0.3');
    assert.equal(await r.pick('dual.example.com', 'fd00::a'), 'fd00::3');
    assert.equal(await r.pick('v6.example.com', '10.96.0.1'), 'fd00::1');
    assert.equal(await r.pick('v4.example.com', '10.96.0.1', () => 0), '10.1.0.1');
    assert.equal(await r.pick('v4.example.com', '10.96.0.1', () => 0.99), '10.1.0.2');
  });
  test('answers are kept for their TTL, then asked again', async () => {
    let now = 1_000_000;
    const r = resolver({ now: () => now });
    const count = () => dns.queries.filter((q) => q === 'A short.example.com').length;
    const start = count();
    await r.addresses('short.example.com');
    await r.addresses('short.example.com');
    assert.equal(count() - start, 1, 'second lookup within the TTL is served from the cache');
    now += 1500;
    await r.addresses('short.example.com');
    assert.equal(count() - start, 2, 'after the TTL the name is asked again');
  });
  test('concurrent lookups of one name share one query', async () => {
    const r = resolver();
    const start = dns.queries.filter((q) => q === 'A v6.example.com').length;
    await Promise.all([r.addresses('v6.example.com'), r.addresses('v6.example.com')]);
    assert.equal(dns.queries.filter((q) => q === 'A v6.example.com').length - start, 1);
  });
  test('unknown name, SERVFAIL, no records: a DnsResolveError naming the name and the answers', async () => {
    const r = resolver();
    for (const name of ['missing.example.com', 'broken.example.com', 'nodata.example.com']) {
      await assert.rejects(r.addresses(name), (e: unknown) => {
        assert.ok(e instanceof DnsResolveError);
        assert.equal(e.code, DNS_ERROR_CODES.noAddresses);
        assert.equal(e.hostname, name);
        assert.match(e.message, new RegExp(`${name}.*A: E[A-Z]+, AAAA: E[A-Z]+.*resolv\\.conf`));
        return true;
      });
    }
  });
  test('failures are not cached: a name that appears later resolves', async () => {
    const r = resolver();
    await assert.rejects(r.addresses('late.example.com'));
    dns.set('late.example.com', { A: ['10.1.0.9'] });
    assert.deepEqual(await r.addresses('late.example.com'), ['10.1.0.9']);
  });
  test('an answer without records is EMPTY_RESOLVED_ADDRESSES', async () => {
    const r = new HostnameResolver({
      resolver: { resolve4: async () => [], resolve6: async () => [] },
    });
    await assert.rejects(r.addresses('x.example.com'), { code: DNS_ERROR_CODES.emptyAnswer });
  });
  test('bad server list: every lookup fails with a clear error, construction does not throw', async () => {
    const r = new HostnameResolver({ servers: ['not an ip'] });
    await assert.rejects(r.addresses('v4.example.com'), {
      code: DNS_ERROR_CODES.badServers,
      message: /not valid.*give IP or IP:port/,
    });
  });
  test('hostResolverFor: one resolver per proxy config', () => {
    const a = { nodeName: 'n', network: '', trustDomain: 'cluster.local', listeners: {} };
    const b = { ...a };
    assert.equal(hostResolverFor(a), hostResolverFor(a));
    assert.notEqual(hostResolverFor(a), hostResolverFor(b));
  });
});

describe('routes to workloads known by hostname', () => {
  const src = makeWorkload({ name: 'client', workloadIps: ['10.0.0.1'] });
  const key = 'default/ext.default.svc.cluster.local';
  const extTcp = makeWorkload({
    name: 'ext-tcp',
    workloadIps: [],
    hostname: 'v4.example.com',
    protocol: 'TCP',
    services: { [key]: { 443: 8443 } },
  });
  const ext = makeService({ name: 'ext', vips: ['10.96.5.5'], ports: { 443: 8443 } });
  const opts = { network: '', trustDomain: 'cluster.local', hbonePort: 15008 };
  const route = (workloads = [src, extTcp]): Route =>
    routeOutbound(
      new ProxyState(makeSnapshot(1, { workloads, services: [ext] })),
      src,
      { address: '10.96.5.5', port: 443 },
      opts,
    );

  test('the route leaves the address to DNS; DNS fills it', async () => {
    const r = route();
    assert.ok(needsResolution(r));
    assert.deepEqual(r.kind === 'tcp' && r.connect, { address: '', port: 8443 });
    const resolved = await resolveRouteHost(
      r,
      src,
      { address: '10.96.5.5', port: 443 },
      resolver(),
      'cluster.local',
    );
    assert.equal(resolved.kind, 'tcp');
    assert.ok(['10.1.0.1', '10.1.0.2'].includes(resolved.kind === 'tcp' ? resolved.connect.address : ''));
    assert.equal(resolved.kind === 'tcp' && resolved.connect.port, 8443);
  });
  test('HBONE workload by hostname: both the dialled address and the CONNECT authority', async () => {
    const hbone = {
      ...extTcp,
      name: 'ext-hbone',
      uid: 'x//ext-hbone',
      protocol: 'HBONE' as const,
      hostname: 'v6.example.com',
    };
    const r = route([src, hbone]);
    const resolved = await resolveRouteHost(
      r,
      src,
      { address: '10.96.5.5', port: 443 },
      resolver(),
      'cluster.local',
    );
    assert.equal(resolved.kind, 'hbone');
    if (resolved.kind !== 'hbone') return;
    assert.deepEqual(resolved.connect, { address: 'fd00::1', port: 15008 });
    assert.deepEqual(resolved.authority, { address: 'fd00::1', port: 8443 });
  });
  test('DNS failure: a route error, counted as on-demand DNS', async () => {
    const gone = { ...extTcp, hostname: 'missing.example.com' };
    const count = async () => {
      const m = await registry.getSingleMetric('istio_on_demand_dns_total')?.get();
      return (m?.values ?? [])
        .filter((v) => v.labels.hostname === 'missing.example.com')
        .reduce((a, v) => a + v.value, 0);
    };
    const before = await count();
    const r = await resolveRouteHost(
      route([src, gone]),
      src,
      { address: '10.96.5.5', port: 443 },
      resolver(),
      'cluster.local',
    );
    assert.equal(r.kind, 'error');
    assert.equal(r.kind === 'error' && r.code, 'no-resolved-addresses');
    assert.match(
      r.kind === 'error' ? r.message : '',
      /default\/ext-tcp: no IP address was resolved for missing\.example\.com/,
    );
    assert.equal((await count()) - before, 1);
  });
  test('routes that name an address are left alone (no DNS)', async () => {
    const withIp = { ...extTcp, workloadIps: ['10.0.9.9'] };
    const r = route([src, withIp]);
    assert.equal(needsResolution(r), false);
    const before = dns.queries.length;
    assert.equal(
      await resolveRouteHost(r, src, { address: '10.96.5.5', port: 443 }, resolver(), 'cluster.local'),
      r,
    );
    assert.equal(dns.queries.length, before);
  });
});
