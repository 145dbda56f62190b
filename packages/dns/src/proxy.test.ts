// The proxy end to end: real clients (Node's resolver, dig), metrics as scraped, the access log,
// per-listener clients, dump, close and listen errors.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ztLogger } from '@zt/log';
import { registry } from '@zt/metrics';
import { parseExposition, sumOf } from '@zt/metrics/testing';
import type { Service, StateSnapshot } from '@zt/xds';
import { ProxyState } from '@zt/xds';
import { makeService, makeWorkload } from '@zt/xds/testing';
import dnsPacket, { type DecodedPacket } from 'dns-packet';
import { DnsListenError, DnsNetnsUnsupportedError } from './errors.ts';
import { SystemForwarder } from './forwarder.ts';
import { type DnsBind, type DnsListener, DnsProxy, type DnsProxyOptions } from './proxy.ts';
import { dnsQuery, framed, sendTcp, sendUdp, TestDnsServer } from './testing/index.ts';
import { dnsStateOf } from './xds-state.ts';

type Decoded = DecodedPacket & { rcode: string };
const decode = (b: Buffer): Decoded => dnsPacket.decode(b) as Decoded;

async function scrape(name: string, labels: Record<string, string> = {}): Promise<number> {
  return sumOf(parseExposition(await registry.metrics()), name, labels);
}

/** The mesh: `echo` in `backend`, a client pod in `backend`, one in `frontend`. */
function mesh(): StateSnapshot {
  const services: Service[] = [
    makeService({ name: 'echo', namespace: 'backend', vips: [{ network: '', address: '10.96.0.20' }] }),
    {
      ...makeService({
        name: 'secret',
        namespace: 'restricted',
        vips: [{ network: '', address: '10.96.0.30' }],
      }),
      visibility: 'Namespace',
    },
    makeService({ name: 'v6only', namespace: 'backend', vips: [{ network: '', address: 'fd00::20' }] }),
    makeService({ name: 'big', namespace: 'backend', vips: [] }),
  ];
  const big = Array.from({ length: 256 }, (_, i) =>
    makeWorkload({
      name: `big-${i}`,
      namespace: 'backend',
      workloadIps: [`10.44.${i >> 8}.${i & 255}`],
      services: { 'backend/big.backend.svc.cluster.local': { 80: 80 } },
    }),
  );
  return {
    version: 1,
    services,
    workloads: [
      makeWorkload({
        name: 'sleep',
        namespace: 'backend',
        workloadIps: ['127.0.0.1', '::1'],
        canonicalName: 'sleep',
        canonicalRevision: 'v7',
      }),
      makeWorkload({
        name: 'web',
        namespace: 'frontend',
        workloadIps: ['10.0.9.9'],
        canonicalName: 'web',
        canonicalRevision: 'v1',
      }),
      ...big,
    ],
    policies: [],
  };
}

interface Harness {
  up: TestDnsServer;
  proxy: DnsProxy;
  listener: DnsListener;
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

async function harness(over: Partial<DnsProxyOptions> = {}, snap: StateSnapshot = mesh()): Promise<Harness> {
  const up = await TestDnsServer.start();
  up.set('example.org', 'A', ['93.184.216.34']);
  up.set('example.org', 'MX', [
    {
      type: 'MX',
      name: 'example.org',
      ttl: 60,
      class: 'IN',
      data: { preference: 5, exchange: 'mx.example.org' },
    },
  ]);
  const logs: Array<Record<string, unknown>> = [];
  const logger = ztLogger('debug', 'json', { write: (l: string) => void logs.push(JSON.parse(l)) });
  const state = new ProxyState(snap);
  const proxy = new DnsProxy({
    state: () => dnsStateOf(state),
    forwarder: new SystemForwarder({ servers: [{ host: up.host, port: up.port }], timeoutMs: 1000 }),
    logger,
    ...over,
  });
  const listener = await proxy.listen({ host: '127.0.0.1', port: 0 });
  return {
    up,
    proxy,
    listener,
    logs,
    // Idempotent: a test may close early, and its after-hook closes again when it failed first.
    close: once(async () => {
      await proxy.close();
      await up.close();
    }),
  };
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= fn();
    return done;
  };
}

