// The hitless hand-off of INPOD_PORT_REUSE, as a DaemonSet rollout with maxSurge 1 does it: a new
// zt process starts on the node while the old one serves, gets the node's pods from istio-cni's
// node agent (the fake one sends its snapshot to every zt that connects), binds the pods' ports
// beside the old zt (SO_REUSEPORT) and turns ready; then the old zt gets SIGTERM. A client pod
// opens connections all the time, and holds a few long-lived ones across the hand-off. Driven
// only through zt's public behaviour: environment, ZDS, signals, readiness and connections.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeCniServer } from '@zt/inpod/testing';
import { sumOf } from '@zt/metrics/testing';
import * as native from '@zt/native';
import { ZtProcess } from '../reliability/harness/zt.ts';
import { inpodUnsupported, type SimPod, Topology } from './topology.ts';

const skip = inpodUnsupported();
const APP_PORT = 8080;
const ZT_PORTS = [15001, 15006, 15008];
/** Long enough that the old zt can only exit early by waiting for its connections, not the clock. */
const DRAIN = '10s';
/** Concurrent loops opening short connections. */
const LOOPS = 4;

/** Pids listening on each zt port inside the pod, from `ss -p` in the pod's namespace. */
function listeners(pod: SimPod): Map<number, Set<number>> {
  const r = spawnSync('ip', ['netns', 'exec', pod.netns, 'ss', '-Hltnp'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (r.status !== 0) throw new Error(`ss in ${pod.netns}: ${r.stderr || r.error?.message}`);
  const out = new Map<number, Set<number>>(ZT_PORTS.map((p) => [p, new Set<number>()]));
  for (const line of r.stdout.split('\n')) {
    const local = line.trim().split(/\s+/)[3] ?? '';
    const pids = out.get(Number(local.slice(local.lastIndexOf(':') + 1)));
    for (const m of line.matchAll(/pid=(\d+)/g)) pids?.add(Number(m[1]));
  }
  return out;
}

/** Whether exactly `pids` listen on every zt port inside every one of `pods`. */
function heldBy(pods: readonly SimPod[], pids: readonly number[]): boolean {
  const want = [...pids].sort().join(',');
  return pods.every((p) => [...listeners(p).values()].every((s) => [...s].sort().join(',') === want));
}

function migrateReq(pod: SimPod): string {
  const r = spawnSync('ip', ['netns', 'exec', pod.netns, 'cat', '/proc/sys/net/ipv4/tcp_migrate_req'], {
    encoding: 'utf8',
  });
  return r.stdout.trim();
}

async function until(what: string, pred: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

async function ready(zt: ZtProcess): Promise<boolean> {
  const res = await fetch(`${zt.ready.readiness}/healthz/ready`).catch(() => undefined);
  return res?.status === 200;
}

/** Sends `text`, half-closes, and resolves with everything read until the connection ends. */
function exchange(s: Socket, text: string, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => reject(new Error(`no end within ${ms} ms`)), ms);
    s.on('data', (d: Buffer) => chunks.push(d));
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString());
    });
    s.end(text);
  });
}

/** Writes `text` and resolves once as many bytes came back. */
function roundTrip(s: Socket, text: string, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const done = (err?: Error) => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('close', onClose);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks).toString());
    };
    const onData = (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= text.length) done();
    };
    const onClose = () => done(new Error(`closed after ${got} of ${text.length} bytes`));
    const timer = setTimeout(() => done(new Error(`only ${got} of ${text.length} bytes in ${ms} ms`)), ms);
    s.on('data', onData);
    s.once('close', onClose);
    s.write(text);
  });
}

