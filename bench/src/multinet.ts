// The multi-network scenario: double HBONE's bulk throughput as a ratio to single HBONE in the same
// run. Three zt nodes of its own (spawned as the app, 1 worker each, loopback lab mode): node A
// holds a client pod on network "net1"; node G the east-west gateway pod and node B the server
// pod, both on "net2". The client dials a service VIP whose only endpoint is on net2: node A
// carries it as an outer HBONE tunnel to the gateway with the inner HBONE (mTLS with node B's
// pod) inside, and node G forwards the inner TLS to node B unread. Single HBONE is the setup's
// 1-worker mesh (client zt -> destination zt); each repetition runs both, in rotated order.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runBulk } from './load/bulk.ts';
import { spawnNode, stopNode, waitReady, ZT_ENTRY, type ZtFrom, type ZtNode } from './mesh.ts';
import { median } from './stats.ts';
import { meshTarget, type Target } from './targets.ts';

export interface MultinetResults {
  /** Gbit/s, medians over repetitions. */
  single: { median: number; samples: number[] };
  double: { median: number; samples: number[] };
  /** Median of each repetition's double / single. */
  ratio: number;
  note: string;
}

export class MultinetError extends Error {
  readonly code = 'ERR_ZT_BENCH_MULTINET';
}

/** Connections a node's metrics say it opened (istio_tcp_connections_opened_total, every series). */
async function openedAt(node: ZtNode): Promise<number> {
  const text = await (await fetch(node.metricsUrl)).text();
  let n = 0;
  for (const m of text.matchAll(/^istio_tcp_connections_opened_total\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
}

const NODES = {
  a: { name: 'bench-mn-a', ip: '127.0.0.11', network: 'net1' },
  g: { name: 'bench-mn-gw', ip: '127.0.0.12', network: 'net2' },
  b: { name: 'bench-mn-b', ip: '127.0.0.13', network: 'net2' },
} as const;
const CLIENT_IP = '127.0.11.10';
const GATEWAY_IP = '127.0.12.10';
const SERVER_IP = '127.0.13.10';
const VIP = '127.10.13.10';
const HOSTNAME = 'bulk.bench-server.svc.cluster.local';

/** The three nodes' local config (upstream's LOCAL_XDS_PATH format); the service maps `port` to itself. */
export function multinetYaml(port: number): string {
  const workload = (role: string, ns: string, ip: string, node: keyof typeof NODES, extra: string[] = []) =>
    [
      `  - uid: bench//v1/Pod/${ns}/mn-${role}`,
      `    name: mn-${role}`,
      `    namespace: ${ns}`,
      `    serviceAccount: ${role}`,
      `    workloadIps: ["${ip}"]`,
      '    protocol: HBONE',
      `    node: ${NODES[node].name}`,
      `    network: ${NODES[node].network}`,
      ...extra,
    ].join('\n');
  return [
    '# zt bench multi-network mesh: generated, do not edit',
    'workloads:',
    workload('client', 'bench-client', CLIENT_IP, 'a'),
    workload('eastwest', 'istio-system', GATEWAY_IP, 'g'),
    workload('server', 'bench-server', SERVER_IP, 'b', [
      `    networkGateway: {destination: "${NODES.g.network}/${GATEWAY_IP}", hboneMtlsPort: 15008}`,
      '    services:',
      `      bench-server/${HOSTNAME}: {${port}: ${port}}`,
    ]),
    'services:',
    '  - name: bulk',
    '    namespace: bench-server',
    `    hostname: ${HOSTNAME}`,
    `    vips: ["${NODES.a.network}/${VIP}"]`,
    `    ports: {${port}: ${port}}`,
    'policies: []',
    '',
  ].join('\n');
}

export async function runMultinetScenario(o: {
  dir: string;
  from: ZtFrom;
  nodeArgs?: string[];
  /** The setup's 1-worker mesh: single HBONE, client zt -> destination zt. */
  single: Target;
  serverPort: number;
  bytes: number;
  warmupBytes: number;
  reps: number;
  log: (s: string) => void;
}): Promise<MultinetResults> {
  const yaml = join(o.dir, 'multinet-mesh.yaml');
  writeFileSync(yaml, multinetYaml(o.serverPort));
  const nodes: ZtNode[] = [];
  try {
    for (const n of Object.values(NODES)) {
      nodes.push(
        spawnNode(
          {
            FAKE_CA: 'true',
            LOCAL_XDS_PATH: yaml,
            NODE_NAME: n.name,
            INSTANCE_IP: n.ip,
            POD_NAME: `ztunnel-${n.name}`,
            POD_NAMESPACE: 'istio-system',
            NETWORK: n.network,
            ZT_LAB_MODE: 'true',
            ZT_BIND_ADDRESS: n.ip,
            ZT_PER_WORKLOAD_LISTENERS: 'true',
            UNSTABLE_ENABLE_SOCKS5: 'true',
            ZTUNNEL_WORKER_THREADS: '1',
            RUST_LOG: 'warn',
          },
          o.nodeArgs ?? [],
          ZT_ENTRY[o.from],
          n.name,
          n.ip,
        ),
      );
    }
    await Promise.all(nodes.map((n) => waitReady(n, 60_000)));
    const double = meshTarget(
      'zt double HBONE',
      { host: NODES.a.ip, port: 15080 },
      CLIENT_IP,
      { host: VIP, port: o.serverPort },
      nodes.map((n) => n.pid),
    );
    const bulk = (t: Target, bytes: number) =>
      runBulk(t, { connections: 1, bytesPerConnection: bytes, bidirectional: false });
    for (const t of [o.single, double]) if (o.warmupBytes > 0) await bulk(t, o.warmupBytes);
    const single: number[] = [];
    const twice: number[] = [];
    const ratios: number[] = [];
    for (let rep = 0; rep < o.reps; rep++) {
      const order = rep % 2 === 0 ? [o.single, double] : [double, o.single];
      const got = new Map<Target, number>();
      for (const t of order) got.set(t, (await bulk(t, o.bytes)).gbps);
      const s = got.get(o.single) ?? 0;
      const d = got.get(double) ?? 0;
      single.push(s);
      twice.push(d);
      if (s > 0) ratios.push(d / s);
      o.log(
        `  multinet: run ${rep + 1}/${o.reps}: single HBONE ${s.toFixed(2)} Gbit/s, double HBONE ${d.toFixed(2)} Gbit/s`,
      );
    }
    // The double runs must have crossed the gateway: a route that skipped it would measure single HBONE.
    const viaGateway = await openedAt(nodes[1] as ZtNode);
    if (viaGateway < o.reps) {
      throw new MultinetError(
        `the gateway node counted ${viaGateway} connections for ${o.reps} double-HBONE runs; last output:\n${nodes[1]?.tail()}`,
      );
    }
    return {
      single: { median: median(single), samples: single },
      double: { median: median(twice), samples: twice },
      ratio: median(ratios),
      note: `1 connection one way, ${o.bytes / 2 ** 20} MiB per run; double: client zt (net1) -> east-west gateway zt (net2) -> destination zt, 1 worker each; single: the 1-worker mesh`,
    };
  } finally {
    await Promise.all(nodes.map((n) => stopNode(n)));
  }
}

/** The scenario's lines for the report. */
export function renderMultinet(r: MultinetResults): string {
  return [
    'Multi-network (double HBONE through an east-west gateway; medians over runs)',
    `  single HBONE  ${r.single.median.toFixed(2).padStart(6)} Gbit/s`,
    `  double HBONE  ${r.double.median.toFixed(2).padStart(6)} Gbit/s  (x${r.ratio.toFixed(2)} of single, median of per-run ratios)`,
    `  ${r.note}`,
  ].join('\n');
}
