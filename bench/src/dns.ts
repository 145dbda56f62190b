// The DNS scenario: one zt node (spawned as the app) serving its DNS proxy on the node address, a
// forward target of ours (@zt/dns/testing's server, never the machine's resolvers) named by a
// resolv.conf zt reads. Three loads, interleaved per repetition: a mesh name answered from zt's
// memory, a name zt forwards, and that same name sent straight to the forward target; reported as
// queries per second and p99, and as ratios to the direct run of the same repetition.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dnsQuery, TestDnsServer } from '@zt/dns/testing';
import { type DnsLoadResult, runDnsLoad } from './load/dns.ts';
import { spawnNode, stopNode, waitReady, ZT_ENTRY, type ZtFrom } from './mesh.ts';

export interface DnsRow {
  /** Median over repetitions. */
  qps: number;
  p99Ms: number;
  lost: number;
}

export interface DnsResults {
  mesh: DnsRow;
  forwarded: DnsRow;
  direct: DnsRow;
  /** Medians of the per-repetition ratios (zt's figure over direct's in the same repetition). */
  ratios: { meshQps: number; forwardedQps: number; forwardedP99: number };
  note: string;
}

const NODE_IP = '127.0.40.1';
const CLIENT_IP = '127.0.40.10';
const VIP = '127.10.40.10';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : (s[Math.floor((s.length - 1) / 2)] ?? 0);
}

function row(rs: DnsLoadResult[]): DnsRow {
  return {
    qps: median(rs.map((r) => r.qps)),
    p99Ms: median(rs.map((r) => r.p99Ms)),
    lost: rs.reduce((n, r) => n + r.lost, 0),
  };
}

export async function runDnsScenario(o: {
  dir: string;
  from: ZtFrom;
  nodeArgs?: string[];
  durationMs: number;
  reps: number;
  log: (s: string) => void;
}): Promise<DnsResults> {
  const up = await TestDnsServer.start();
  up.set('example.org', 'A', ['93.184.216.34']);
  const resolvConf = join(o.dir, 'dns-resolv.conf');
  writeFileSync(resolvConf, `nameserver ${up.host}\noptions timeout:1 attempts:1\n`);
  const yaml = join(o.dir, 'dns-mesh.yaml');
  writeFileSync(
    yaml,
    [
      'workloads:',
      '  - uid: bench//v1/Pod/bench/dns-client',
      '    name: dns-client',
      '    namespace: bench',
      `    workloadIps: ["${CLIENT_IP}"]`,
      '    node: dns-node',
      'services:',
      '  - name: echo',
      '    namespace: bench',
      '    hostname: echo.bench.svc.cluster.local',
      `    vips: ["/${VIP}"]`,
      'policies: []',
      '',
    ].join('\n'),
  );
  const node = spawnNode(
    {
      FAKE_CA: 'true',
      LOCAL_XDS_PATH: yaml,
      NODE_NAME: 'dns-node',
      INSTANCE_IP: NODE_IP,
      ZT_LAB_MODE: 'true',
      ZT_BIND_ADDRESS: NODE_IP,
      ZTUNNEL_WORKER_THREADS: '1',
      RUST_LOG: 'warn',
      ISTIO_META_DNS_PROXY_ADDR: `${NODE_IP}:15053`,
      ZT_DNS_RESOLV_CONF: resolvConf,
      ZT_DNS_FORWARD_PORT: String(up.port),
      // The default (5000 q/s per source) is a flood guard; the bench is one source on purpose.
      ZT_DNS_QPS_PER_SOURCE: '10000000',
    },
    o.nodeArgs ?? [],
    ZT_ENTRY[o.from],
    'dns-node',
    NODE_IP,
  );
  try {
    await waitReady(node, 60_000);
    const load = (host: string, port: number, name: string) =>
      runDnsLoad({
        host,
        port,
        query: dnsQuery({ name, type: 'A' }),
        localAddress: CLIENT_IP,
        durationMs: o.durationMs,
      });
    // Unmeasured warm-up of each path.
    await load(NODE_IP, 15053, 'echo');
    await load(NODE_IP, 15053, 'example.org');
    const runs = {
      mesh: [] as DnsLoadResult[],
      forwarded: [] as DnsLoadResult[],
      direct: [] as DnsLoadResult[],
    };
    const ratios = { meshQps: [] as number[], forwardedQps: [] as number[], forwardedP99: [] as number[] };
    for (let rep = 0; rep < o.reps; rep++) {
      const direct = await load(up.host, up.port, 'example.org');
      const mesh = await load(NODE_IP, 15053, 'echo');
      const forwarded = await load(NODE_IP, 15053, 'example.org');
      runs.direct.push(direct);
      runs.mesh.push(mesh);
      runs.forwarded.push(forwarded);
      if (direct.qps > 0) {
        ratios.meshQps.push(mesh.qps / direct.qps);
        ratios.forwardedQps.push(forwarded.qps / direct.qps);
      }
      if (direct.p99Ms > 0) ratios.forwardedP99.push(forwarded.p99Ms / direct.p99Ms);
      o.log(
        `  dns: run ${rep + 1}/${o.reps}: mesh ${mesh.qps.toFixed(0)} q/s, forwarded ${forwarded.qps.toFixed(0)} q/s, direct ${direct.qps.toFixed(0)} q/s`,
      );
    }
    return {
      mesh: row(runs.mesh),
      forwarded: row(runs.forwarded),
      direct: row(runs.direct),
      ratios: {
        meshQps: median(ratios.meshQps),
        forwardedQps: median(ratios.forwardedQps),
        forwardedP99: median(ratios.forwardedP99),
      },
      note: `UDP, 4 sockets x 16 queries in flight from ${CLIENT_IP}, ${o.durationMs} ms per run; zt 1 worker; direct: the same forwarded name sent to the forward target, which runs in the bench process beside the load generator (so direct and forwarded share its event loop)`,
    };
  } finally {
    await stopNode(node);
    await up.close();
  }
}

/** The scenario's lines for the report. */
export function renderDns(r: DnsResults): string {
  const f = (x: DnsRow) =>
    `${x.qps.toFixed(0).padStart(8)} q/s  p99 ${x.p99Ms.toFixed(2).padStart(7)} ms  lost ${x.lost}`;
  return [
    'DNS (UDP queries; medians over runs)',
    `  mesh name, answered by zt      ${f(r.mesh)}  (x${r.ratios.meshQps.toFixed(2)} of direct q/s)`,
    `  forwarded name, through zt     ${f(r.forwarded)}  (x${r.ratios.forwardedQps.toFixed(2)} of direct q/s, p99 x${r.ratios.forwardedP99.toFixed(2)})`,
    `  same name, straight to target  ${f(r.direct)}`,
    `  ${r.note}`,
  ].join('\n');
}
