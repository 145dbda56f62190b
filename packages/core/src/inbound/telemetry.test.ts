// What inbound connections are labelled with, as upstream labels them: the service guessed from
// the destination port or the client's Forwarded host, the source from baggage when the state does
// not know it (or when the request came through a gateway), the destination's identity always.
// Real sockets, a real HBONE client, a ProxyEngine on this thread.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Identity } from '@zt/identity';
import { TestCa } from '@zt/identity/testing';
import { type TrafficLabels, tcpConnectionsOpened, tcpSocketsOpen } from '@zt/metrics';
import { HbonePool } from '@zt/transport';
import { type EchoServer, startEchoServer } from '@zt/transport/testing';
import type { Service, Workload } from '@zt/xds';
import { makeService, makeSnapshot, makeWorkload } from '@zt/xds/testing';
import pino from 'pino';
import { baggageHeader } from '../outbound/headers.ts';
import { ProxyEngine } from '../proxy.ts';
import { testCaCertSource } from '../testing/index.ts';
import { parseBaggage } from './baggage.ts';

// 127.95.x.x: apart from the other inbound tests' addresses.
const KNOWN_CLIENT_IP = '127.95.1.10';
const UNKNOWN_CLIENT_IP = '127.95.1.20';
const SERVER_IP = '127.95.2.10';
const OFF_SERVER_IP = '127.95.2.20';

async function until(what: string, f: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function exchange(s: Duplex, text: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    s.once('data', (d: Buffer) => resolve(d.toString()));
    s.once('close', () => resolve(undefined));
    s.on('error', () => {});
    s.write(text);
  });
}

/** The label sets istio_tcp_connections_opened_total has counted that include `want`. */
async function opened(want: Partial<TrafficLabels>): Promise<Partial<TrafficLabels>[]> {
  const { values } = await tcpConnectionsOpened.get();
  return values
    .map((v) => v.labels as Partial<TrafficLabels>)
    .filter((l) => Object.entries(want).every(([k, x]) => l[k as keyof TrafficLabels] === x));
}

