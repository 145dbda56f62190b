import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { TestCa } from '@zt/identity/testing';
import { Logging } from '@zt/log';
import { captureLog } from '@zt/log/testing';
import { makeService, makeSnapshot, makeWorkload } from '@zt/xds/testing';
import { DataPlane } from '../dataplane.ts';
import type { BoundListener } from '../options.ts';
import { testCaCertSource } from '../testing/certs.ts';
import { socksDial } from '../testing/mesh.ts';
import { TransportRegistry, transports } from './registry.ts';
import type { CarriedRoute, Transport } from './transport.ts';

const wl = makeWorkload({ name: 'w', workloadIps: ['10.0.0.9'] });
const svc = makeService({ name: 's', vips: ['10.96.0.9'] });
const routes: Record<CarriedRoute['kind'], CarriedRoute> = {
  tcp: { kind: 'tcp', connect: { address: '10.0.0.9', port: 80 }, workload: wl },
  passthrough: { kind: 'passthrough', connect: { address: '1.2.3.4', port: 443 } },
  hbone: {
    kind: 'hbone',
    via: 'workload',
    connect: { address: '10.0.0.9', port: 15008 },
    authority: { address: '10.0.0.9', port: 80 },
    expectedIdentities: [],
    workload: wl,
  },
  'double-hbone': {
    kind: 'double-hbone',
    connect: { address: '10.1.0.1', port: 15008 },
    authority: { hostname: svc.hostname, port: 80 },
    gatewayIdentities: [],
    expectedIdentities: [],
    workload: wl,
    remote: wl,
    service: svc,
  },
};
const fake = (name: string, accepts?: Transport['accepts']): Transport => ({
  name,
  mtls: false,
  ...(accepts ? { accepts } : {}),
  open: () => Promise.reject(new Error('not for opening')),
});

describe('TransportRegistry', () => {
  test('the built-ins carry each route kind by name: tcp (and passthrough), hbone, double-hbone', () => {
    assert.deepEqual(transports.names().sort(), ['double-hbone', 'hbone', 'tcp']);
    assert.equal(transports.select(routes.tcp)?.name, 'tcp');
    assert.equal(transports.select(routes.passthrough)?.name, 'tcp');
    assert.equal(transports.select(routes.hbone)?.name, 'hbone');
    assert.equal(transports.select(routes['double-hbone'])?.name, 'double-hbone');
    assert.equal(transports.get('hbone')?.mtls, true);
    assert.equal(transports.get('tcp')?.mtls, false);
  });
  test('a transport of the same name replaces the one for its kind; unregistering leaves none', () => {
    const reg = new TransportRegistry([fake('tcp')]);
    const mine = fake('tcp');
    const off = reg.register(mine);
    assert.equal(reg.select(routes.passthrough), mine);
    off();
    assert.equal(reg.select(routes.passthrough), undefined);
    assert.equal(reg.select(routes.hbone), undefined);
  });
  test('claiming transports are asked newest first, before the kind; off() takes one out', () => {
    const reg = new TransportRegistry([fake('tcp')]);
    const to443 = fake('to-443', (r) => r.connect.port === 443);
    const anyTcp = fake('any-tcp', (r) => r.kind === 'tcp');
    const off443 = reg.register(to443);
    const offAny = reg.register(anyTcp);
    assert.equal(reg.select(routes.passthrough)?.name, 'to-443');
    assert.equal(reg.select(routes.tcp)?.name, 'any-tcp');
    offAny();
    assert.equal(reg.select(routes.tcp)?.name, 'tcp');
    off443();
    assert.equal(reg.select(routes.passthrough)?.name, 'tcp');
    // Replacing a claiming transport by name drops the old one's claim.
    reg.register(to443);
    reg.register(fake('to-443'));
    assert.equal(reg.select(routes.passthrough)?.name, 'tcp');
  });
});

