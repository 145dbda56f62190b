// A two-node lab mesh for the app's own tests (zt doctor, the admin page's traffic view, the
// profiling endpoints): our test CA and xDS server in the test process, two zt processes started
// through main.ts on a loopback /24 of the test file's own, with upstream's well-known ports on
// each node's address. Like the demo: node-a holds the clients (sleep in frontend, intruder in
// untrusted), node-b an echo pod in backend, and backend/deny-untrusted denies namespace untrusted.
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer, type Server } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { socksDial } from '@zt/core/testing';
import { TestCaServer } from '@zt/identity/testing';
import type { Authorization, Workload } from '@zt/xds';
import { emptyMatch, makePolicy, makeWorkload, TestXdsServer } from '@zt/xds/testing';

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));

export interface LabNode {
  readonly name: string;
  readonly ip: string;
  /** The environment zt was started with (nothing else: no inherited variables but PATH). */
  readonly env: Record<string, string>;
  readonly child: ChildProcess;
  readonly pid: number;
  /** `http://<ip>:15000`. */
  readonly admin: string;
  /** zt's last output lines, for failure messages. */
  readonly output: string[];
  stop(): Promise<void>;
}

export interface LabOptions {
  /** The file's own /24, e.g. `127.0.61`. */
  prefix: string;
  /** Data-plane worker threads per node (default 1). */
  workers?: number;
  env?: Record<string, string>;
}

export interface Lab {
  readonly prefix: string;
  readonly ca: TestCaServer;
  readonly xds: TestXdsServer;
  readonly a: LabNode;
  readonly b: LabNode;
  readonly ip: { client: string; intruder: string; echo: string };
  readonly echoPort: number;
  readonly workloads: { client: Workload; intruder: Workload; echo: Workload };
  readonly denyUntrusted: Authorization;
  /**
   * Sends `payload` from pod `from` through node-a (SOCKS5) to the echo pod, half-closes, and
   * resolves with what came back, or undefined when zt refused or closed without a byte.
   */
  exchange(from: string, payload: string): Promise<string | undefined>;
  /** Resolves when node `n`'s /config_dump satisfies `pred` (state pushed by xDS has arrived). */
  waitForDump(n: LabNode, pred: (dump: { workloads: { name: string }[] }) => boolean): Promise<void>;
  close(): Promise<void>;
}

