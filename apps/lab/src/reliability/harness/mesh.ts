// A two-node zt mesh for the reliability suite: our test CA and xDS server in this process, two zt
// child processes (node-a with the clients, node-b with the servers), every address on a loopback
// /24 of the test file's own (127.0.3x.0) so files can run in parallel with each other and with
// other packages' tests. Peers dial HBONE on 15008 of the pod addresses, as upstream does; those
// addresses are ours alone, so the well-known port is safe there.
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { socksDial } from '@zt/core/testing';
import { TestCaServer } from '@zt/identity/testing';
import type { Authorization, Service, Workload } from '@zt/xds';
import { emptyMatch, makePolicy, makeService, makeWorkload, TestXdsServer } from '@zt/xds/testing';
import { type HashEcho, startHashEcho } from './echo.ts';
import { type FaultProxy, hostPort, startFaultProxy } from './fault-proxy.ts';
import { ZtProcess } from './zt.ts';

export interface MeshOptions {
  /** The file's /24, e.g. `127.0.31`. */
  prefix: string;
  /** Extra environment for both nodes, or per node. */
  env?: Record<string, string>;
  envA?: Record<string, string>;
  envB?: Record<string, string>;
  workers?: number;
  /** Put fault proxies between the nodes and the xDS and CA servers. */
  faultProxies?: boolean;
}

export interface Mesh {
  prefix: string;
  ca: TestCaServer;
  xds: TestXdsServer;
  a: ZtProcess;
  b: ZtProcess;
  echo: HashEcho;
  /** Pod addresses. */
  ip: { client: string; intruder: string; echo: string; spare: string; ghost: string };
  workloads: { client: Workload; intruder: Workload; echo: Workload; spare: Workload; ghost: Workload };
  service: Service;
  denyUntrusted: Authorization;
  xdsProxy: FaultProxy | undefined;
  caProxy: FaultProxy | undefined;
  /** SOCKS5 through node-a from a pod address (default the client pod) to `dest`. */
  dial(dest: { host: string; port: number }, from?: string): Promise<Socket>;
  /** The environment node `name` was started with (to restart it). */
  envOf(name: 'a' | 'b'): Record<string, string>;
  restart(name: 'a' | 'b', signal?: NodeJS.Signals): Promise<ZtProcess>;
  close(): Promise<void>;
}

export function nodeEnv(
  name: string,
  bind: string,
  xds: string,
  ca: string,
  extra: Record<string, string>,
): Record<string, string> {
  return {
    XDS_ADDRESS: xds,
    CA_ADDRESS: ca,
    // The harness reads zt's log lines as JSON.
    LOG_FORMAT: 'json',
    CLUSTER_ID: 'Kubernetes',
    NODE_NAME: name,
    POD_NAME: `ztunnel-${name}`,
    POD_NAMESPACE: 'istio-system',
    INSTANCE_IP: bind,
    // zt's loopback lab: no istio-cni here, every node on an address of this host.
    ZT_LAB_MODE: 'true',
    ZT_BIND_ADDRESS: bind,
    ZT_PER_WORKLOAD_LISTENERS: 'true',
    UNSTABLE_ENABLE_SOCKS5: 'true',
    ZTUNNEL_WORKER_THREADS: '1',
    ZT_ADMIN_PORT: '0',
    ZT_STATS_PORT: '0',
    ZT_READINESS_PORT: '0',
    ZT_OUTBOUND_PORT: '0',
    ZT_INBOUND_PLAINTEXT_PORT: '0',
    ZT_INBOUND_PORT: '15008',
    ZT_SOCKS5_PORT: '0',
    RUST_LOG: 'debug',
    AUTH_TOKEN: '',
    ...extra,
  };
}

