import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { TestCa } from '@zt/identity/testing';
import { Logging } from '@zt/log';
import { registry } from '@zt/metrics';
import type { Service, Workload } from '@zt/xds';
import { makeService, makeSnapshot, makeWorkload } from '@zt/xds/testing';
import { DataPlane } from '../dataplane.ts';
import type { BoundListener } from '../options.ts';
import { testCaCertSource } from '../testing/certs.ts';
import { startDnsServer, type TestDnsServer } from '../testing/dns.ts';
import { socksDial } from '../testing/mesh.ts';

// Load balancing end to end: a client pod's connection to a service VIP through zt's SOCKS5
// listener lands on the backend upstream's rules choose. Backends are plain-TCP workloads on
// loopback addresses that answer with their name.

const O = 100 + Math.floor(Math.random() * 150);
const ip = (n: number, h: number) => `127.${O}.${n}.${h}`;
const CLIENT = ip(10, 1);

interface Named {
  server: Server;
  port: number;
}

async function namedServer(host: string, name: string): Promise<Named> {
  const server = createServer((s) => {
    s.on('error', () => s.destroy());
    s.end(name);
  });
  server.listen(0, host);
  await once(server, 'listening');
  const a = server.address();
  return { server, port: typeof a === 'object' && a ? a.port : 0 };
}

describe('load balancing through a running proxy', () => {
  let dp: DataPlane;
  let socks: BoundListener;
  let dns: TestDnsServer;
  let near: Named;
  let far: Named;
  let original: Named;
  let version = 1;
  const locality = (zone: string) => ({ locality: { region: 'r1', zone, subzone: '' } });
  const client = makeWorkload({ name: 'client', workloadIps: [CLIENT], node: 'node-a', ...locality('z1') });

  before(async () => {
    dns = await startDnsServer({ 'db.lb.test': { A: [ip(20, 2)] } });
    near = await namedServer(ip(20, 1), 'near');
    far = await namedServer(ip(20, 2), 'far');
    original = await namedServer(ip(40, 1), 'original');
    dp = new DataPlane({
      workers: 0,
      nodeName: 'node-a',
      network: '',
      trustDomain: 'cluster.local',
      certs: testCaCertSource(await TestCa.create()),
      logging: new Logging({ filter: 'off' }),
      listeners: {},
      socks5: { enabled: true, address: '127.0.0.1', port: 0 },
      dns: { servers: [dns.server] },
    });
    dp.setState(makeSnapshot(version++, { workloads: [client] }));
    const bound = await dp.start();
    const s = bound.find((l) => l.kind === 'socks5');
    assert.ok(s);
    socks = s;
  });
  after(async () => {
    await dp?.close();
    for (const n of [near, far, original]) n?.server.close();
    await dns?.close();
  });

  // Every IP backend serves every test service on port 80 -> its own port.
  const SERVICES = ['failover', 'strict', 'passthrough'];
  function backend(name: string, at: Named, host: string, over: Partial<Workload> = {}): Workload {
    const services = Object.fromEntries(
      SERVICES.map((s) => [`default/${s}.default.svc.cluster.local`, { 80: at.port }]),
    );
    return makeWorkload({ name, workloadIps: [host], protocol: 'TCP', node: 'node-b', services, ...over });
  }
  const svc = (name: string, vip: string, lb?: Service['loadBalancer']): Service => ({
    ...makeService({ name, vips: [vip], ports: { 80: 0 } }),
    ...(lb ? { loadBalancer: lb } : {}),
  });
  const zoneLb = (mode: 'Failover' | 'Strict'): Service['loadBalancer'] => ({
    routingPreferences: ['Region', 'Zone'],
    mode,
    healthPolicy: 'OnlyHealthy',
  });

  function setState(nearHealthy: boolean, extra: Workload[] = []): void {
    dp.setState(
      makeSnapshot(version++, {
        workloads: [
          client,
          backend('near', near, ip(20, 1), {
            ...locality('z1'),
            status: nearHealthy ? 'Healthy' : 'Unhealthy',
          }),
          backend('far', far, ip(20, 2), locality('z2')),
          ...extra,
        ],
        services: [
          svc('failover', ip(30, 1), zoneLb('Failover')),
          svc('strict', ip(30, 2), zoneLb('Strict')),
          svc('passthrough', ip(40, 1), {
            routingPreferences: [],
            mode: 'Passthrough',
            healthPolicy: 'OnlyHealthy',
          }),
        ],
      }),
    );
  }

  /** What the connection to `vip:port` reads before it closes ('' when zt refused it). */
  async function answer(vip: string, port = 80): Promise<string> {
    const s = await socksDial(socks, CLIENT, { address: vip, port });
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', () => {});
    // Half-open socket: answer the backend's end with ours so the connection closes.
    s.on('end', () => s.end());
    await once(s, 'close');
    return Buffer.concat(chunks).toString();
  }

  async function metric(name: string, labels: Record<string, string>): Promise<number> {
    const m = await registry.getSingleMetric(name)?.get();
    return (m?.values ?? [])
      .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
      .reduce((a, v) => a + v.value, 0);
  }

  test("failover: the client's zone while it has a healthy endpoint, then the next zone", async () => {
    setState(true);
    for (let i = 0; i < 8; i++) assert.equal(await answer(ip(30, 1)), 'near');
    setState(false);
    for (let i = 0; i < 4; i++) assert.equal(await answer(ip(30, 1)), 'far');
  });

  test("strict: nothing in the client's zone is a refused connection, counted", async () => {
    setState(true);
    assert.equal(await answer(ip(30, 2)), 'near');
    setState(false);
    const before = await metric('zt_connections_early_denied_total', { reason: 'no-healthy-upstream' });
    assert.equal(await answer(ip(30, 2)), '');
    assert.equal(
      (await metric('zt_connections_early_denied_total', { reason: 'no-healthy-upstream' })) - before,
      1,
    );
  });

  test('passthrough service: the connection goes to the address the client dialled', async () => {
    setState(true);
    assert.equal(await answer(ip(40, 1), original.port), 'original');
  });

  test('a workload known by hostname is dialled at the address DNS gives (cached for its TTL)', async () => {
    const db = makeWorkload({
      name: 'db',
      workloadIps: [],
      hostname: 'db.lb.test',
      protocol: 'TCP',
      services: { 'default/only-db.default.svc.cluster.local': { 80: far.port } },
    });
    dp.setState(
      makeSnapshot(version++, {
        workloads: [client, db],
        services: [makeService({ name: 'only-db', vips: [ip(50, 1)], ports: { 80: 0 } })],
      }),
    );
    const dnsCount = () => metric('istio_on_demand_dns_total', { hostname: 'db.lb.test' });
    const before = await dnsCount();
    const asked = () => dns.queries.filter((q) => q === 'A db.lb.test').length;
    // db.lb.test is the far backend's address.
    assert.equal(await answer(ip(50, 1)), 'far');
    assert.equal(await answer(ip(50, 1)), 'far');
    // As upstream's test_on_demand_dns_request: two connections count two, the second from the cache.
    assert.equal((await dnsCount()) - before, 2);
    assert.equal(asked(), 1);
  });

  test('a hostname DNS does not know: refused and counted as no-resolved-addresses', async () => {
    const gone = makeWorkload({
      name: 'gone',
      workloadIps: [],
      hostname: 'gone.lb.test',
      protocol: 'TCP',
      status: 'Healthy',
      services: { 'default/only-gone.default.svc.cluster.local': { 80: far.port } },
    });
    dp.setState(
      makeSnapshot(version++, {
        workloads: [client, gone],
        services: [makeService({ name: 'only-gone', vips: [ip(60, 1)], ports: { 80: 0 } })],
      }),
    );
    const before = await metric('zt_connections_early_denied_total', { reason: 'no-resolved-addresses' });
    assert.equal(await answer(ip(60, 1)), '');
    assert.equal(
      (await metric('zt_connections_early_denied_total', { reason: 'no-resolved-addresses' })) - before,
      1,
    );
  });
});

