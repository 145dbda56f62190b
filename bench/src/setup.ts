// Everything a run needs, started once: the target server (its own process), two zt meshes (1 and
// 2 worker threads, on distinct loopback addresses and pod IPs so both can run at once), and the
// peer proxy pairs. `stop()` ends only what was started here.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Mesh, type MeshSpec, startMesh, type ZtFrom } from './mesh.ts';
import { findBinary, type PeerKind, type PeerPair, startPeerPair } from './peers/pair.ts';
import { writeTlsFiles } from './peers/tls.ts';
import { directTarget, meshTarget, peerTarget, type Target } from './targets.ts';

export const MESH_1W: MeshSpec = {
  name: 'w1',
  nodeA: { name: 'bench-w1-a', ip: '127.0.0.2' },
  nodeB: { name: 'bench-w1-b', ip: '127.0.0.3' },
  clientPodIp: '127.0.1.10',
  serverPodIp: '127.0.2.10',
  workers: 1,
};
export const MESH_2W: MeshSpec = {
  name: 'w2',
  nodeA: { name: 'bench-w2-a', ip: '127.0.0.4' },
  nodeB: { name: 'bench-w2-b', ip: '127.0.0.5' },
  clientPodIp: '127.0.3.10',
  serverPodIp: '127.0.4.10',
  workers: 2,
};

/** An A/B run's old build: 1 worker, like MESH_1W, on addresses of its own. */
export const MESH_OLD: MeshSpec = {
  name: 'old',
  nodeA: { name: 'bench-old-a', ip: '127.0.0.6' },
  nodeB: { name: 'bench-old-b', ip: '127.0.0.7' },
  clientPodIp: '127.0.5.10',
  serverPodIp: '127.0.6.10',
  workers: 1,
};

export interface Setup {
  direct: Target;
  /** The target server's port (it listens on every loopback address). */
  serverPort: number;
  zt1: Target;
  zt2: Target;
  /** `--against <ref>`: that ref's build, a 1-worker mesh like zt1's. */
  old?: Target;
  peers: Partial<Record<PeerKind, Target>>;
  /** Why a peer pair is absent. */
  missing: Partial<Record<PeerKind, string>>;
  meshes: { w1: Mesh; w2: Mesh; old?: Mesh };
  stop(): Promise<void>;
}

function meshMetrics(m: Mesh): { node: string; url: string }[] {
  return [
    { node: 'A', url: m.a.metricsUrl },
    { node: 'B', url: m.b.metricsUrl },
  ];
}

async function startServerProcess(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    ['--conditions=zt-source', fileURLToPath(new URL('./server-main.ts', import.meta.url))],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (l) =>
      resolve((JSON.parse(l) as { port: number }).port),
    );
    child.once('exit', (code) => reject(new Error(`bench server exited (${code}) before listening`)));
  });
  return { child, port };
}

export async function startSetup(opts: {
  dir: string;
  ztNodeArgs?: string[];
  ztFrom?: ZtFrom;
  /** An A/B run's old side: its built entry point and the row label. */
  old?: { entry: string; name: string };
  log: (s: string) => void;
}): Promise<Setup> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const server = await startServerProcess();
    stops.push(async () => {
      const exited = new Promise((r) => server.child.once('exit', r));
      server.child.stdin?.end();
      await exited;
    });
    opts.log(`target server on 0.0.0.0:${server.port} (pid ${server.child.pid})`);
    const meshOpts = {
      dir: opts.dir,
      ...(opts.ztFrom ? { from: opts.ztFrom } : {}),
      ...(opts.ztNodeArgs ? { nodeArgs: opts.ztNodeArgs } : {}),
    };
    const [w1, w2, old] = await Promise.all([
      startMesh(MESH_1W, meshOpts),
      startMesh(MESH_2W, meshOpts),
      opts.old ? startMesh(MESH_OLD, { ...meshOpts, entry: opts.old.entry }) : undefined,
    ]);
    stops.push(w1.stop, w2.stop);
    if (old) stops.push(old.stop);
    opts.log(
      `zt meshes ready: 1 worker (pids ${w1.a.pid}, ${w1.b.pid}), 2 workers (pids ${w2.a.pid}, ${w2.b.pid})${old ? `, ${opts.old?.name} (pids ${old.a.pid}, ${old.b.pid})` : ''}`,
    );
    const tls = await writeTlsFiles(opts.dir);
    const peers: Partial<Record<PeerKind, Target>> = {};
    const missing: Partial<Record<PeerKind, string>> = {};
    for (const kind of ['stunnel', 'haproxy'] as const) {
      if (!findBinary(kind)) {
        missing[kind] =
          `${kind} is not installed (Debian package ${kind === 'stunnel' ? 'stunnel4' : 'haproxy'})`;
        opts.log(missing[kind] as string);
        continue;
      }
      // One thread per proxy, the CPU share of a 1-worker zt.
      const pair: PeerPair = await startPeerPair(kind, {
        dir: opts.dir,
        tls,
        target: { host: '127.0.0.1', port: server.port },
        threads: 1,
      });
      stops.push(pair.stop);
      peers[kind] = peerTarget(kind, pair.entry, pair.pids);
      opts.log(`${kind} pair ready on ${pair.entry.host}:${pair.entry.port} (pids ${pair.pids.join(', ')})`);
    }
    return {
      direct: directTarget({ host: MESH_1W.serverPodIp, port: server.port }, MESH_1W.clientPodIp),
      serverPort: server.port,
      zt1: meshTarget(
        'zt (1 worker)',
        w1.socks,
        MESH_1W.clientPodIp,
        { host: MESH_1W.serverPodIp, port: server.port },
        [w1.a.pid, w1.b.pid],
        meshMetrics(w1),
      ),
      zt2: meshTarget(
        'zt (2 workers)',
        w2.socks,
        MESH_2W.clientPodIp,
        { host: MESH_2W.serverPodIp, port: server.port },
        [w2.a.pid, w2.b.pid],
        meshMetrics(w2),
      ),
      ...(old && opts.old
        ? {
            old: meshTarget(
              opts.old.name,
              old.socks,
              MESH_OLD.clientPodIp,
              { host: MESH_OLD.serverPodIp, port: server.port },
              [old.a.pid, old.b.pid],
              meshMetrics(old),
            ),
          }
        : {}),
      peers,
      missing,
      meshes: { w1, w2, ...(old ? { old } : {}) },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