async function startNode(name: string, ip: string, env: Record<string, string>): Promise<LabNode> {
  const child = spawn(process.execPath, ['--conditions=zt-source', MAIN], {
    env,
    // The IPC channel ties zt to the test process: it leaves when the test dies, however it dies.
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const output: string[] = [];
  const keep = (l: string) => {
    output.push(l);
    if (output.length > 200) output.shift();
  };
  createInterface({ input: child.stdout! }).on('line', keep);
  createInterface({ input: child.stderr! }).on('line', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const node: LabNode = {
    name,
    ip,
    env,
    child,
    pid: child.pid ?? 0,
    admin: `http://${ip}:15000`,
    output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}):\n${output.join('\n')}`);
    const res = await fetch(`http://${ip}:15021/healthz/ready`).catch(() => undefined);
    if (res?.status === 200) return node;
    if (Date.now() > deadline) {
      await node.stop();
      throw new Error(`${name} not ready in 60 s:\n${output.join('\n')}`);
    }
    await sleep(100);
  }
}

async function listening(host: string, port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} 10 s after zt was ready`);
    await sleep(50);
  }
}

export async function startLab(opts: LabOptions): Promise<Lab> {
  const p = opts.prefix;
  const ip = { client: `${p}.10`, intruder: `${p}.11`, echo: `${p}.20` };
  const echoPort = 8080;
  const echoServer: Server = createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((resolve, reject) => {
    echoServer.once('error', reject);
    echoServer.listen(echoPort, ip.echo, () => resolve());
  });
  const workloads = {
    client: makeWorkload({
      name: 'sleep',
      namespace: 'frontend',
      serviceAccount: 'sleep',
      workloadIps: [ip.client],
      node: 'node-a',
    }),
    intruder: makeWorkload({
      name: 'intruder',
      namespace: 'untrusted',
      serviceAccount: 'intruder',
      workloadIps: [ip.intruder],
      node: 'node-a',
    }),
    echo: makeWorkload({
      name: 'echo',
      namespace: 'backend',
      serviceAccount: 'echo',
      workloadIps: [ip.echo],
      node: 'node-b',
    }),
  };
  const denyUntrusted = makePolicy({ name: 'deny-untrusted', namespace: 'backend', action: 'Deny' }, [
    emptyMatch({ namespaces: [{ kind: 'exact', value: 'untrusted' }] }),
  ]);
  const ca = await TestCaServer.start();
  const xds = await TestXdsServer.start({
    resources: { workloads: Object.values(workloads), policies: [denyUntrusted] },
  });
  const envOf = (name: string, bind: string): Record<string, string> => ({
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    XDS_ADDRESS: xds.address,
    CA_ADDRESS: ca.address,
    AUTH_TOKEN: '',
    CLUSTER_ID: 'Kubernetes',
    NODE_NAME: name,
    POD_NAME: `ztunnel-${name}`,
    POD_NAMESPACE: 'istio-system',
    INSTANCE_IP: bind,
    ZT_LAB_MODE: 'true',
    ZT_BIND_ADDRESS: bind,
    ZT_PER_WORKLOAD_LISTENERS: 'true',
    UNSTABLE_ENABLE_SOCKS5: 'true',
    ZTUNNEL_WORKER_THREADS: String(opts.workers ?? 1),
    CONNECTION_TERMINATION_DEADLINE: '1s',
    LOG_FORMAT: 'json',
    RUST_LOG: 'warn',
    ...opts.env,
  });
  const started = await Promise.allSettled([
    startNode('node-a', `${p}.1`, envOf('node-a', `${p}.1`)),
    startNode('node-b', `${p}.2`, envOf('node-b', `${p}.2`)),
  ]);
  const [sa, sb] = started;
  if (sa.status === 'rejected' || sb.status === 'rejected') {
    for (const s of started) if (s.status === 'fulfilled') await s.value.stop();
    await Promise.allSettled([xds.close(), ca.close()]);
    echoServer.close();
    throw (sa.status === 'rejected' ? sa : (sb as PromiseRejectedResult)).reason;
  }
  const a = sa.value;
  const b = sb.value;
  // Ready means synced; the pods' own listeners follow the state a moment later.
  for (const pod of Object.values(ip)) await listening(pod, 15008);
  return {
    prefix: p,
    ca,
    xds,
    a,
    b,
    ip,
    echoPort,
    workloads,
    denyUntrusted,
    async exchange(from, payload) {
      let s: Awaited<ReturnType<typeof socksDial>>;
      try {
        s = await socksDial({ address: a.ip, port: 15080 }, from, { address: ip.echo, port: echoPort });
      } catch {
        return undefined;
      }
      return new Promise((resolve) => {
        let got = '';
        const timer = setTimeout(() => s.destroy(), 5000);
        s.setEncoding('utf8');
        s.on('data', (d: string) => {
          got += d;
        });
        s.on('error', () => {});
        s.on('close', () => {
          clearTimeout(timer);
          resolve(got.length > 0 ? got : undefined);
        });
        s.end(payload);
      });
    },
    async waitForDump(n, pred) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const dump = (await (await fetch(`${n.admin}/config_dump`)).json()) as {
          workloads: { name: string }[];
        };
        if (pred(dump)) return;
        if (Date.now() > deadline)
          throw new Error(`${n.name}: the config dump never reached the expected state`);
        await sleep(50);
      }
    },
    async close() {
      await Promise.allSettled([a.stop(), b.stop()]);
      await Promise.race([
        Promise.allSettled([xds.close(), ca.close()]),
        sleep(5000, undefined, { ref: false }),
      ]);
      await new Promise<void>((resolve) => echoServer.close(() => resolve()));
    },
  };
}