function resolverFor(port: number): Resolver {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`127.0.0.1:${port}`]);
  return r;
}

describe("Node's resolver pointed at the proxy", () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(() => h.close());

  test('a pod resolves echo, echo.backend and echo.backend.svc.cluster.local to the VIP', async () => {
    const r = resolverFor(h.listener.udp.port);
    for (const name of ['echo', 'echo.backend', 'echo.backend.svc.cluster.local']) {
      assert.deepEqual(await r.resolve4(name), ['10.96.0.20'], name);
    }
  });
  test('a name of another namespace with restricted visibility is forwarded (NXDOMAIN upstream)', async () => {
    await assert.rejects(resolverFor(h.listener.udp.port).resolve4('secret.restricted.svc.cluster.local'), {
      code: 'ENOTFOUND',
    });
    assert.equal(h.up.count('secret.restricted.svc.cluster.local'), 1);
  });
  test("an unknown name comes back with the forward target's answer; MX too", async () => {
    const r = resolverFor(h.listener.udp.port);
    assert.deepEqual(await r.resolve4('example.org'), ['93.184.216.34']);
    const mx = await r.resolveMx('example.org');
    assert.deepEqual(
      mx.map(({ priority, exchange }) => ({ priority, exchange })),
      [{ priority: 5, exchange: 'mx.example.org' }],
    );
  });
  test('a known host without an address of the family: NODATA, not NXDOMAIN', async () => {
    await assert.rejects(resolverFor(h.listener.udp.port).resolve6('echo.backend'), { code: 'ENODATA' });
    assert.deepEqual(await resolverFor(h.listener.udp.port).resolve6('v6only.backend'), ['fd00::20']);
  });
  test('a headless service of 256 pods: truncated over UDP, the resolver retries over TCP and gets all', async () => {
    const ips = await resolverFor(h.listener.udp.port).resolve4('big.backend');
    assert.equal(ips.length, 256);
    const udp = await sendUdp('127.0.0.1', h.listener.udp.port, dnsQuery({ name: 'big.backend' }));
    assert.ok(udp);
    const r = decode(udp);
    assert.equal(r.flag_tc, true);
    assert.ok(udp.length <= 512);
    assert.ok((r.answers?.length ?? 0) > 10, 'as many records as fit');
  });
});

describe('dig pointed at the proxy', () => {
  const dig = spawnSync('dig', ['-v'], { encoding: 'utf8' });
  const skip = dig.error
    ? 'dig is not installed (Debian package bind9-dnsutils; see scripts/system-packages.txt)'
    : false;
  let h: Harness;
  before(async () => {
    if (!skip) h = await harness();
  });
  after(async () => {
    if (!skip) await h.close();
  });
  // Asynchronously: the proxy answering dig runs in this process.
  const run = (...args: string[]): Promise<string> =>
    new Promise((resolve) => {
      execFile(
        'dig',
        ['@127.0.0.1', '-p', String(h.listener.udp.port), '+tries=1', '+time=2', ...args],
        { encoding: 'utf8', timeout: 10_000 },
        (_err, stdout) => resolve(stdout),
      );
    });
  test('short, namespaced and full names, over UDP and TCP', { skip }, async () => {
    for (const transport of ['+notcp', '+tcp']) {
      for (const name of ['echo', 'echo.backend', 'echo.backend.svc.cluster.local']) {
        assert.equal(
          (await run(transport, '+short', name, 'A')).trim(),
          '10.96.0.20',
          `${transport} ${name}`,
        );
      }
    }
  });
  test('the answer section, flags and EDNS as dig prints them', { skip }, async () => {
    const out = await run('echo.backend.svc.cluster.local', 'A');
    assert.match(out, /status: NOERROR/);
    assert.match(out, /flags: qr aa rd ra;/);
    assert.match(out, /OPT PSEUDOSECTION/);
    assert.match(out, /echo\.backend\.svc\.cluster\.local\.\s+30\s+IN\s+A\s+10\.96\.0\.20/);
  });
  test('a search domain appended: CNAME to the short name, then A', { skip }, async () => {
    const out = await run('+noall', '+answer', 'echo.backend.backend.svc.cluster.local', 'A');
    assert.match(out, /echo\.backend\.backend\.svc\.cluster\.local\.\s+30\s+IN\s+CNAME\s+echo\.backend\./);
    assert.match(out, /echo\.backend\.\s+30\s+IN\s+A\s+10\.96\.0\.20/);
  });
  test('forwarded: the upstream answer; NXDOMAIN relayed', { skip }, async () => {
    assert.equal((await run('+short', 'example.org', 'A')).trim(), '93.184.216.34');
    assert.match(await run('nowhere.example', 'A'), /status: NXDOMAIN/);
  });
});