export async function startMesh(opts: MeshOptions): Promise<Mesh> {
  const p = opts.prefix;
  const ip = {
    client: `${p}.10`,
    intruder: `${p}.11`,
    echo: `${p}.20`,
    spare: `${p}.21`,
    ghost: `${p}.30`,
  };
  const echo = await startHashEcho(ip.echo);
  const client = makeWorkload({
    name: 'client',
    namespace: 'frontend',
    serviceAccount: 'client',
    workloadIps: [ip.client],
    node: 'node-a',
  });
  const intruder = makeWorkload({
    name: 'intruder',
    namespace: 'untrusted',
    serviceAccount: 'intruder',
    workloadIps: [ip.intruder],
    node: 'node-a',
  });
  const svcKey = 'backend/echo.backend.svc.cluster.local';
  const echoW = makeWorkload({
    name: 'echo',
    namespace: 'backend',
    serviceAccount: 'echo',
    workloadIps: [ip.echo],
    node: 'node-b',
    services: { [svcKey]: { 80: echo.port } },
  });
  const spare = makeWorkload({
    name: 'spare',
    namespace: 'backend',
    serviceAccount: 'spare',
    workloadIps: [ip.spare],
    node: 'node-b',
  });
  // A pod of a node without zt: tests stand a fake HBONE server at its address.
  const ghost = makeWorkload({
    name: 'ghost',
    namespace: 'backend',
    serviceAccount: 'ghost',
    workloadIps: [ip.ghost],
    node: 'node-c',
  });
  const service = makeService({
    name: 'echo',
    namespace: 'backend',
    vips: [{ network: '', address: `${p}.100` }],
    ports: [{ servicePort: 80, targetPort: echo.port }],
  });
  const denyUntrusted = makePolicy({ name: 'deny-untrusted', namespace: 'backend', action: 'Deny' }, [
    emptyMatch({ namespaces: [{ kind: 'exact', value: 'untrusted' }] }),
  ]);
  const ca = await TestCaServer.start();
  const xds = await TestXdsServer.start({
    resources: {
      workloads: [client, intruder, echoW, spare, ghost],
      services: [service],
      policies: [denyUntrusted],
    },
  });
  const xdsProxy = opts.faultProxies ? await startFaultProxy(hostPort(xds.address)) : undefined;
  const caProxy = opts.faultProxies ? await startFaultProxy(hostPort(ca.address)) : undefined;
  const xdsAddr = xdsProxy?.address ?? xds.address;
  const caAddr = caProxy?.address ?? ca.address;
  const envs = {
    a: nodeEnv('node-a', `${p}.1`, xdsAddr, caAddr, { ...opts.env, ...opts.envA }),
    b: nodeEnv('node-b', `${p}.2`, xdsAddr, caAddr, { ...opts.env, ...opts.envB }),
  };
  if (opts.workers !== undefined) {
    envs.a['ZTUNNEL_WORKER_THREADS'] = String(opts.workers);
    envs.b['ZTUNNEL_WORKER_THREADS'] = String(opts.workers);
  }
  const started = await Promise.allSettled([
    ZtProcess.start('node-a', envs.a),
    ZtProcess.start('node-b', envs.b),
  ]);
  if (started[0].status === 'rejected' || started[1].status === 'rejected') {
    for (const s of started) if (s.status === 'fulfilled') await s.value.stop('SIGKILL');
    await Promise.allSettled([xds.close(), ca.close(), echo.close()]);
    const why = started.find((s) => s.status === 'rejected') as PromiseRejectedResult;
    throw why.reason;
  }
  const [a, b] = [started[0].value, started[1].value];
  const mesh: Mesh = {
    prefix: p,
    ca,
    xds,
    a,
    b,
    echo,
    ip,
    workloads: { client, intruder, echo: echoW, spare, ghost },
    service,
    denyUntrusted,
    xdsProxy,
    caProxy,
    dial: (dest, from = ip.client) => {
      const l = mesh.a.listener('socks5', 'socks5');
      // Not half-open: the suite's clients close when the far side does, as ordinary clients do.
      return socksDial(
        { address: l.address, port: l.port },
        from,
        { address: dest.host, port: dest.port },
        { allowHalfOpen: false },
      ).then((s) => s.setNoDelay(true));
    },
    envOf: (name) => envs[name],
    async restart(name, signal = 'SIGKILL') {
      await mesh[name].stop(signal);
      mesh[name] = await ZtProcess.start(`node-${name}`, envs[name]);
      await waitReady(mesh[name]);
      return mesh[name];
    },
    async close() {
      await Promise.allSettled([mesh.a.stop('SIGKILL'), mesh.b.stop('SIGKILL')]);
      // Bounded: a server still holding a connection of a failed case would otherwise keep its
      // close() (and the suite's after hook, which has no timeout) waiting forever. Seen once: the
      // faults suite's file hung for 12 minutes after three of its cases failed.
      await Promise.race([
        Promise.allSettled([xds.close(), ca.close(), echo.close(), xdsProxy?.close(), caProxy?.close()]),
        sleep(10_000, undefined, { ref: false }),
      ]);
    },
  };
  try {
    await Promise.all([waitReady(a), waitReady(b)]);
  } catch (e) {
    await mesh.close();
    throw e;
  }
  return mesh;
}

export async function waitReady(zt: ZtProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${zt.ready.readiness}/healthz/ready`).catch(() => undefined);
    if (res?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${zt.name} not ready in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Writes `bytes` random bytes, half-closes, reads the echo; resolves with both hashes. */
export async function roundTrip(
  sock: Socket,
  bytes: number,
  timeoutMs = 20_000,
): Promise<{ sent: string; got: string; gotBytes: number }> {
  const sentHash = createHash('sha256');
  const gotHash = createHash('sha256');
  let gotBytes = 0;
  const done = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error(`echo of ${bytes} B timed out after ${gotBytes} B`));
    }, timeoutMs);
    sock.on('data', (d: Buffer) => {
      gotHash.update(d);
      gotBytes += d.length;
    });
    sock.once('end', () => {
      clearTimeout(t);
      resolve();
    });
    sock.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    sock.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
  let left = bytes;
  while (left > 0) {
    const chunk = randomBytes(Math.min(left, 64 * 1024));
    left -= chunk.length;
    sentHash.update(chunk);
    if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
  }
  sock.end();
  await done;
  return { sent: sentHash.digest('hex'), got: gotHash.digest('hex'), gotBytes };
}

/** Sends `msg` and resolves with the next chunk of the echo (a liveness check for long tunnels). */
export function ping(sock: Socket, msg: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const t = setTimeout(() => {
      cleanup();
      reject(new Error(`no echo of "${msg}" within ${timeoutMs} ms (got "${got}")`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.length >= msg.length) {
        cleanup();
        resolve(got);
      }
    };
    const onClose = () => {
      cleanup();
      reject(new Error(`tunnel closed while waiting for "${msg}"`));
    };
    const cleanup = () => {
      clearTimeout(t);
      sock.off('data', onData);
      sock.off('close', onClose);
    };
    sock.on('data', onData);
    sock.once('close', onClose);
    sock.write(msg);
  });
}
