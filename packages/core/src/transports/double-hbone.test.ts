import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { TestCa } from '@zt/identity/testing';
import { Logging } from '@zt/log';
import { captureLog } from '@zt/log/testing';
import { type EchoServer, startEchoServer } from '@zt/transport/testing';
import type { Authorization, GatewayAddress } from '@zt/xds';
import { makePolicy, makeService, makeSnapshot, makeWorkload } from '@zt/xds/testing';
import { DataPlane } from '../dataplane.ts';
import type { BoundListener } from '../options.ts';
import { testCaCertSource } from '../testing/certs.ts';
import { socksDial } from '../testing/mesh.ts';

// Two networks on loopback, each with its own zt, and a zt acting as network 2's east-west
// gateway. A pod on net1 reaches a service whose only endpoint is on net2: the outer HBONE goes
// to the gateway, the inner HBONE (the destination's mTLS) rides inside it. Between the gateway
// and the destination's zt, a tap records what the gateway forwards.

const O = 100 + Math.floor(Math.random() * 150);
const ip = (n: number, h: number) => `127.${O}.${n}.${h}`;
const CLIENT = ip(1, 10);
const ECHO = ip(2, 10);
const ECHO_QUIET = ip(2, 11);
const GATEWAY = ip(5, 1);
const VIP = ip(3, 10);
const VIP_QUIET = ip(3, 11);
const HOST = 'echo.default.svc.cluster.local';
const HOST_QUIET = 'quiet.default.svc.cluster.local';
const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/client';

/** Forwards `host:port` to `host:to`, keeping every byte that passes towards `to`. */
async function startTap(host: string, to: number): Promise<{ server: Server; port: number; seen: Buffer[] }> {
  const seen: Buffer[] = [];
  const server = createServer({ allowHalfOpen: true }, (c) => {
    const up = connect({ host, port: to, allowHalfOpen: true });
    c.on('data', (d: Buffer) => seen.push(Buffer.from(d)));
    c.pipe(up);
    up.pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
  });
  server.listen(0, host);
  await once(server, 'listening');
  const a = server.address();
  return { server, port: typeof a === 'object' && a ? a.port : 0, seen };
}