describe('metrics under upstream names and labels, and the access log', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(() => h.close());

  test('a mesh answer: istio_dns_requests_total only', async () => {
    const labels = {
      request_query_type: 'a',
      request_protocol: 'udp',
      source_canonical_service: 'sleep',
      source_canonical_revision: 'v7',
    };
    const req0 = await scrape('istio_dns_requests_total', labels);
    const up0 = await scrape('istio_dns_upstream_requests_total', labels);
    await sendUdp('127.0.0.1', h.listener.udp.port, dnsQuery({ name: 'echo' }));
    assert.equal(await scrape('istio_dns_requests_total', labels), req0 + 1);
    assert.equal(await scrape('istio_dns_upstream_requests_total', labels), up0);
  });
  test('a forwarded query: requests, upstream requests and the duration histogram; a failure counted', async () => {
    const labels = {
      request_query_type: 'mx',
      request_protocol: 'tcp',
      source_canonical_service: 'sleep',
      source_canonical_revision: 'v7',
    };
    const req0 = await scrape('istio_dns_requests_total', labels);
    const up0 = await scrape('istio_dns_upstream_requests_total', labels);
    const fail0 = await scrape('istio_dns_upstream_failures_total', labels);
    const dur0 = await scrape('istio_dns_upstream_request_duration_seconds_count', labels);
    const ok = await sendTcp(
      '127.0.0.1',
      h.listener.tcp.port,
      framed(dnsQuery({ name: 'example.org', type: 'MX' })),
    );
    assert.equal(decode(ok.messages[0] as Buffer).answers?.[0]?.type, 'MX');
    h.up.script(() => ({ drop: true }));
    const failed = await sendTcp(
      '127.0.0.1',
      h.listener.tcp.port,
      framed(dnsQuery({ name: 'example.org', type: 'MX' })),
      { timeoutMs: 3000 },
    );
    h.up.script(undefined);
    assert.equal(decode(failed.messages[0] as Buffer).rcode, 'SERVFAIL');
    assert.equal(await scrape('istio_dns_requests_total', labels), req0 + 2);
    assert.equal(await scrape('istio_dns_upstream_requests_total', labels), up0 + 2);
    assert.equal(await scrape('istio_dns_upstream_failures_total', labels), fail0 + 1);
    assert.equal(await scrape('istio_dns_upstream_request_duration_seconds_count', labels), dur0 + 2);
    // Upstream's buckets.
    const exp = parseExposition(await registry.metrics());
    const les = new Set(
      exp.samples
        .filter((s) => s.name === 'istio_dns_upstream_request_duration_seconds_bucket')
        .map((s) => s.labels['le']),
    );
    assert.deepEqual([...les].sort(), ['+Inf', '0.0005', '0.001', '0.01', '0.1', '1', '5'].sort());
    assert.equal(exp.types.get('istio_dns_requests_total') ?? exp.types.get('istio_dns_requests'), 'counter');
  });
  test('one debug line per query: name, type, result, duration, source', async () => {
    h.logs.length = 0;
    await sendUdp('127.0.0.1', h.listener.udp.port, dnsQuery({ name: 'echo.backend', type: 'A' }));
    await sendUdp('127.0.0.1', h.listener.udp.port, dnsQuery({ name: 'example.org', type: 'A' }));
    const lines = h.logs.filter((l) => l['message'] === 'dns');
    assert.equal(lines.length, 2);
    assert.deepEqual(
      lines.map((l) => [
        l['level'],
        l['domain'],
        l['query'],
        l['result'],
        l['src.workload'],
        l['src.namespace'],
        l['protocol'],
      ]),
      [
        ['debug', 'echo.backend', 'A', 'success', 'sleep', 'backend', 'udp'],
        ['debug', 'example.org', 'A', 'forwarded', 'sleep', 'backend', 'udp'],
      ],
    );
    for (const l of lines) assert.equal(typeof l['durationMs'], 'number');
  });
});