// A program importing @zt/core registers a transport; the running proxy carries matching routes
// over it without any change to the flows, with the same metrics and access line as the built-in.
describe('a registered transport carries connections of a running proxy', () => {
  const O = 100 + Math.floor(Math.random() * 150);
  const ip = (n: number, h: number) => `127.${O}.${n}.${h}`;
  const CLIENT = ip(10, 1);
  const sink = captureLog();
  let dp: DataPlane;
  let socks: BoundListener;
  let direct: Server;
  let viaRelay: Server;
  let port = 0;
  let relayPort = 0;

  const serve = async (host: string, reply: string): Promise<[Server, number]> => {
    const s = createServer((c) => {
      c.on('error', () => c.destroy());
      c.end(reply);
    });
    s.listen(0, host);
    await once(s, 'listening');
    const a = s.address();
    return [s, typeof a === 'object' && a ? a.port : 0];
  };

  before(async () => {
    [direct, port] = await serve(ip(20, 1), 'direct');
    // Same length as 'direct': the access lines compare byte counts too.
    [viaRelay, relayPort] = await serve(ip(30, 1), 'relays');
    dp = new DataPlane({
      workers: 0,
      nodeName: 'node-a',
      network: '',
      trustDomain: 'cluster.local',
      certs: testCaCertSource(await TestCa.create()),
      logging: new Logging({ format: 'json', destination: sink, filter: 'info' }),
      listeners: {},
      socks5: { enabled: true, address: '127.0.0.1', port: 0 },
    });
    const client = makeWorkload({ name: 'client', workloadIps: [CLIENT], node: 'node-a' });
    const legacy = makeWorkload({
      name: 'legacy',
      workloadIps: [ip(20, 1)],
      protocol: 'TCP',
      node: 'node-b',
    });
    await dp.setState(makeSnapshot(1, { workloads: [client, legacy] }));
    const s = (await dp.start()).find((l) => l.kind === 'socks5');
    assert.ok(s);
    socks = s;
  });
  after(async () => {
    await dp?.close();
    direct?.close();
    viaRelay?.close();
  });

  async function answer(): Promise<string> {
    const s = await socksDial(socks, CLIENT, { address: ip(20, 1), port });
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => s.end());
    await once(s, 'close');
    return Buffer.concat(chunks).toString();
  }

  const accessLines = () =>
    sink
      .lines()
      .filter((l) => l.scope === 'access' && l['dst.workload'] === 'legacy')
      .map(({ time: _t, duration: _d, 'src.addr': _s, ...rest }) => rest);

  test('routes it accepts go over it; the access line and labels match the built-in', async () => {
    assert.equal(await answer(), 'direct');
    const seen: CarriedRoute[] = [];
    // The kind of transport a program would add: here it reaches the destination through a relay.
    const relayed: Transport = {
      name: 'via-relay',
      mtls: false,
      accepts: (r) => r.kind === 'tcp' && r.workload.name === 'legacy',
      open(req) {
        seen.push(req.route);
        const s = connect({ host: ip(30, 1), port: relayPort, allowHalfOpen: true });
        return once(s, 'connect').then(() => s);
      },
    };
    const off = transports.register(relayed);
    try {
      assert.equal(await answer(), 'relays');
    } finally {
      off();
    }
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.kind, 'tcp');
    assert.equal(await answer(), 'direct');
    // The line is written when zt's side finishes, which may be just after the client saw the close.
    for (let i = 0; i < 100 && accessLines().length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    const lines = accessLines();
    assert.equal(lines.length, 3);
    assert.deepEqual(lines[1], lines[0]);
    assert.deepEqual(lines[2], lines[0]);
    assert.equal(lines[0]?.['dst.addr'], `${ip(20, 1)}:${port}`);
    const text = await dp.metricsText();
    assert.match(
      text,
      /istio_tcp_connections_opened_total\{[^}]*destination_workload="legacy"[^}]*connection_security_policy="unknown"[^}]*\} 3/,
    );
  });

  test('a transport that fails to open: the connection closes, counted as a connect failure', async () => {
    const off = transports.register({
      name: 'broken',
      mtls: false,
      accepts: () => true,
      open: () => Promise.reject(new Error('broken on purpose')),
    });
    try {
      assert.equal(await answer(), '');
    } finally {
      off();
    }
    for (let i = 0; i < 100 && accessLines().length < 4; i++) await new Promise((r) => setTimeout(r, 10));
    const last = sink
      .lines()
      .filter((l) => l.scope === 'access')
      .at(-1);
    assert.match(String(last?.error), /broken on purpose/);
    assert.match(
      await dp.metricsText(),
      /istio_tcp_connections_failed_total\{[^}]*destination_workload="legacy"[^}]*response_flags="CONNECT"[^}]*\} 1/,
    );
  });
});