describe('inbound telemetry labels', () => {
  const log = pino({ level: 'silent' });
  const client = makeWorkload({
    name: 'client-5d8f-xyz',
    workloadName: 'client',
    serviceAccount: 'client',
    workloadIps: [KNOWN_CLIENT_IP],
    locality: { region: 'region-a', zone: 'zone-a1', subzone: '' },
  });
  let echo: EchoServer;
  let engine: ProxyEngine;
  let pool: HbonePool;
  let server: Workload;
  let hbonePort = 0;
  let plaintextPort = 0;
  let web: Service;
  let alias: Service;

  before(async () => {
    const ca = await TestCa.create();
    const certs = testCaCertSource(ca);
    echo = await startEchoServer(SERVER_IP);
    const port = echo.address.port;
    // Two services target the echo port; `web` is listed first, `alias` only wins when named.
    web = makeService({ name: 'web', vips: ['10.96.5.1'], ports: { 80: port } });
    alias = makeService({ name: 'alias', vips: ['10.96.5.2'], ports: { 8000: port } });
    server = makeWorkload({
      name: 'echo-6c7b-abc',
      workloadName: 'echo',
      serviceAccount: 'echo',
      workloadIps: [SERVER_IP],
      node: 'node-t',
      locality: { region: 'region-b', zone: 'zone-b2', subzone: '' },
      services: {
        'default/web.default.svc.cluster.local': { 80: port },
        'default/alias.default.svc.cluster.local': { 8000: port },
      },
    });
    engine = new ProxyEngine(
      {
        nodeName: 'node-t',
        network: '',
        trustDomain: ca.trustDomain,
        listeners: { workloads: { mode: 'loopback', inbound: 0, inboundPlaintext: 0 } },
      },
      { certs, log, ops: { originalDst: () => ({ address: SERVER_IP, port }) } },
    );
    await engine.setState(makeSnapshot(1, { workloads: [client, server], services: [web, alias] }));
    const bound = await engine.start();
    hbonePort = bound.find((b) => b.set === server.uid && b.kind === 'inbound')?.port ?? 0;
    plaintextPort = bound.find((b) => b.set === server.uid && b.kind === 'inboundPlaintext')?.port ?? 0;
    assert.ok(hbonePort > 0 && plaintextPort > 0);
    pool = new HbonePool({ certs });
  });

  after(async () => {
    await pool?.close();
    await engine?.close();
    await echo?.close();
  });

  async function hbone(from: string, sa: string, headers: Record<string, string> = {}): Promise<void> {
    const s = await pool.open({
      source: Identity.parse(`spiffe://cluster.local/ns/default/sa/${sa}`),
      destinationIdentities: [Identity.parse('spiffe://cluster.local/ns/default/sa/echo')],
      address: { address: SERVER_IP, port: hbonePort },
      authority: `${SERVER_IP}:${echo.address.port}`,
      localAddress: from,
      headers,
    });
    assert.equal(await exchange(s, 'ping'), 'ping');
    s.end();
    await until('the connection to close', () => engine.liveConnections === 0);
  }

  test('a known source: its workload name (not the pod name), locality, the guessed service', async () => {
    await hbone(KNOWN_CLIENT_IP, 'client', {
      baggage: 'k8s.deployment.name=liar,k8s.namespace.name=elsewhere',
    });
    const got = await opened({ reporter: 'destination', source_workload: 'client' });
    assert.equal(got.length, 1, 'the source workload, its baggage ignored');
    assert.deepEqual(got[0], {
      ...got[0],
      source_workload_namespace: 'default',
      source_principal: 'spiffe://cluster.local/ns/default/sa/client',
      source_region: 'region-a',
      source_zone: 'zone-a1',
      destination_workload: 'echo',
      destination_principal: 'spiffe://cluster.local/ns/default/sa/echo',
      destination_region: 'region-b',
      destination_zone: 'zone-b2',
      destination_service: 'web.default.svc.cluster.local',
      destination_service_name: 'web',
      destination_service_namespace: 'default',
    });
  });

  test('the service the client names in Forwarded wins among the destination services', async () => {
    await hbone(KNOWN_CLIENT_IP, 'client', {
      forwarded: `for="${KNOWN_CLIENT_IP}:1";host=alias.default.svc.cluster.local`,
    });
    assert.equal((await opened({ destination_service_name: 'alias', source_workload: 'client' })).length, 1);
  });

  test('an unknown source is labelled from its baggage', async () => {
    await hbone(UNKNOWN_CLIENT_IP, 'remote', {
      baggage:
        'k8s.cluster.name=east,k8s.namespace.name=shop,k8s.deployment.name=cart,service.name=cart-svc,service.version=v7,cloud.region=r9,cloud.availability_zone=z9',
    });
    const got = await opened({ source_workload: 'cart' });
    assert.equal(got.length, 1);
    assert.deepEqual(got[0], {
      ...got[0],
      source_canonical_service: 'cart-svc',
      source_canonical_revision: 'v7',
      source_workload_namespace: 'shop',
      source_app: 'cart',
      source_version: 'v7',
      source_cluster: 'east',
      source_region: 'r9',
      source_zone: 'z9',
      source_principal: 'spiffe://cluster.local/ns/default/sa/remote',
      destination_service_name: 'web',
    });
  });

  test("the CONNECT's 200 carries the destination workload's baggage (ENABLE_RESPONSE_BAGGAGE)", async () => {
    const s = await pool.open({
      source: Identity.parse('spiffe://cluster.local/ns/default/sa/client'),
      destinationIdentities: [Identity.parse('spiffe://cluster.local/ns/default/sa/echo')],
      address: { address: SERVER_IP, port: hbonePort },
      authority: `${SERVER_IP}:${echo.address.port}`,
      localAddress: KNOWN_CLIENT_IP,
    });
    try {
      assert.equal(s.responseHeaders.baggage, baggageHeader(server));
      const members = String(s.responseHeaders.baggage).split(',');
      for (const m of ['k8s.namespace.name=default', 'k8s.deployment.name=echo', 'cloud.region=region-b'])
        assert.ok(members.includes(m), `${m} in ${s.responseHeaders.baggage}`);
      assert.deepEqual(parseBaggage(s.responseHeaders.baggage), {
        ...parseBaggage(s.responseHeaders.baggage),
        namespace: 'default',
        workloadName: 'echo',
        region: 'region-b',
        zone: 'zone-b2',
      });
    } finally {
      s.destroy();
      await until('the connection to close', () => engine.liveConnections === 0);
    }
  });

  test('through a gateway (another x-forwarded-network) the source is not looked up by address', async () => {
    await hbone(KNOWN_CLIENT_IP, 'client', {
      'x-forwarded-network': 'network-2',
      baggage: 'k8s.deployment.name=far-away,k8s.namespace.name=remote-ns',
    });
    const got = await opened({ source_workload: 'far-away' });
    assert.equal(got.length, 1);
    assert.equal(got[0]?.source_workload_namespace, 'remote-ns');
    assert.equal(got[0]?.source_region, 'unknown', 'not the known workload at that address');
  });

  test('istio_tcp_sockets_open counts inbound sockets (reporter destination) while they are open', async () => {
    const sockets = async () =>
      (await tcpSocketsOpen.get()).values.find((v) => v.labels.reporter === 'destination')?.value ?? 0;
    const base = await sockets();
    const s: Socket = connect({ host: SERVER_IP, port: plaintextPort, localAddress: KNOWN_CLIENT_IP });
    assert.equal(await exchange(s, 'ping'), 'ping');
    assert.equal(await sockets(), base + 1);
    s.end();
    await until('the socket to be closed', async () => (await sockets()) === base);
  });

  test('plaintext inbound: the guessed service and the destination identity, no source principal', async () => {
    const s: Socket = connect({ host: SERVER_IP, port: plaintextPort, localAddress: KNOWN_CLIENT_IP });
    assert.equal(await exchange(s, 'ping'), 'ping');
    s.end();
    await until('the connection to close', () => engine.liveConnections === 0);
    const got = await opened({ connection_security_policy: 'unknown', source_workload: 'client' });
    assert.equal(got.length, 1);
    assert.equal(got[0]?.destination_service_name, 'web');
    assert.equal(got[0]?.destination_principal, 'spiffe://cluster.local/ns/default/sa/echo');
    assert.equal(got[0]?.source_principal, 'unknown');
  });
});

