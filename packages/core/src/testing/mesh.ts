import { connect, type Socket } from 'node:net';
import { Identity } from '@zt/identity';
import type { TestCa } from '@zt/identity/testing';
import { Logging } from '@zt/log';
import { type EchoServer, startEchoServer } from '@zt/transport/testing';
import type { Authorization, Service, StateSnapshot, Workload } from '@zt/xds';
import { makeService, makeWorkload } from '@zt/xds/testing';
import { DataPlane } from '../dataplane.ts';
import type { BoundListener } from '../options.ts';
import { testCaCertSource } from './certs.ts';

export interface MeshOptions {
  ca: TestCa;
  /** Worker threads per node (0: in process). */
  workers?: number;
  /**
   * Second octet of the pod addresses, so that meshes in parallel processes never collide:
   * node A's pods are 127.<octet>.1.x, node B's 127.<octet>.2.x. Default: random 100..250.
   */
  octet?: number;
  /** RUST_LOG-style filter of both nodes' logs (default `off`). */
  logLevel?: string;
  drainDeadlineMs?: number;
}

/**
 * Two zt nodes on loopback with a pod each: `client` (node A, 127.X.1.10) and `echo` (node B,
 * 127.X.2.10, an echo server on a free port), and service `echo` (VIP 127.X.3.10, port 80 -> the
 * echo port). SOCKS5 on node A on a free port. Shared by core's tests, the demo and the bench.
 */
export interface Mesh {
  ca: TestCa;
  a: DataPlane;
  b: DataPlane;
  echo: EchoServer;
  client: Workload;
  server: Workload;
  service: Service;
  vip: string;
  socksA: BoundListener;
  snapshot(policies?: Authorization[], version?: number): StateSnapshot;
  /** Pushes a snapshot with these policies to both nodes; resolves when every worker applied it. */
  setPolicies(policies: Authorization[]): Promise<void>;
  /** Opens a SOCKS5 connection from the client pod's address through node A to `target`. */
  dial(target: { address: string; port: number }): Promise<Socket>;
  close(): Promise<void>;
}

export async function startLoopbackMesh(opts: MeshOptions): Promise<Mesh> {
  const octet = opts.octet ?? 100 + Math.floor(Math.random() * 150);
  const pod = (n: number, host: number) => `127.${octet}.${n}.${host}`;
  const echo = await startEchoServer(pod(2, 10));
  const svcKey = `default/echo.default.svc.cluster.local`;
  const client = makeWorkload({
    name: 'client',
    serviceAccount: 'client',
    workloadIps: [pod(1, 10)],
    node: 'node-a',
  });
  const server = makeWorkload({
    name: 'echo',
    serviceAccount: 'echo',
    workloadIps: [pod(2, 10)],
    node: 'node-b',
    services: { [svcKey]: { 80: echo.address.port } },
  });
  const svc = makeService({ name: 'echo', vips: [pod(3, 10)], ports: { 80: echo.address.port } });
  let version = 1;
  const snapshot = (policies: Authorization[] = [], v = version++): StateSnapshot => ({
    version: v,
    workloads: [client, server],
    services: [svc],
    policies,
  });
  const certs = testCaCertSource(opts.ca);
  const common = {
    workers: opts.workers ?? 0,
    network: '',
    trustDomain: opts.ca.trustDomain,
    certs,
    logging: new Logging({ filter: opts.logLevel ?? 'off' }),
    drainDeadlineMs: opts.drainDeadlineMs ?? 5000,
  };
  const a = new DataPlane({
    ...common,
    nodeName: 'node-a',
    listeners: {
      shared: { address: '127.0.0.1', outbound: 0, inbound: 0, inboundPlaintext: 0 },
      workloads: { mode: 'loopback' },
    },
    socks5: { enabled: true, address: '127.0.0.1', port: 0 },
  });
  const b = new DataPlane({ ...common, nodeName: 'node-b', listeners: { workloads: { mode: 'loopback' } } });
  const initial = snapshot();
  await Promise.all([a.setState(initial), b.setState(initial)]);
  const boundA = await a.start();
  await b.start();
  const socksA = boundA.find((l) => l.kind === 'socks5');
  if (!socksA) throw new Error('node A has no SOCKS5 listener');
  // Identity of the client pod, minted ahead so the first connection does not wait on keygen.
  await certs.fetchCertificate(new Identity(opts.ca.trustDomain, 'default', 'client'));
  return {
    ca: opts.ca,
    a,
    b,
    echo,
    client,
    server,
    service: svc,
    vip: pod(3, 10),
    socksA,
    snapshot,
    async setPolicies(policies) {
      const s = snapshot(policies);
      await Promise.all([a.setState(s), b.setState(s)]);
    },
    dial: (target) => socksDial(socksA, pod(1, 10), target),
    async close() {
      await Promise.all([a.close(), b.close()]);
      await echo.close();
    },
  };
}

/** A SOCKS5 CONNECT from `localAddress`; resolves once the proxy has replied success. */
export function socksDial(
  socks: { address: string; port: number },
  localAddress: string,
  target: { address: string; port: number },
  options: { allowHalfOpen?: boolean } = {},
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({
      host: socks.address,
      port: socks.port,
      localAddress,
      allowHalfOpen: options.allowHalfOpen ?? true,
    });
    const ip = target.address.split('.').map(Number);
    s.once('error', reject);
    s.once('connect', () => {
      s.write(Buffer.from([5, 1, 0, 5, 1, 0, 1, ...ip, target.port >> 8, target.port & 0xff]));
    });
    let got = Buffer.alloc(0);
    // A proxy that refuses may just close: never leave the caller waiting for a reply.
    const onClose = () =>
      reject(new Error(`SOCKS5 proxy closed the connection after ${got.length} reply bytes`));
    s.once('close', onClose);
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < 12) return;
      s.off('data', onData);
      s.off('error', reject);
      s.off('close', onClose);
      if (got[0] !== 5 || got[1] !== 0 || got[3] !== 0)
        return reject(new Error(`SOCKS5 refused: ${[...got.subarray(0, 12)]}`));
      const rest = got.subarray(12);
      if (rest.length) s.unshift(rest);
      resolve(s);
    };
    s.on('data', onData);
  });
}
