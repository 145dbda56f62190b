// Two zt nodes on loopback, spawned as the app itself (never imported): node A holds the client
// pod, node B the server pod, both from one local-config file and FAKE_CA (one built-in fake root,
// so the nodes trust each other). The client enters the mesh through SOCKS5 on node A from the
// client pod's IP; node A carries the connection over HBONE (mTLS HTTP/2 CONNECT) to node B's
// per-workload 15008 listener on the server pod's IP, and node B connects to the server.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * How the zt nodes run: `dist`, the built JavaScript as the container image runs it (what the
 * figures are about), or `source`, the TypeScript through Node's type stripping (no build needed,
 * but it costs start-up time and about 65 MB of RSS per process).
 */
export type ZtFrom = 'dist' | 'source';

export const ZT_ENTRY: Record<ZtFrom, { path: string; nodeArgs: string[] }> = {
  dist: { path: fileURLToPath(new URL('../../apps/ztunnel/dist/main.js', import.meta.url)), nodeArgs: [] },
  source: {
    path: fileURLToPath(new URL('../../apps/ztunnel/src/main.ts', import.meta.url)),
    nodeArgs: ['--conditions=zt-source'],
  },
};

export interface MeshSpec {
  /** Prefix of node and workload names, e.g. "w1". */
  name: string;
  nodeA: { name: string; ip: string };
  nodeB: { name: string; ip: string };
  clientPodIp: string;
  serverPodIp: string;
  workers: number;
}

export class MeshError extends Error {
  readonly code = 'ERR_ZT_BENCH_MESH';
}

/** The mesh in upstream ztunnel's local-config format (LOCAL_XDS_PATH). */
export function meshYaml(spec: MeshSpec): string {
  const workload = (role: string, ip: string, node: string): string =>
    [
      `  - uid: bench//v1/Pod/bench-${role}/${spec.name}-${role}`,
      `    name: ${spec.name}-${role}`,
      `    namespace: bench-${role}`,
      `    serviceAccount: ${role}`,
      `    workloadIps: ["${ip}"]`,
      '    protocol: HBONE',
      `    node: ${node}`,
      '    network: ""',
      `    canonicalName: ${role}`,
      '    canonicalRevision: v1',
    ].join('\n');
  return [
    `# zt bench mesh ${spec.name}: generated, do not edit`,
    'workloads:',
    workload('client', spec.clientPodIp, spec.nodeA.name),
    workload('server', spec.serverPodIp, spec.nodeB.name),
    'services: []',
    'policies: []',
    '',
  ].join('\n');
}

/** The environment of one zt node of `spec`. */
export function nodeEnv(spec: MeshSpec, node: 'a' | 'b', yamlPath: string): Record<string, string> {
  const n = node === 'a' ? spec.nodeA : spec.nodeB;
  return {
    FAKE_CA: 'true',
    LOCAL_XDS_PATH: yamlPath,
    NODE_NAME: n.name,
    INSTANCE_IP: n.ip,
    POD_NAME: `ztunnel-${n.name}`,
    POD_NAMESPACE: 'istio-system',
    // zt's loopback lab: no istio-cni here, both nodes on addresses of this host.
    ZT_LAB_MODE: 'true',
    ZT_BIND_ADDRESS: n.ip,
    ZT_PER_WORKLOAD_LISTENERS: 'true',
    UNSTABLE_ENABLE_SOCKS5: 'true',
    ZTUNNEL_WORKER_THREADS: String(spec.workers),
    // Access logs are info level: keep them off the hot path.
    RUST_LOG: 'warn',
  };
}

export interface ZtNode {
  name: string;
  ip: string;
  child: ChildProcess;
  pid: number;
  /** Its Prometheus endpoint (upstream's 15020 on the node's address). */
  metricsUrl: string;
  /** The last lines the node wrote (for error messages). */
  tail(): string;
}

