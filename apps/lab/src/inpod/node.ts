// One simulated node of the in-pod suite: a zt started through the app's own entry point
// (loadConfig + startZtunnel, in-pod mode) and the fake istio-cni node agent that feeds it pods.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeCniServer } from '@zt/inpod/testing';
import { loadConfig, startZtunnel, type Ztunnel } from '@zt/ztunnel';
import type { SimPod } from './topology.ts';

/** The listeners zt opens in each pod: outbound, inbound plaintext, HBONE. */
const ZT_PORTS = [15001, 15006, 15008];

export interface NodeOptions {
  name: string;
  /** A distinct loopback address for the node's admin, metrics and readiness servers. */
  bindAddress: string;
  /** LOCAL_XDS: the whole mesh, inline. */
  localXds: string;
  drainDeadline: string;
  workerThreads: number;
}

export class SimNode {
  readonly name: string;
  readonly zt: Ztunnel;
  readonly cni: FakeCniServer;
  readonly #dir: string;

  private constructor(name: string, zt: Ztunnel, cni: FakeCniServer, dir: string) {
    this.name = name;
    this.zt = zt;
    this.cni = cni;
    this.#dir = dir;
  }

  /** Starts the fake node agent first (zt dials it), then zt, and waits for zt's ZdsHello. */
  static async start(o: NodeOptions): Promise<SimNode> {
    const dir = mkdtempSync(join(tmpdir(), `zt-inpod-${process.pid}-${o.name}-`));
    const uds = join(dir, 'ztunnel.sock');
    const cni = new FakeCniServer({ path: uds });
    let zt: Ztunnel | undefined;
    try {
      const config = loadConfig({
        INPOD_UDS: uds,
        FAKE_CA: 'true',
        LOCAL_XDS: o.localXds,
        NODE_NAME: o.name,
        ZT_BIND_ADDRESS: o.bindAddress,
        ZT_ADMIN_PORT: '0',
        ZT_STATS_PORT: '0',
        ZT_READINESS_PORT: '0',
        CONNECTION_TERMINATION_DEADLINE: o.drainDeadline,
        RUST_LOG: process.env['ZT_TEST_LOG'] ?? 'error',
      });
      // 0 runs the data plane on this thread (DataPlane's own option): ZTUNNEL_WORKER_THREADS=0
      // would mean every CPU, as upstream reads it.
      config.workerThreads = o.workerThreads;
      zt = await startZtunnel(config);
      await cni.accept();
      return new SimNode(o.name, zt, cni, dir);
    } catch (e) {
      await zt?.shutdown('start failed');
      cni.close();
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** Records the pods with the fake agent (their namespaces already exist) without sending them. */
  register(pods: readonly SimPod[]): void {
    for (const p of pods) {
      this.cni.createPod({
        uid: p.uid,
        name: p.name,
        namespace: p.namespace,
        serviceAccount: p.serviceAccount,
        netns: p.netns,
      });
    }
  }

  /**
   * Ports zt listens on inside the pod (15001, 15006, 15008 when served), read with `ss` in the
   * pod's namespace. DataPlane.bound() cannot tell (it lists what was bound at start), and a probe
   * connection would itself hold the listener open until zt's TLS handshake timeout.
   */
  static ports(pod: SimPod): number[] {
    const r = spawnSync('ip', ['netns', 'exec', pod.netns, 'ss', '-Hltn'], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    if (r.status !== 0) throw new Error(`ss in ${pod.netns}: ${r.stderr || r.error?.message}`);
    const ports = new Set<number>();
    for (const line of r.stdout.split('\n')) {
      const local = line.trim().split(/\s+/)[3];
      const port = Number(local?.slice(local.lastIndexOf(':') + 1));
      if (ZT_PORTS.includes(port)) ports.add(port);
    }
    return [...ports].sort();
  }

  static listening(pod: SimPod): boolean {
    return SimNode.ports(pod).length === ZT_PORTS.length;
  }

  /** Waits until zt listens (or, with `false`, no longer listens) inside each of `pods`. */
  static async waitForListeners(pods: readonly SimPod[], want = true, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = pods.map((p) => (want ? SimNode.listening(p) : SimNode.ports(p).length > 0));
      if (states.every((s) => s === want)) return;
      if (Date.now() > deadline) {
        const wrong = pods.filter((_, i) => states[i] !== want).map((p) => p.name);
        throw new Error(`zt ${want ? 'does not listen' : 'still listens'} in pods ${wrong.join(', ')}`);
      }
      await sleep(25);
    }
  }

  /** GET /healthz/ready on the node's readiness server: status and body. */
  async readyz(): Promise<{ status: number; body: string }> {
    const { host, port } = this.zt.servers.readiness;
    const res = await fetch(`http://${host}:${port}/healthz/ready`);
    return { status: res.status, body: await res.text() };
  }

  async stop(): Promise<void> {
    try {
      await this.zt.shutdown('test over');
    } finally {
      this.cni.close();
      rmSync(this.#dir, { recursive: true, force: true });
    }
  }
}