describe('clients', () => {
  test('an unknown source gets SERVFAIL (as upstream) and is counted with unknown labels', async (t) => {
    const h = await harness({}, { ...mesh(), workloads: [] });
    t.after(() => h.close());
    const labels = { request_query_type: 'a', request_protocol: 'udp', source_canonical_service: 'unknown' };
    const n0 = await scrape('istio_dns_requests_total', labels);
    const r = await sendUdp(
      '127.0.0.1',
      h.listener.udp.port,
      dnsQuery({ name: 'echo.backend.svc.cluster.local' }),
    );
    assert.equal(decode(r as Buffer).rcode, 'SERVFAIL');
    assert.equal(await scrape('istio_dns_requests_total', labels), n0 + 1);
    assert.equal(h.up.queries.length, 0, 'nothing forwarded');
    await h.close();
  });
  test("unknownClients: 'forward' forwards an unknown source's queries, mesh names included", async (t) => {
    const h = await harness({ unknownClients: 'forward' }, { ...mesh(), workloads: [] });
    t.after(() => h.close());
    const r = decode(
      (await sendUdp('127.0.0.1', h.listener.udp.port, dnsQuery({ name: 'example.org' }))) as Buffer,
    );
    assert.deepEqual(
      r.answers?.map((a) => (a as { data: string }).data),
      ['93.184.216.34'],
    );
    assert.equal(h.up.count('example.org'), 1);
    await h.close();
  });
  test('a listener pinned to a workload attributes every query to it (in-pod mode), whatever the source', async (t) => {
    const h = await harness();
    t.after(() => h.close());
    const web = 'Kubernetes//Pod/frontend/web';
    const pinned = await h.proxy.listen({ host: '127.0.0.1', port: 0, client: web });
    // `echo` is short for the client's own namespace: frontend has none, so it is forwarded.
    const short = decode((await sendUdp('127.0.0.1', pinned.udp.port, dnsQuery({ name: 'echo' }))) as Buffer);
    assert.equal(short.rcode, 'NXDOMAIN');
    assert.equal(h.up.count('echo'), 1);
    const ns = decode(
      (await sendUdp('127.0.0.1', pinned.udp.port, dnsQuery({ name: 'echo.backend' }))) as Buffer,
    );
    assert.equal(ns.flag_aa, true);
    // The node-level listener still attributes 127.0.0.1 to `sleep` in backend.
    const own = decode(
      (await sendUdp('127.0.0.1', h.listener.udp.port, dnsQuery({ name: 'echo' }))) as Buffer,
    );
    assert.equal(own.flag_aa, true);
    await h.close();
  });
  test('IPv4-mapped IPv6 sources are the IPv4 client (a dual-stack listener)', async (t) => {
    const h = await harness();
    t.after(() => h.close());
    let v6: DnsListener;
    try {
      v6 = await h.proxy.listen({ host: '::', port: 0 });
    } catch {
      await h.close();
      t.skip('no IPv6 here');
      return;
    }
    const r = decode((await sendUdp('127.0.0.1', v6.udp.port, dnsQuery({ name: 'echo' }))) as Buffer);
    assert.equal(r.flag_aa, true, 'found as sleep (127.0.0.1), not as an unknown ::ffff:127.0.0.1');
    await h.close();
  });
});

