// Admin `/logging` reaches the data plane: a worker thread logs at the level set after start, and a
// worker restarted later starts at it. zt runs as a child process; its stdout, where the main thread
// and the worker write, is read line by line.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const APP = fileURLToPath(new URL('./app.ts', import.meta.url));
const CONFIG = fileURLToPath(new URL('./config.ts', import.meta.url));
const NET = '127.0.61';

// The child: zt from the environment, plus commands over IPC to add a workload of this node (its
// listeners are bound by the worker, which logs each at debug) and to kill the worker.
const child = `
import { startZtunnel } from ${JSON.stringify(APP)};
import { loadConfig } from ${JSON.stringify(CONFIG)};
const zt = await startZtunnel(loadConfig(process.env));
zt.dataPlane.on('workerRestart', () => process.send({ t: 'restarted' }));
process.on('message', async (m) => {
  if (m.t === 'add') {
    const snap = zt.store.snapshot();
    const base = snap.workloads[0];
    zt.store.replace({ ...snap, workloads: [...snap.workloads, { ...base, uid: m.uid, name: m.uid, workloadIps: [m.ip] }] });
    await zt.dataPlane.setState(zt.store.snapshot());
    process.send({ t: 'added', uid: m.uid });
  } else if (m.t === 'kill-worker') {
    await zt.dataPlane.workerThreads[0].terminate();
  }
});
process.on('disconnect', () => void zt.shutdown('test over').then(() => process.exit(0)));
process.send({ t: 'ready', admin: zt.servers.admin.url });
`;

const LOCAL_XDS = `workloads:
  - uid: w-first
    name: first
    namespace: default
    serviceAccount: first
    workloadIps: ["${NET}.10"]
    protocol: HBONE
    node: node-log
`;

type Line = Record<string, unknown>;

class Zt {
  readonly lines: Line[] = [];
  readonly messages: Record<string, unknown>[] = [];
  readonly proc: ChildProcess;
  #wake: (() => void) | undefined;

  constructor(script: string) {
    // A file, not `-e`: worker threads inherit the parent's exec arguments, and `-e` is not one of theirs.
    this.proc = spawn(process.execPath, ['--conditions=zt-source', script], {
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      env: {
        ...process.env,
        RUST_LOG: 'info',
        LOG_FORMAT: 'json',
        LOCAL_XDS,
        XDS_ADDRESS: '',
        CA_ADDRESS: '',
        FAKE_CA: 'true',
        NODE_NAME: 'node-log',
        ZTUNNEL_WORKER_THREADS: '1',
        ZT_LAB_MODE: 'true',
        ZT_PER_WORKLOAD_LISTENERS: 'true',
        ZT_BIND_ADDRESS: `${NET}.1`,
        INSTANCE_IP: `${NET}.1`,
        ZT_ADMIN_PORT: '0',
        ISTIO_META_DNS_PROXY_ADDR: `${NET}.1:0`,
        ZT_STATS_PORT: '0',
        ZT_READINESS_PORT: '0',
        ZT_OUTBOUND_PORT: '0',
        ZT_INBOUND_PORT: '0',
        ZT_INBOUND_PLAINTEXT_PORT: '0',
      },
    });
    createInterface({ input: this.proc.stdout as NodeJS.ReadableStream }).on('line', (l) => {
      try {
        this.lines.push(JSON.parse(l) as Line);
      } catch {
        // Only JSON lines are zt's log; anything else is not what this test looks for.
      }
      this.#wake?.();
    });
    this.proc.on('message', (m: Record<string, unknown>) => {
      this.messages.push(m);
      this.#wake?.();
    });
  }

  /** Resolves once `pred` holds; re-checked on every line and message. */
  async until<T>(what: string, pred: () => T | undefined, ms = 20_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = pred();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > end || this.proc.exitCode !== null) throw new Error(`gave up waiting for ${what}`);
      await Promise.race([new Promise<void>((r) => (this.#wake = r)), sleep(100)]);
    }
  }

  message(t: string, from = 0): Promise<Record<string, unknown>> {
    return this.until(`message ${t}`, () => this.messages.slice(from).find((m) => m['t'] === t));
  }

  /** The worker's "listener established" lines (only the worker runs listeners), from line `from`. */
  established(from = 0, set?: string): Line[] {
    return this.lines
      .slice(from)
      .filter((l) => l['message'] === 'listener established' && (set === undefined || l['set'] === set));
  }
}

async function setLevel(admin: string, level: string): Promise<void> {
  const res = await fetch(`${admin}/logging?level=${level}`, { method: 'POST' });
  assert.equal(res.status, 200, await res.text());
}

test('POST /logging?level=debug: the running worker logs at debug, and so does a restarted one', {
  timeout: 90_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-log-level-'));
  const script = join(dir, 'zt.mjs');
  writeFileSync(script, child);
  const zt = new Zt(script);
  t.after(async () => {
    rmSync(dir, { recursive: true, force: true });
    if (zt.proc.exitCode === null) {
      zt.proc.disconnect();
      const exited = once(zt.proc, 'exit');
      const timer = setTimeout(() => zt.proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  });
  const admin = String((await zt.message('ready'))['admin']);
  assert.deepEqual(zt.established(), [], 'at info, the worker writes no debug line');

  await setLevel(admin, 'debug');
  let mark = zt.messages.length;
  zt.proc.send({ t: 'add', uid: 'w-second', ip: `${NET}.11` });
  await zt.message('added', mark);
  const second = await zt.until('the worker logging the new listeners at debug', () => {
    const l = zt.established(0, 'w-second');
    return l.length > 0 ? l : undefined;
  });
  assert.equal(second[0]?.['level'], 'debug');
  assert.equal(second[0]?.['scope'], 'proxy');

  // A worker that dies is restarted at the level of now, not the one zt started with.
  const before = zt.lines.length;
  mark = zt.messages.length;
  zt.proc.send({ t: 'kill-worker' });
  await zt.message('restarted', mark);
  await zt.until('the restarted worker logging its listeners at debug', () =>
    zt.established(before).length > 0 ? true : undefined,
  );

  // And back: at info the worker is quiet again.
  await setLevel(admin, 'info');
  const quietFrom = zt.lines.length;
  mark = zt.messages.length;
  zt.proc.send({ t: 'add', uid: 'w-third', ip: `${NET}.12` });
  await zt.message('added', mark);
  await sleep(300);
  assert.deepEqual(zt.established(quietFrom), []);
});