/** The labels of each series of `metric` in a Prometheus text exposition. */
function seriesOf(text: string, metric: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${metric}\\{(.*)\\} (\\S+)$`).exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[1] as string).matchAll(/(\w+)="([^"]*)"/g)) labels[k as string] = v as string;
    out.push({ labels, value: Number(m[2]) });
  }
  return out;
}

describe('double HBONE through an east-west gateway (two networks)', () => {
  const ca = TestCa.create();
  const logA = captureLog();
  let echo: EchoServer;
  let tap: Awaited<ReturnType<typeof startTap>>;
  let a: DataPlane;
  let gw: DataPlane;
  let b: DataPlane;
  /** The destination zt of the quiet service: ENABLE_RESPONSE_BAGGAGE=false, its 200s say nothing. */
  let bQuiet: DataPlane;
  let echoQuiet: EchoServer;
  let socks: BoundListener;
  let version = 1;

  const gatewayRef: GatewayAddress = {
    destination: { kind: 'address', network: 'net2', address: GATEWAY },
    hboneMtlsPort: 15008,
  };
  const client = makeWorkload({
    name: 'client',
    serviceAccount: 'client',
    workloadIps: [CLIENT],
    node: 'node-a',
    network: 'net1',
  });
  const eastwest = makeWorkload({
    name: 'eastwest',
    namespace: 'istio-system',
    serviceAccount: 'eastwest',
    workloadIps: [GATEWAY],
    node: 'node-gw',
    network: 'net2',
  });
  let svc: ReturnType<typeof makeService>;
  let server: ReturnType<typeof makeWorkload>;
  let svcQuiet: ReturnType<typeof makeService>;
  let serverQuiet: ReturnType<typeof makeWorkload>;
  const snapshot = (policies: Authorization[] = [], over: { gateway?: GatewayAddress } = {}) =>
    makeSnapshot(version++, {
      workloads: [
        client,
        eastwest,
        { ...server, networkGateway: over.gateway ?? gatewayRef },
        { ...serverQuiet, networkGateway: gatewayRef },
      ],
      services: [svc, svcQuiet],
      policies,
    });
  const setAll = (policies: Authorization[] = [], over: { gateway?: GatewayAddress } = {}) => {
    const s = snapshot(policies, over);
    return Promise.all([a.setState(s), gw.setState(s), b.setState(s), bQuiet.setState(s)]);
  };

  before(async () => {
    echo = await startEchoServer(ECHO);
    echoQuiet = await startEchoServer(ECHO_QUIET);
    server = makeWorkload({
      name: 'echo',
      serviceAccount: 'echo',
      // Labels unlike the fixture's defaults (and the gateway's), so that the client's metrics
      // show where each destination label came from.
      workloadName: 'echo-deploy',
      canonicalName: 'echo-app',
      canonicalRevision: 'v2',
      clusterId: 'cluster-2',
      locality: { region: 'region-2', zone: 'zone-2', subzone: '' },
      workloadIps: [ECHO],
      node: 'node-b',
      network: 'net2',
      services: { [`default/${HOST}`]: { 80: echo.address.port } },
    });
    svc = makeService({
      name: 'echo',
      vips: [{ network: 'net1', address: VIP }],
      ports: { 80: echo.address.port },
    });
    serverQuiet = makeWorkload({
      name: 'quiet',
      serviceAccount: 'quiet',
      workloadIps: [ECHO_QUIET],
      node: 'node-b-quiet',
      network: 'net2',
      services: { [`default/${HOST_QUIET}`]: { 80: echoQuiet.address.port } },
    });
    svcQuiet = makeService({
      name: 'quiet',
      vips: [{ network: 'net1', address: VIP_QUIET }],
      ports: { 80: echoQuiet.address.port },
    });
    const certs = testCaCertSource(await ca);
    const common = { workers: 0, trustDomain: 'cluster.local', certs };
    a = new DataPlane({
      ...common,
      nodeName: 'node-a',
      network: 'net1',
      logging: new Logging({ format: 'json', destination: logA, filter: 'info' }),
      listeners: { workloads: { mode: 'loopback' } },
      socks5: { enabled: true, address: '127.0.0.1', port: 0 },
    });
    b = new DataPlane({
      ...common,
      nodeName: 'node-b',
      network: 'net2',
      logging: new Logging({ filter: 'off' }),
      listeners: { workloads: { mode: 'loopback' } },
    });
    // The gateway reaches endpoints on the peers' HBONE port: here the tap in front of node B's.
    tap = await startTap(ECHO, 15008);
    bQuiet = new DataPlane({
      ...common,
      nodeName: 'node-b-quiet',
      network: 'net2',
      responseBaggage: false,
      logging: new Logging({ filter: 'off' }),
      // Where the gateway reaches endpoints: its HBONE port, the tap's.
      listeners: { workloads: { mode: 'loopback', inbound: tap.port } },
    });
    gw = new DataPlane({
      ...common,
      nodeName: 'node-gw',
      network: 'net2',
      hbonePort: tap.port,
      logging: new Logging({ filter: 'off' }),
      listeners: { workloads: { mode: 'loopback' } },
    });
    await setAll();
    const s = (await a.start()).find((l) => l.kind === 'socks5');
    assert.ok(s);
    socks = s;
    await Promise.all([gw.start(), b.start(), bQuiet.start()]);
  });
  after(async () => {
    await Promise.all([a?.close(), gw?.close(), b?.close(), bQuiet?.close()]);
    await Promise.all([echo?.close(), echoQuiet?.close()]);
    tap?.server.close();
  });

  /** Writes `payload`, half-closes, and reads until the close ('' when refused). */
  async function roundTrip(
    payload: string,
    hold?: (s: Socket) => Promise<void>,
    vip: string = VIP,
  ): Promise<string> {
    const s = await socksDial(socks, CLIENT, { address: vip, port: 80 });
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', () => {});
    s.write(payload);
    if (hold) await hold(s);
    s.end();
    await once(s, 'close');
    return Buffer.concat(chunks).toString();
  }

  test('a pod on net1 reaches a service with endpoints only on net2; the gateway forwards TLS it cannot read', async () => {
    const secret = `the inner stream ${Math.random()}`;
    tap.seen.length = 0;
    const got = await roundTrip(secret, async () => {
      // While the connection is open: the destination saw the client's identity, through the gateway.
      for (let i = 0; i < 100; i++) {
        if ((await b.connections()).length && (await gw.connections()).length) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const [atB] = await b.connections();
      assert.equal(atB?.direction, 'inbound');
      assert.equal(atB?.src.identity, CLIENT_ID);
      assert.equal(atB?.src.workload, undefined, 'the source is not looked up by the gateway address');
      assert.equal(atB?.dst.workload, 'default/echo');
      const [atGw] = await gw.connections();
      assert.equal(atGw?.src.identity, CLIENT_ID);
      assert.equal(atGw?.dst.workload, 'default/echo');
      assert.equal(atGw?.dst.service, HOST);
      const [atA] = await a.connections();
      assert.equal(atA?.protocol, 'HBONE');
      assert.equal(atA?.dst.workload, 'istio-system/eastwest');
    });
    assert.equal(got, secret);
    const forwarded = Buffer.concat(tap.seen);
    assert.ok(forwarded.length > 0, 'the gateway forwarded the inner connection');
    assert.equal(forwarded[0], 0x16, 'a TLS handshake record starts what the gateway forwards');
    assert.equal(forwarded.includes(secret), false, 'the payload never crosses the gateway in the clear');
    assert.equal(forwarded.includes(HOST), false, 'nor does the inner CONNECT');
    // The access log says which gateway carried the connection, and names the destination as
    // the destination's response baggage and mTLS identity do (upstream's derived destination).
    for (let i = 0; i < 100 && !logA.lines().some((l) => l.scope === 'access'); i++)
      await new Promise((r) => setTimeout(r, 10));
    const line = logA.lines().find((l) => l.scope === 'access');
    assert.equal(line?.['dst.addr'], `${GATEWAY}:15008`);
    assert.equal(line?.['dst.workload'], 'echo-deploy');
    assert.equal(line?.['dst.namespace'], 'default');
    assert.equal(line?.['dst.identity'], 'spiffe://cluster.local/ns/default/sa/echo');
    assert.equal(line?.['dst.hbone_addr'], `${HOST}:80`);
    assert.equal(line?.['src.identity'], CLIENT_ID);
    // One open, counted once the destination answered, with the destination's labels from its
    // baggage: none of the gateway's (an open counted before the transport connected has them).
    const opened = seriesOf(await a.metricsText(), 'istio_tcp_connections_opened_total').filter(
      (x) => x.labels.reporter === 'source',
    );
    assert.equal(opened.length, 1, JSON.stringify(opened));
    const [o] = opened;
    assert.equal(o?.value, 1);
    assert.deepEqual(
      {
        workload: o?.labels.destination_workload,
        namespace: o?.labels.destination_workload_namespace,
        canonicalService: o?.labels.destination_canonical_service,
        canonicalRevision: o?.labels.destination_canonical_revision,
        app: o?.labels.destination_app,
        version: o?.labels.destination_version,
        cluster: o?.labels.destination_cluster,
        region: o?.labels.destination_region,
        zone: o?.labels.destination_zone,
        principal: o?.labels.destination_principal,
        service: o?.labels.destination_service,
      },
      {
        workload: 'echo-deploy',
        namespace: 'default',
        canonicalService: 'echo-app',
        canonicalRevision: 'v2',
        // Upstream's destination_app from baggage is the workload name, not service.name.
        app: 'echo-deploy',
        version: 'v2',
        cluster: 'cluster-2',
        region: 'region-2',
        zone: 'zone-2',
        principal: 'spiffe://cluster.local/ns/default/sa/echo',
        service: HOST,
      },
    );
    // Both tunnels end with the connection: nothing stays open at the gateway or the destination.
    const open = async () => (await gw.connections()).length + (await b.connections()).length;
    for (let i = 0; i < 200 && (await open()) > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await open(), 0);
  });

  test("authorization at the destination applies to the client's identity; a denial is a refusal", async () => {
    const allowClient = makePolicy({ name: 'allow-client' }, [
      { principals: [{ kind: 'exact', value: 'cluster.local/ns/default/sa/client' }] },
    ]);
    await setAll([allowClient]);
    assert.equal(await roundTrip('allowed'), 'allowed');
    const denyClient = { ...allowClient, name: 'deny-client', action: 'Deny' as const };
    await setAll([denyClient]);
    assert.equal(await roundTrip('denied'), '');
    for (let i = 0; i < 100; i++) {
      if (/response_flags="DENY"/.test(await a.metricsText())) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.match(
      await a.metricsText(),
      /istio_tcp_connections_failed_total\{[^}]*reporter="source"[^}]*destination_workload="eastwest"[^}]*response_flags="DENY"[^}]*\} 1/,
    );
    await setAll();
  });

  test('a destination that sends no baggage: its workload labels read unknown, its principal is the mTLS identity (upstream)', async () => {
    const before = logA.lines().length;
    assert.equal(await roundTrip('quiet', undefined, VIP_QUIET), 'quiet');
    const done = () =>
      logA
        .lines()
        .slice(before)
        .find((l) => l.scope === 'access');
    for (let i = 0; i < 100 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
    const line = done();
    assert.equal(line?.['dst.addr'], `${GATEWAY}:15008`);
    assert.equal(line?.['dst.workload'], undefined);
    assert.equal(line?.['dst.namespace'], undefined);
    assert.equal(line?.['dst.identity'], 'spiffe://cluster.local/ns/default/sa/quiet');
    const opened = seriesOf(await a.metricsText(), 'istio_tcp_connections_opened_total').filter(
      (x) => x.labels.reporter === 'source' && x.labels.destination_service === HOST_QUIET,
    );
    assert.equal(opened.length, 1, JSON.stringify(opened));
    const l = opened[0]?.labels ?? {};
    for (const k of [
      'destination_workload',
      'destination_workload_namespace',
      'destination_canonical_service',
      'destination_canonical_revision',
      'destination_cluster',
    ])
      assert.equal(l[k], 'unknown', k);
    assert.equal(l.destination_principal, 'spiffe://cluster.local/ns/default/sa/quiet');
    assert.equal(opened[0]?.value, 1);
  });

  test('a gateway missing from the state is a clear, counted refusal', async () => {
    await setAll([], {
      gateway: {
        destination: { kind: 'address', network: 'net2', address: ip(5, 99) },
        hboneMtlsPort: 15008,
      },
    });
    assert.equal(await roundTrip('nowhere'), '');
    const text = await a.metricsText();
    assert.match(text, /zt_connections_early_denied_total\{[^}]*reason="unknown-network-gateway"[^}]*\} 1/);
    const line = logA.lines().findLast((l) => l.scope === 'access');
    assert.match(
      String(line?.error),
      /network gateway net2\/127\.\d+\.5\.99 of network "net2".*not in the state/,
    );
    await setAll();
  });
});
