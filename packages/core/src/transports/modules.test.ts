import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { TestCa } from '@zt/identity/testing';
import { Logging } from '@zt/log';
import { makeSnapshot, makeWorkload } from '@zt/xds/testing';
import { DataPlane, type DataPlaneOptions } from '../dataplane.ts';
import { TransportModuleError } from '../errors.ts';
import { testCaCertSource } from '../testing/certs.ts';
import { socksDial } from '../testing/mesh.ts';
import { loadTransportModules } from './modules.ts';
import { TransportRegistry, transports } from './registry.ts';
import type { Transport } from './transport.ts';

// Flows run on worker threads. A custom transport reaches them as a module each worker imports
// (ProxyConfig.transportModules); one registered on the main thread does not.

const O = 100 + Math.floor(Math.random() * 150);
const ip = (n: number, h: number) => `127.${O}.${n}.${h}`;
const CLIENT = ip(10, 1);
const LEGACY = ip(20, 1);
const RELAY = ip(30, 1);

/** Replies with what it read, prefixed, once the client half-closes: tells the direct path from the relayed one. */
async function serve(host: string, prefix: string): Promise<[Server, number]> {
  const s = createServer({ allowHalfOpen: true }, (c) => {
    const got: Buffer[] = [];
    c.on('error', () => c.destroy());
    c.on('data', (d: Buffer) => got.push(d));
    c.on('end', () => c.end(`${prefix}${Buffer.concat(got)}`));
  });
  s.listen(0, host);
  await once(s, 'listening');
  const a = s.address();
  return [s, typeof a === 'object' && a ? a.port : 0];
}

describe('custom transports on data-plane worker threads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-transport-module-'));
  let direct: Server;
  let relay: Server;
  let port = 0;
  let relayPort = 0;
  let base: Omit<DataPlaneOptions, 'workers'>;
  const state = makeSnapshot(1, {
    workloads: [
      makeWorkload({ name: 'client', workloadIps: [CLIENT], node: 'node-a' }),
      makeWorkload({ name: 'legacy', workloadIps: [LEGACY], protocol: 'TCP', node: 'node-b' }),
    ],
  });

  before(async () => {
    [direct, port] = await serve(LEGACY, 'direct:');
    [relay, relayPort] = await serve(RELAY, 'relayed:');
    base = {
      nodeName: 'node-a',
      network: '',
      trustDomain: 'cluster.local',
      certs: testCaCertSource(await TestCa.create()),
      logging: new Logging({ filter: 'off' }),
      listeners: {},
      socks5: { enabled: true, address: '127.0.0.1', port: 0 },
    };
  });
  after(() => {
    direct?.close();
    relay?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A module file whose default export reaches `legacy` through the relay, saying which thread opened it. */
  function writeModule(name: string, body: string): string {
    const file = join(dir, name);
    writeFileSync(file, body);
    return file;
  }
  const relayModule = () =>
    writeModule(
      'via-relay.mjs',
      `import { once } from 'node:events';
import { connect } from 'node:net';
import { threadId } from 'node:worker_threads';
export default {
  name: 'via-relay',
  mtls: false,
  accepts: (route) => route.kind === 'tcp' && route.workload.name === 'legacy',
  async open() {
    const s = connect({ host: ${JSON.stringify(RELAY)}, port: ${relayPort}, allowHalfOpen: true });
    await once(s, 'connect');
    s.write('thread ' + threadId + ' ');
    return s;
  },
};
`,
    );

  async function ask(dp: DataPlane, what: string): Promise<string> {
    const socks = dp.bound().find((l) => l.kind === 'socks5');
    assert.ok(socks);
    const s = await socksDial(socks, CLIENT, { address: LEGACY, port });
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', () => {});
    const closed = once(s, 'close');
    s.end(what);
    await closed;
    return Buffer.concat(chunks).toString();
  }

  async function withDataPlane(o: Partial<DataPlaneOptions>, run: (dp: DataPlane) => Promise<void>) {
    const dp = new DataPlane({ ...base, workers: 1, ...o });
    try {
      await dp.setState(state);
      await dp.start();
      await run(dp);
    } finally {
      await dp.close();
    }
  }

  test("a registration on the main thread does not reach the workers' flows", async () => {
    const mainOnly: Transport = {
      name: 'main-only',
      mtls: false,
      accepts: () => true,
      open: () => Promise.reject(new Error('never called on a worker')),
    };
    const off = transports.register(mainOnly);
    try {
      await withDataPlane({}, async (dp) => {
        assert.equal(await ask(dp, 'hello'), 'direct:hello');
      });
    } finally {
      off();
    }
  });

  test('a transport module carries the connections it accepts, whichever worker takes them', async () => {
    const file = relayModule();
    await withDataPlane({ workers: 2, transportModules: [file] }, async (dp) => {
      for (let i = 0; i < 8; i++) {
        const got = await ask(dp, 'hello');
        const m = /^relayed:thread (\d+) hello$/.exec(got);
        assert.ok(m, got);
        assert.notEqual(Number(m[1]), 0, 'opened on a worker thread, not the main one');
      }
      assert.match(
        await dp.metricsText(),
        /istio_tcp_connections_opened_total\{[^}]*destination_workload="legacy"[^}]*\} 8/,
      );
    });
    // The main thread's own registry never saw it.
    assert.equal(transports.get('via-relay'), undefined);
  });

  test("with workers: 0 the module goes into this thread's registry while the proxy runs", async () => {
    const url = pathToFileURL(relayModule()).href;
    await withDataPlane({ workers: 0, transportModules: [url] }, async (dp) => {
      assert.equal(transports.get('via-relay')?.name, 'via-relay');
      assert.equal(await ask(dp, 'hi'), 'relayed:thread 0 hi');
    });
    assert.equal(transports.get('via-relay'), undefined, 'close() takes it out again');
  });

  test('a module that cannot be used fails start() with a clear error, on a worker as here', async () => {
    const notOne = writeModule('not-a-transport.mjs', 'export default { name: "x" };\n');
    await assert.rejects(
      withDataPlane({ workers: 1, transportModules: [notOne] }, async () => {}),
      /transport module .*not-a-transport\.mjs: its default export must be a Transport/,
    );
    await assert.rejects(
      withDataPlane({ workers: 0, transportModules: [join(dir, 'missing.mjs')] }, async () => {}),
      (e: unknown) => e instanceof TransportModuleError && /missing\.mjs: it failed to load/.test(e.message),
    );
    const reg = new TransportRegistry();
    await assert.rejects(
      loadTransportModules(['./via-relay.mjs'], reg),
      (e: unknown) => e instanceof TransportModuleError && e.code === 'ERR_ZT_CORE_TRANSPORT_MODULE',
    );
    // A failing module in a list registers none of the list.
    await assert.rejects(loadTransportModules([relayModule(), notOne], reg));
    assert.deepEqual(reg.names(), []);
  });
});