test('in a worker thread, on-demand DNS uses the configured servers', async () => {
  const dns = await startDnsServer({ 'db.worker.test': { A: [ip(70, 2)] } });
  const db = await namedServer(ip(70, 2), 'db');
  const src = makeWorkload({ name: 'client', workloadIps: [ip(70, 1)], node: 'node-a' });
  const byName = makeWorkload({
    name: 'db',
    workloadIps: [],
    hostname: 'db.worker.test',
    protocol: 'TCP',
    services: { 'default/db.default.svc.cluster.local': { 80: db.port } },
  });
  const dp = new DataPlane({
    workers: 1,
    nodeName: 'node-a',
    network: '',
    trustDomain: 'cluster.local',
    certs: testCaCertSource(await TestCa.create()),
    logging: new Logging({ filter: 'off' }),
    listeners: {},
    socks5: { enabled: true, address: '127.0.0.1', port: 0 },
    dns: { servers: [dns.server] },
  });
  try {
    dp.setState(
      makeSnapshot(1, {
        workloads: [src, byName],
        services: [makeService({ name: 'db', vips: [ip(70, 3)], ports: { 80: 0 } })],
      }),
    );
    const socks = (await dp.start()).find((l) => l.kind === 'socks5');
    assert.ok(socks);
    const s = await socksDial(socks, ip(70, 1), { address: ip(70, 3), port: 80 });
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => s.end());
    await once(s, 'close');
    assert.equal(Buffer.concat(chunks).toString(), 'db');
    assert.ok(dns.queries.includes('A db.worker.test'));
  } finally {
    await dp.close();
    db.server.close();
    await dns.close();
  }
});
