// TCP keepalive and the user timeout on proxied sockets: the values read back from the kernel, and
// the timers `ss` shows on the sockets a ProxyEngine accepted and dialed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { TestCa } from '@zt/identity/testing';
import { available, getTcpKeepalive, getTcpUserTimeout } from '@zt/native';
import { type EchoServer, startEchoServer } from '@zt/transport/testing';
import { makeSnapshot, makeWorkload } from '@zt/xds/testing';
import pino from 'pino';
import type { SocketOps } from '../context.ts';
import { nativeSocketOps } from '../native.ts';
import { ProxyEngine } from '../proxy.ts';
import { type Mesh, startLoopbackMesh, testCaCertSource } from '../testing/index.ts';
import {
  applyTcpOptions,
  DEFAULT_TCP_SOCKET_OPTIONS,
  type TcpSocketOptions,
  userTimeoutMs,
} from './socket-options.ts';

const log = pino({ level: 'silent' });
const NATIVE = available ? false : 'needs @zt/native';

async function pair(): Promise<{ client: Socket; server: Server; close(): void }> {
  const server = createServer((s) => s.on('error', () => {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const client = connect(port, '127.0.0.1');
  await new Promise((r) => client.once('connect', r));
  return {
    client,
    server,
    close() {
      client.destroy();
      server.close();
    },
  };
}

test("upstream's defaults: 180 s idle, 180 s interval, 9 probes, no user timeout", () => {
  assert.deepEqual(DEFAULT_TCP_SOCKET_OPTIONS, {
    keepaliveEnabled: true,
    keepaliveTimeMs: 180_000,
    keepaliveIntervalMs: 180_000,
    keepaliveRetries: 9,
    userTimeoutEnabled: false,
  });
  // Upstream's formula: TCP_KEEPIDLE + TCP_KEEPINTVL * TCP_KEEPCNT.
  assert.equal(userTimeoutMs(DEFAULT_TCP_SOCKET_OPTIONS), 1_800_000);
  assert.equal(
    userTimeoutMs({
      ...DEFAULT_TCP_SOCKET_OPTIONS,
      keepaliveTimeMs: 10_000,
      keepaliveIntervalMs: 2_000,
      keepaliveRetries: 5,
    }),
    20_000,
  );
});

describe('applyTcpOptions', { skip: NATIVE }, () => {
  let ops: SocketOps;
  before(async () => {
    ops = await nativeSocketOps();
  });

  test('with @zt/native: idle, interval, count and the user timeout are all set', async () => {
    const p = await pair();
    try {
      const o: TcpSocketOptions = {
        keepaliveEnabled: true,
        keepaliveTimeMs: 10_000,
        keepaliveIntervalMs: 2_000,
        keepaliveRetries: 5,
        userTimeoutEnabled: true,
      };
      applyTcpOptions(p.client, o, ops, log);
      assert.deepEqual(getTcpKeepalive(p.client), { idleSeconds: 10, intervalSeconds: 2, count: 5 });
      assert.equal(getTcpUserTimeout(p.client), 20_000);
    } finally {
      p.close();
    }
  });

  test('disabled: the socket is left as the kernel made it', async () => {
    const p = await pair();
    try {
      applyTcpOptions(p.client, { ...DEFAULT_TCP_SOCKET_OPTIONS, keepaliveEnabled: false }, ops, log);
      assert.equal(getTcpKeepalive(p.client), undefined);
      assert.equal(getTcpUserTimeout(p.client), 0);
    } finally {
      p.close();
    }
  });

  test('without @zt/native: Node sets the idle time, the host keeps its interval and count', async () => {
    const p = await pair();
    try {
      applyTcpOptions(p.client, { ...DEFAULT_TCP_SOCKET_OPTIONS, keepaliveTimeMs: 42_000 }, {}, log);
      assert.equal(getTcpKeepalive(p.client)?.idleSeconds, 42);
    } finally {
      p.close();
    }
  });
});

/** The keepalive timers (seconds left) of established sockets whose `side` port is `port`. */
function keepaliveTimers(side: 'sport' | 'dport', port: number): (number | undefined)[] {
  return keepaliveTimersWhere(`${side} = :${port}`);
}

/** The keepalive timers of established sockets matching an `ss` filter expression. */
function keepaliveTimersWhere(filter: string): (number | undefined)[] {
  const out = execFileSync('ss', ['-tnoH', 'state', 'established', `( ${filter} )`], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const m = /timer:\(keepalive,(?:(\d+)min)?(?:(\d+)(?:\.\d+)?sec)?/.exec(l);
      if (!m) return undefined;
      return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
    });
}

describe('a ProxyEngine keeps alive what it accepts on 15006 and what it dials', { skip: NATIVE }, () => {
  const SERVER_IP = '127.96.3.10';
  const server = makeWorkload({ name: 'echo', serviceAccount: 'echo', workloadIps: [SERVER_IP], node: 'n' });
  let echo: EchoServer;
  let engine: ProxyEngine;
  let plaintextPort = 0;

  before(async () => {
    const ca = await TestCa.create();
    echo = await startEchoServer(SERVER_IP);
    const ops = await nativeSocketOps();
    engine = new ProxyEngine(
      {
        nodeName: 'n',
        network: '',
        trustDomain: ca.trustDomain,
        listeners: { workloads: { mode: 'loopback', inbound: 0, inboundPlaintext: 0 } },
        tcp: { ...DEFAULT_TCP_SOCKET_OPTIONS, keepaliveTimeMs: 123_000 },
      },
      {
        certs: testCaCertSource(ca),
        log,
        ops: { ...ops, originalDst: () => ({ address: SERVER_IP, port: echo.address.port }) },
      },
    );
    await engine.setState(makeSnapshot(1, { workloads: [server] }));
    const bound = await engine.start();
    plaintextPort = bound.find((b) => b.kind === 'inboundPlaintext')?.port ?? 0;
    assert.ok(plaintextPort > 0);
  });

  after(async () => {
    await engine?.close();
    await echo?.close();
  });

  test('both sockets carry a keepalive timer of at most KEEPALIVE_TIME', async () => {
    const c = connect(plaintextPort, SERVER_IP);
    try {
      c.write('ping');
      await new Promise((r) => c.once('data', r));
      const accepted = keepaliveTimers('sport', plaintextPort);
      const dialed = keepaliveTimers('dport', echo.address.port);
      assert.equal(accepted.length, 1, 'zt accepted one connection on 15006');
      assert.equal(dialed.length, 1, 'zt dialed one connection to the app');
      for (const left of [...accepted, ...dialed]) {
        assert.ok(left !== undefined, 'a keepalive timer runs');
        assert.ok(left <= 123 && left > 100, `timer ${left}s follows KEEPALIVE_TIME=123s, not the host's 2h`);
      }
      // The client's own socket was never asked for keepalive: no timer.
      assert.deepEqual(keepaliveTimers('dport', plaintextPort), [undefined]);
    } finally {
      c.destroy();
    }
  });
});

describe('HBONE sockets, as upstream: keepalive on what zt dials, none on what 15008 accepts', {
  skip: NATIVE,
}, () => {
  let mesh: Mesh;

  before(async () => {
    mesh = await startLoopbackMesh({ ca: await TestCa.create() });
  });
  after(async () => {
    await mesh?.close();
  });

  test("node A's pooled connection to node B's 15008 carries KEEPALIVE_TIME (default 180 s)", async () => {
    const s = await mesh.dial(mesh.echo.address);
    try {
      s.write('ping');
      await new Promise((r) => s.once('data', r));
      const to15008 = `dst ${mesh.server.workloadIps[0]}:15008`;
      const from15008 = `src ${mesh.server.workloadIps[0]}:15008`;
      const dialed = keepaliveTimersWhere(to15008);
      assert.equal(dialed.length, 1, 'one pooled HBONE connection from A to B');
      const left = dialed[0];
      assert.ok(left !== undefined, 'the HBONE socket A dialled has a keepalive timer');
      assert.ok(left <= 180 && left > 150, `timer ${left}s follows KEEPALIVE_TIME=180s, not the host's 2h`);
      // Upstream's inbound (15008) listener sets no socket options on what it accepts.
      assert.deepEqual(keepaliveTimersWhere(from15008), [undefined]);
    } finally {
      s.destroy();
    }
  });
});