describe('INPOD_PORT_REUSE: a new zt takes over the pods while the old one drains', {
  skip,
  timeout: 120_000,
}, () => {
  const topo = new Topology();
  const dir = mkdtempSync(join(tmpdir(), `zt-handoff-${process.pid}-`));
  const cni = new FakeCniServer({ path: join(dir, 'ztunnel.sock') });
  const zts: ZtProcess[] = [];
  let app: Server | undefined;
  let client: SimPod;
  let server: SimPod;

  function startZt(name: string, bindAddress: string): Promise<ZtProcess> {
    return ZtProcess.start(name, {
      INPOD_UDS: cni.path,
      FAKE_CA: 'true',
      LOCAL_XDS: `workloads:\n${topo.workloadsYaml()}\n`,
      NODE_NAME: 'node-1',
      ZT_BIND_ADDRESS: bindAddress,
      ZT_ADMIN_PORT: '0',
      ZT_STATS_PORT: '0',
      ZT_READINESS_PORT: '0',
      ZTUNNEL_WORKER_THREADS: '1',
      CONNECTION_TERMINATION_DEADLINE: DRAIN,
      RUST_LOG: process.env['ZT_TEST_LOG'] ?? 'warn',
    });
  }

  function dial(): Promise<Socket> {
    return native.connectSocket({ netns: client.path, host: server.ip, port: APP_PORT, timeoutMs: 5000 });
  }

  before(async () => {
    client = topo.addPod({ name: 'client', namespace: 'default', serviceAccount: 'client', node: 'node-1' });
    server = topo.addPod({ name: 'server', namespace: 'default', serviceAccount: 'server', node: 'node-1' });
    app = createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => s.destroy());
      s.pipe(s);
    });
    await native.listenServer(app, { netns: server.path, host: '0.0.0.0', port: APP_PORT });
    for (const p of topo.pods)
      cni.createPod({
        uid: p.uid,
        name: p.name,
        namespace: p.namespace,
        serviceAccount: p.serviceAccount,
        netns: p.netns,
      });
    cni.serve();
  });

  after(async () => {
    await Promise.allSettled(zts.map((z) => z.stop('SIGKILL')));
    app?.close();
    cni.close();
    topo.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('zero failed connections; the old zt exits when its last connection ends; the new one serves on', async (t) => {
    const old = await startZt('zt-old', '127.0.45.1');
    zts.push(old);
    await until('the old zt to be ready', () => ready(old));
    await until('the old zt to listen in the pods', () => heldBy(topo.pods, [old.ready.pid]));
    // What makes the close of the old zt's listeners lose nothing: queued connections migrate.
    for (const p of topo.pods) assert.equal(migrateReq(p), '1', `net.ipv4.tcp_migrate_req in ${p.name}`);

    // Long-lived connections, all through the old zt (the only one yet), kept across the hand-off.
    const longLived: Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await dial();
      s.allowHalfOpen = true;
      s.on('error', () => {});
      assert.equal(await roundTrip(s, `long ${i} hello`), `long ${i} hello`);
      longLived.push(s);
    }

    // The load: each loop opens a connection, sends a line, half-closes and checks the echo.
    const failures: string[] = [];
    const phase = { name: 'old only' };
    const served: Record<string, number> = {};
    let stop = false;
    const t0 = Date.now();
    const marks: Record<string, number> = {};
    const loops = Array.from({ length: LOOPS }, async (_, l) => {
      for (let n = 0; !stop; n++) {
        const text = `loop ${l} conn ${n}`;
        const at = phase.name;
        try {
          const reply = await exchange(await dial(), text);
          if (reply !== text) failures.push(`${at}: ${text}: got ${JSON.stringify(reply)}`);
          else served[at] = (served[at] ?? 0) + 1;
        } catch (e) {
          failures.push(`${at}: ${text}: ${(e as Error).message} at ${Date.now() - t0} ms`);
        }
      }
    });
    try {
      await sleep(500);

      phase.name = 'both';
      const next = await startZt('zt-new', '127.0.46.1');
      zts.push(next);
      marks['new started'] = Date.now() - t0;
      await until('the new zt to be ready', () => ready(next));
      marks['new ready'] = Date.now() - t0;
      await until('both zt to listen in the pods', () => heldBy(topo.pods, [old.ready.pid, next.ready.pid]));
      assert.equal(cni.snapshots, 2, 'the node agent sent its snapshot to each zt');
      await sleep(700);

      // The rollout deletes the old pod: SIGTERM, then the old zt drains.
      phase.name = 'old draining';
      const termAt = Date.now();
      marks['SIGTERM'] = termAt - t0;
      old.child.kill('SIGTERM');
      let exitAt = 0;
      void old.exited.then(() => {
        exitAt = Date.now();
      });
      await sleep(800);
      for (const [i, s] of longLived.entries())
        assert.equal(
          await roundTrip(s, `long ${i} draining`),
          `long ${i} draining`,
          'long-lived, old zt draining',
        );
      assert.equal(exitAt, 0, 'the old zt waits for its open connections');
      // The last connections through the old zt end now.
      const lastEndedAt = Date.now();
      for (const [i, s] of longLived.entries())
        assert.equal(await exchange(s, `long ${i} bye`), `long ${i} bye`);
      const exit = await old.exited;
      assert.deepEqual(exit, { code: 0, signal: null }, 'the old zt exits cleanly');
      assert.ok(exitAt >= lastEndedAt, 'not before its last connection ended');
      assert.ok(
        exitAt - lastEndedAt < 3000,
        `the old zt exited ${exitAt - lastEndedAt} ms after its last connection ended (drain deadline ${DRAIN}, SIGTERM ${lastEndedAt - termAt} ms before)`,
      );

      phase.name = 'new only';
      assert.ok(heldBy(topo.pods, [next.ready.pid]), 'only the new zt listens in the pods');
      const before = served['new only'] ?? 0;
      await until('connections through the new zt alone', () => (served['new only'] ?? 0) >= before + 50);
      stop = true;
      await Promise.all(loops);
      assert.deepEqual(
        failures,
        [],
        `${failures.length} failed connections; served ${JSON.stringify(served)}; ${JSON.stringify(marks)}\n${zts.map((z) => z.raw.join('\n')).join('\n')}`,
      );
      for (const p of ['old only', 'both', 'old draining', 'new only'])
        assert.ok((served[p] ?? 0) > 0, `connections in phase "${p}": ${JSON.stringify(served)}`);
      // Both zt carried load while they overlapped: the kernel spread the client pod's connections.
      const opened = sumOf(await next.metrics(), 'istio_tcp_connections_opened_total', {
        reporter: 'source',
      });
      t.diagnostic(
        `served ${JSON.stringify(served)}; the old zt exited ${exitAt - lastEndedAt} ms after its last connection; the new zt opened ${opened} outbound`,
      );
      assert.ok(opened > (served['new only'] ?? 0), `the new zt opened ${opened} before it was alone`);
    } finally {
      stop = true;
      await Promise.allSettled(loops);
      for (const s of longLived) s.destroy();
    }
  });
});
