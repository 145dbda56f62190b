// Upstream's inbound HBONE edge cases, with real sockets: the waypoint "sandwich" (a waypoint's
// tunnel names the workload it serves, not the waypoint), the PROXY protocol application tunnel,
// and tunnels to zt's own ports.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Identity } from '@zt/identity';
import { TestCa } from '@zt/identity/testing';
import { registry } from '@zt/metrics';
import { HboneConnectError, HbonePool } from '@zt/transport';
import { type EchoServer, startEchoServer } from '@zt/transport/testing';
import type { GatewayAddress } from '@zt/xds';
import { makeSnapshot, makeWorkload } from '@zt/xds/testing';
import pino from 'pino';
import { ProxyEngine } from '../proxy.ts';
import { testCaCertSource } from '../testing/index.ts';

// 127.94.x.x: apart from the other inbound tests' addresses.
const CLIENT_IP = '127.94.1.10';
const WAYPOINT_IP = '127.94.2.10';
const PROXY_WAYPOINT_IP = '127.94.2.20';
const TARGET_IP = '127.94.3.10';
const PROXY_TARGET_IP = '127.94.3.20';
const OTHER_IP = '127.94.4.10';
const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/client';

const waypointAt = (address: string): GatewayAddress => ({
  destination: { kind: 'address', network: '', address },
  hboneMtlsPort: 15008,
});

function exchange(s: Duplex, text: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    s.once('data', (d: Buffer) => resolve(d.toString()));
    s.once('close', () => resolve(undefined));
    s.on('error', () => {});
    s.write(text);
  });
}

async function selfCalls(): Promise<number> {
  const m = registry.getSingleMetric('zt_connections_early_denied_total');
  const { values } = (await m?.get()) ?? { values: [] };
  return values.filter((v) => v.labels.reason === 'self-call').reduce((n, v) => n + v.value, 0);
}

describe('inbound HBONE edge cases', () => {
  let echo: EchoServer;
  let proxyApp: Server;
  /** What the PROXY-tunnel application received, per connection. */
  const received: Buffer[] = [];
  let engine: ProxyEngine;
  let pool: HbonePool;
  const ports = new Map<string, number>();

  before(async () => {
    const ca = await TestCa.create();
    const certs = testCaCertSource(ca);
    echo = await startEchoServer(WAYPOINT_IP);
    // The PROXY application tunnel: records what arrives, answers once the header and data are in.
    proxyApp = createServer((s: Socket) => {
      let got = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.includes('ping')) {
          received.push(got);
          s.end('pong');
        }
      });
    });
    await new Promise<void>((r) => proxyApp.listen(0, PROXY_WAYPOINT_IP, r));
    const appPort = (proxyApp.address() as { port: number }).port;
    const waypoint = makeWorkload({
      name: 'waypoint',
      serviceAccount: 'waypoint',
      workloadIps: [WAYPOINT_IP],
      node: 'node-e',
    });
    const proxyWaypoint = makeWorkload({
      name: 'proxy-waypoint',
      serviceAccount: 'waypoint',
      workloadIps: [PROXY_WAYPOINT_IP],
      node: 'node-e',
      applicationTunnel: { protocol: 'PROXY', port: appPort },
    });
    const workloads = [
      makeWorkload({ name: 'client', serviceAccount: 'client', workloadIps: [CLIENT_IP] }),
      waypoint,
      proxyWaypoint,
      makeWorkload({ name: 'target', workloadIps: [TARGET_IP], waypoint: waypointAt(WAYPOINT_IP) }),
      makeWorkload({
        name: 'proxy-target',
        workloadIps: [PROXY_TARGET_IP],
        waypoint: waypointAt(PROXY_WAYPOINT_IP),
      }),
      makeWorkload({ name: 'other', workloadIps: [OTHER_IP] }),
    ];
    engine = new ProxyEngine(
      {
        nodeName: 'node-e',
        network: '',
        trustDomain: ca.trustDomain,
        listeners: { workloads: { mode: 'loopback', inbound: 0, inboundPlaintext: 0 } },
      },
      { certs, log: pino({ level: 'silent' }) },
    );
    await engine.setState(makeSnapshot(1, { workloads }));
    for (const b of await engine.start()) if (b.kind === 'inbound') ports.set(b.set, b.port);
    ports.set(WAYPOINT_IP, ports.get(waypoint.uid) ?? 0);
    ports.set(PROXY_WAYPOINT_IP, ports.get(proxyWaypoint.uid) ?? 0);
    pool = new HbonePool({ certs });
  });

  after(async () => {
    await pool?.close();
    await engine?.close();
    await echo?.close();
    proxyApp?.close();
  });

  /** A tunnel that arrives at `at` and names `authority`; the status when it is refused. */
  async function tunnel(at: string, authority: string): Promise<Duplex | number> {
    try {
      return await pool.open({
        source: Identity.parse(CLIENT_ID),
        destinationIdentities: [Identity.parse('spiffe://cluster.local/ns/default/sa/waypoint')],
        address: { address: at, port: ports.get(at) ?? 0 },
        authority,
        localAddress: CLIENT_IP,
      });
    } catch (e) {
      assert.ok(e instanceof HboneConnectError, String(e));
      return e.status;
    }
  }

  test('sandwich: a tunnel to the waypoint naming a workload it serves reaches the waypoint', async () => {
    const s = await tunnel(WAYPOINT_IP, `${TARGET_IP}:${echo.address.port}`);
    assert.ok(typeof s !== 'number', `answered ${String(s)}, not 200`);
    assert.equal(await exchange(s, 'ping'), 'ping', 'the bytes reach the waypoint on the tunnel port');
    s.end();
  });

  test('a tunnel naming a workload the waypoint does not serve is a bad request (400)', async () => {
    assert.equal(await tunnel(WAYPOINT_IP, `${OTHER_IP}:${echo.address.port}`), 400);
  });

  test('PROXY application tunnel: the header names the client and the HBONE target, with its identity', async () => {
    const s = await tunnel(PROXY_WAYPOINT_IP, `${PROXY_TARGET_IP}:80`);
    assert.ok(typeof s !== 'number', `answered ${String(s)}, not 200`);
    assert.equal(await exchange(s, 'ping'), 'pong');
    s.end();
    const got = received.at(-1);
    assert.ok(got);
    assert.equal(got.subarray(0, 12).toString('hex'), '0d0a0d0a000d0a515549540a', 'PROXY v2 signature');
    assert.equal(got[13], 0x11);
    assert.deepEqual([...got.subarray(16, 20)], CLIENT_IP.split('.').map(Number), 'source: the client');
    assert.deepEqual(
      [...got.subarray(20, 24)],
      PROXY_TARGET_IP.split('.').map(Number),
      'destination: the target',
    );
    assert.equal(got.readUInt16BE(26), 80);
    assert.equal(got[28], 0xd0);
    const idEnd = 31 + got.readUInt16BE(29);
    assert.equal(got.subarray(31, idEnd).toString(), CLIENT_ID);
    assert.equal(got.subarray(idEnd).toString(), 'ping', 'then the client bytes');
  });

  test("self-call: a tunnel to one of zt's own ports is refused (503) and counted", async () => {
    const before = await selfCalls();
    for (const port of [15008, 15006, 15001]) {
      assert.equal(await tunnel(WAYPOINT_IP, `${WAYPOINT_IP}:${port}`), 503, `port ${port}`);
    }
    assert.equal((await selfCalls()) - before, 3);
  });
});