describe('dump, close and listen', () => {
  test("dump: listeners and upstream's resolver configuration", async (t) => {
    const h = await harness({ clusterDomain: 'cluster.local' });
    t.after(() => h.close());
    const d = h.proxy.dump();
    assert.equal(d.dnsProxy, true);
    assert.deepEqual(d.dnsProxyAddr, [`127.0.0.1:${h.listener.udp.port}`]);
    assert.deepEqual(d.listeners, [
      { udp: `127.0.0.1:${h.listener.udp.port}`, tcp: `127.0.0.1:${h.listener.tcp.port}` },
    ]);
    assert.deepEqual(d.dnsResolverCfg.name_servers[0], {
      socket_addr: `127.0.0.1:${h.up.port}`,
      protocol: 'udp',
    });
    assert.equal(d.clusterDomain, 'cluster.local');
    assert.equal(d.limits.maxForwardsInFlight, 1024);
    assert.deepEqual(d.inFlight, { forwards: 0, tcpConnections: 0 });
    assert.doesNotThrow(() => JSON.stringify(d));
    await h.close();
  });
  test('UDP and TCP share the port; close frees it and ends forwards in flight', async (t) => {
    const h = await harness();
    t.after(() => h.close());
    assert.equal(h.listener.udp.port, h.listener.tcp.port);
    h.up.script(() => ({ drop: true }));
    const pending = sendUdp('127.0.0.1', h.listener.udp.port, dnsQuery({ name: 'slow.example' }), 300);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.proxy.dump().inFlight.forwards, 1);
    const t0 = Date.now();
    await h.close();
    assert.ok(Date.now() - t0 < 500, 'close does not wait for the forward deadline');
    assert.equal(h.proxy.dump().inFlight.forwards, 0);
    assert.equal(await pending, undefined, 'no answer after close');
    // The port is free again, for UDP and TCP.
    const s = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(h.listener.udp.port, '127.0.0.1', () => resolve());
    });
    s.close();
    const tcp = createServer();
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(h.listener.tcp.port, '127.0.0.1', () => resolve());
    });
    tcp.close();
    await assert.rejects(h.proxy.listen({ host: '127.0.0.1', port: 0 }), DnsListenError);
  });
  test('a taken port is a DnsListenError naming the address', async (t) => {
    const h = await harness();
    t.after(() => h.close());
    await assert.rejects(h.proxy.listen({ host: '127.0.0.1', port: h.listener.udp.port }), (e: unknown) => {
      assert.ok(e instanceof DnsListenError);
      assert.equal(e.code, 'ERR_ZT_DNS_LISTEN');
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${h.listener.udp.port}`));
      return true;
    });
    await h.close();
  });
  test('netns without a bind function is refused; with one, the bind gets the netns', async (t) => {
    const h = await harness();
    t.after(() => h.close());
    await assert.rejects(
      h.proxy.listen({ host: '127.0.0.1', port: 0, netns: '/var/run/netns/pod' }),
      DnsNetnsUnsupportedError,
    );
    await h.close();
    const calls: string[] = [];
    // Binds in this namespace, recording what it was asked: the shape core's native bind takes.
    const bind: DnsBind = {
      udp: (socket, o) =>
        new Promise((resolve, reject) => {
          calls.push(`udp ${o.netns} ${o.host}`);
          socket.once('error', reject);
          socket.bind({ address: o.host, port: o.port }, () => resolve());
        }),
      tcp: (server, o) =>
        new Promise((resolve, reject) => {
          calls.push(`tcp ${o.netns} ${o.host}`);
          server.once('error', reject);
          server.listen({ host: o.host, port: o.port }, () => resolve());
        }),
    };
    const h2 = await harness({ bind });
    t.after(() => h2.close());
    const l = await h2.proxy.listen({
      host: '127.0.0.1',
      port: 0,
      netns: 'pod-a',
      client: 'Kubernetes//Pod/backend/sleep',
    });
    // UDP then TCP on its port (more pairs if TCP found the port taken and it started over).
    assert.deepEqual(calls.slice(-2), ['udp pod-a 127.0.0.1', 'tcp pod-a 127.0.0.1']);
    assert.equal(
      decode((await sendUdp('127.0.0.1', l.udp.port, dnsQuery({ name: 'echo' }))) as Buffer).flag_aa,
      true,
    );
    assert.deepEqual(h2.proxy.dump().listeners[1], {
      udp: `127.0.0.1:${l.udp.port}`,
      tcp: `127.0.0.1:${l.tcp.port}`,
      netns: 'pod-a',
      client: 'Kubernetes//Pod/backend/sleep',
    });
    await l.close();
    assert.equal(h2.proxy.dump().listeners.length, 1);
    await h2.close();
  });
});