describe('ENABLE_RESPONSE_BAGGAGE=false', () => {
  test('no baggage on the 200, and a request baggage does not label an unknown source', async () => {
    const ca = await TestCa.create();
    const certs = testCaCertSource(ca);
    const echo = await startEchoServer(OFF_SERVER_IP);
    const server = makeWorkload({
      name: 'quiet-1',
      workloadName: 'quiet',
      serviceAccount: 'quiet',
      workloadIps: [OFF_SERVER_IP],
      node: 'node-q',
      locality: { region: 'region-q', zone: 'zone-q', subzone: '' },
    });
    const engine = new ProxyEngine(
      {
        nodeName: 'node-q',
        network: '',
        trustDomain: ca.trustDomain,
        responseBaggage: false,
        listeners: { workloads: { mode: 'loopback', inbound: 0, inboundPlaintext: 0 } },
      },
      { certs, log: pino({ level: 'silent' }), ops: { originalDst: () => echo.address } },
    );
    const pool = new HbonePool({ certs });
    try {
      await engine.setState(makeSnapshot(1, { workloads: [server] }));
      const bound = await engine.start();
      const port = bound.find((b) => b.set === server.uid && b.kind === 'inbound')?.port ?? 0;
      const s = await pool.open({
        source: Identity.parse('spiffe://cluster.local/ns/default/sa/stranger'),
        destinationIdentities: [Identity.parse('spiffe://cluster.local/ns/default/sa/quiet')],
        address: { address: OFF_SERVER_IP, port },
        authority: `${OFF_SERVER_IP}:${echo.address.port}`,
        localAddress: UNKNOWN_CLIENT_IP,
        headers: { baggage: 'k8s.deployment.name=not-trusted-here,k8s.namespace.name=x' },
      });
      assert.equal(s.responseHeaders.baggage, undefined);
      assert.equal(await exchange(s, 'ping'), 'ping');
      s.end();
      await until('the connection to close', () => engine.liveConnections === 0);
      assert.deepEqual(await opened({ source_workload: 'not-trusted-here' }), []);
      assert.equal((await opened({ destination_workload: 'quiet', reporter: 'destination' })).length, 1);
    } finally {
      await pool.close();
      await engine.close();
      await echo.close();
    }
  });
});