export interface Mesh {
  spec: MeshSpec;
  a: ZtNode;
  b: ZtNode;
  /** SOCKS5 address on node A. */
  socks: { host: string; port: number };
  stop(): Promise<void>;
}

/**
 * The Node flags zt ships with (`ztNodeFlags` in the app's package.json, which the image's
 * ENTRYPOINT and `npm run zt` pass too), read from the build being run: an A/B run's old build
 * runs with its own, so a commit that changes them is measured by `--against`.
 */
export function shippedNodeFlags(entryPath: string): string[] {
  const pkg = join(dirname(entryPath), '..', 'package.json');
  if (!existsSync(pkg)) return [];
  const flags = (JSON.parse(readFileSync(pkg, 'utf8')) as { ztNodeFlags?: unknown }).ztNodeFlags;
  return Array.isArray(flags) ? flags.filter((f): f is string => typeof f === 'string') : [];
}

export function spawnNode(
  env: Record<string, string>,
  nodeArgs: string[],
  entry: { path: string; nodeArgs: string[] },
  name: string,
  ip: string,
): ZtNode {
  const args = [...shippedNodeFlags(entry.path), ...nodeArgs, ...entry.nodeArgs, entry.path];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    // The IPC channel ties zt to the bench: zt leaves when the bench dies, even by SIGKILL.
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const lines: string[] = [];
  const keep = (d: Buffer): void => {
    lines.push(...d.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  if (child.pid === undefined) throw new MeshError(`could not spawn zt for ${name}`);
  return {
    name,
    ip,
    child,
    pid: child.pid,
    metricsUrl: `http://${ip}:15020/metrics`,
    tail: () => lines.join('\n'),
  };
}

export async function waitReady(node: ZtNode, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (node.child.exitCode !== null || node.child.signalCode !== null) {
      throw new MeshError(
        `zt ${node.name} exited (${node.child.exitCode ?? node.child.signalCode}):\n${node.tail()}`,
      );
    }
    try {
      const res = await fetch(`http://${node.ip}:15021/healthz/ready`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new MeshError(
    `zt ${node.name} was not ready on http://${node.ip}:15021/healthz/ready within ${timeoutMs} ms; last output:\n${node.tail()}`,
  );
}

export async function stopNode(node: ZtNode): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  const exited = new Promise((r) => node.child.once('exit', r));
  node.child.kill('SIGTERM');
  const timer = setTimeout(() => node.child.kill('SIGKILL'), 8000);
  await exited;
  clearTimeout(timer);
}

export async function startMesh(
  spec: MeshSpec,
  opts: {
    dir: string;
    nodeArgs?: string[];
    from?: ZtFrom;
    /** Another build's entry point (an A/B run's old side); replaces `from`. */
    entry?: string;
    readyTimeoutMs?: number;
  },
): Promise<Mesh> {
  const entry = opts.entry ? { path: opts.entry, nodeArgs: [] } : ZT_ENTRY[opts.from ?? 'dist'];
  const yamlPath = join(opts.dir, `mesh-${spec.name}.yaml`);
  writeFileSync(yamlPath, meshYaml(spec));
  const nodeArgs = opts.nodeArgs ?? [];
  const a = spawnNode(nodeEnv(spec, 'a', yamlPath), nodeArgs, entry, spec.nodeA.name, spec.nodeA.ip);
  const b = spawnNode(nodeEnv(spec, 'b', yamlPath), nodeArgs, entry, spec.nodeB.name, spec.nodeB.ip);
  const stop = async (): Promise<void> => {
    await Promise.all([stopNode(a), stopNode(b)]);
  };
  try {
    await Promise.all([
      waitReady(a, opts.readyTimeoutMs ?? 60_000),
      waitReady(b, opts.readyTimeoutMs ?? 60_000),
    ]);
  } catch (e) {
    await stop();
    throw e;
  }
  return { spec, a, b, socks: { host: spec.nodeA.ip, port: 15080 }, stop };
}
