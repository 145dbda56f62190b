// A pod's listeners as the ZDS add sees them: a data plane without in-pod listeners refuses pods
// with its own error, and a pod whose bind failed is tried again only when istio-cni's add is
// retried (the ZDS client's retry), not by every thread on every state update.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestCa } from '@zt/identity/testing';
import { Logging } from '@zt/log';
import * as native from '@zt/native';
import { netnsUnsupported, sweepStaleNetns } from '@zt/native/testing';
import { makeSnapshot, makeWorkload } from '@zt/xds/testing';
import pino from 'pino';
import { DataPlane } from './dataplane.ts';
import type { PodInfo } from './pods.ts';
import { ProxyEngine } from './proxy.ts';
import { testCaCertSource } from './testing/index.ts';

const w = makeWorkload({ name: 'web', serviceAccount: 'web', workloadIps: ['10.252.0.10'], node: 'n' });
const podOf = (netns: string): PodInfo => ({
  uid: w.uid,
  name: w.name,
  namespace: w.namespace,
  serviceAccount: w.serviceAccount,
  netns,
});

describe('a data plane not configured for in-pod listeners', () => {
  const notInpod = {
    code: 'ERR_ZT_CORE_INPOD_NOT_CONFIGURED',
    message: /not configured for in-pod listeners/,
  };

  test('DataPlane.addPod refuses the pod at once, before start, with a coded error', {
    timeout: 10_000,
  }, async () => {
    const dp = new DataPlane({
      workers: 0,
      nodeName: 'n',
      network: '',
      trustDomain: 'cluster.local',
      certs: testCaCertSource(await TestCa.create()),
      logging: new Logging({ filter: 'off' }),
      listeners: { workloads: { mode: 'loopback' } },
    });
    try {
      // Before the fix this waited for start() (never called here): the test would time out.
      await assert.rejects(dp.addPod(podOf('/var/run/netns/none')), notInpod);
    } finally {
      await dp.close();
    }
  });

  test('ProxyEngine.addPod says so too, whatever else is configured', async () => {
    const ca = await TestCa.create();
    for (const listeners of [{}, { workloads: { mode: 'loopback' as const } }]) {
      const engine = new ProxyEngine(
        { nodeName: 'n', network: '', trustDomain: ca.trustDomain, listeners },
        { certs: testCaCertSource(ca), log: pino({ level: 'silent' }) },
      );
      try {
        await engine.start();
        await assert.rejects(engine.addPod(podOf('/var/run/netns/none')), notInpod);
      } finally {
        await engine.close();
      }
    }
  });
});

const skip =
  netnsUnsupported() ??
  (native.available ? undefined : `@zt/native unavailable: ${native.unavailableReason}`);
const NS = `ztb-${process.pid}-pod`;
const WORKERS = 2;

describe('a pod whose listeners cannot bind', { skip, timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-bind-'));
  const logFile = join(dir, 'log');
  let fd = -1;
  let dp: DataPlane;
  let squatter: Server | undefined;

  before(async () => {
    sweepStaleNetns();
    assert.equal(spawnSync('ip', ['netns', 'add', NS]).status, 0, `ip netns add ${NS}`);
    assert.equal(spawnSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']).status, 0);
    // Something in the pod holds 15006 without SO_REUSEPORT: zt's plaintext listener cannot join it.
    squatter = createServer();
    await native.listenServer(squatter, {
      host: '::',
      port: 15006,
      netns: `/var/run/netns/${NS}`,
      reusePort: false,
    });
    fd = openSync(logFile, 'w');
    dp = new DataPlane({
      workers: WORKERS,
      nodeName: 'n',
      network: '',
      trustDomain: 'cluster.local',
      certs: testCaCertSource(await TestCa.create()),
      // Debug for the proxy: each bind attempt of each thread leaves one debug line to count.
      logging: new Logging({ filter: 'error,proxy=debug', format: 'json', fd }),
      // The pod ports are upstream's (15001, 15006, 15008).
      listeners: { workloads: { mode: 'netns', bindOutbound: true } },
    });
    await dp.setState(makeSnapshot(1, { workloads: [w] }));
    await dp.start();
  });

  after(async () => {
    await dp?.close();
    squatter?.close();
    if (fd >= 0) closeSync(fd);
    spawnSync('ip', ['netns', 'del', NS]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** The log so far, as {level, message} (pino's JSON lines; workers write to the same fd). */
  function lines(): { level: string; message: string }[] {
    return readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { level: string; message: string });
  }
  const attempts = () => lines().filter((l) => l.message === 'cannot bind the pod listeners').length;
  const loud = () => lines().filter((l) => l.level === 'warn' || l.level === 'error');
  /** Whether something in the pod accepts on `port` (zt's listener once the squatter is gone). */
  async function listening(port: number): Promise<boolean> {
    try {
      const s = await native.connectSocket({
        netns: `/var/run/netns/${NS}`,
        host: '127.0.0.1',
        port,
        timeoutMs: 2000,
      });
      s.destroy();
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ECONNREFUSED' || /ECONNREFUSED/.test(String(e)))
        return false;
      throw e;
    }
  }

  /** Waits until the worker threads' lines reach the file (they write asynchronously). */
  async function settle(want: () => boolean): Promise<void> {
    for (let i = 0; i < 100 && !want(); i++) await new Promise((r) => setTimeout(r, 20));
  }

  test('the add fails once: one bind per thread, nothing logged by the data plane (the ZDS client logs it)', async () => {
    await assert.rejects(dp.addPod(podOf(`/var/run/netns/${NS}`)), /15006|EADDRINUSE/);
    await settle(() => attempts() >= WORKERS);
    assert.equal(attempts(), WORKERS, 'one bind attempt per thread');
    assert.deepEqual(loud(), [], 'no warning or error line per thread');
  });

  test('state updates do not bind the failed pod again, even once it could', async () => {
    squatter?.close();
    squatter = undefined;
    for (let v = 2; v <= 4; v++) await dp.setState(makeSnapshot(v, { workloads: [w] }));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(attempts(), WORKERS, 'no attempt on state updates');
    assert.deepEqual(loud(), []);
    for (const port of [15001, 15006, 15008])
      assert.equal(await listening(port), false, `nothing on ${port}`);
  });

  test("the ZDS client's retry (the add again) binds the pod in every thread", async () => {
    await dp.addPod(podOf(`/var/run/netns/${NS}`));
    assert.equal(attempts(), WORKERS, 'the retry succeeded: no failure line');
    assert.deepEqual(loud(), []);
    for (const port of [15001, 15006, 15008])
      assert.equal(await listening(port), true, `zt listens on ${port}`);
  });
});
