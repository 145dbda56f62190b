// Peers: for every other node the state knows, dial one of its HBONE pods on 15008 as zt would (a
// timed TCP connect, then mTLS with the pod's identity) — where NetworkPolicies usually break the
// mesh.
import type { Shared } from './check-ca.ts';
import { hboneProbe } from './probe.ts';
import { type DumpWorkload, pemOf, type Target } from './target.ts';
import { type CheckResult, cannotCheck, result } from './types.ts';

const HBONE_PORT = 15008;
/** Peers dialled at once. */
const CONCURRENCY = 8;
/** Nodes dialled per run, so a large cluster answers in seconds (the first by name). */
const MAX_NODES = 64;

interface PeerOutcome {
  node: string;
  line: string;
  ok: boolean;
}

function identityOf(w: DumpWorkload, trustDomain: string): string {
  return `spiffe://${w.trustDomain || trustDomain}/ns/${w.namespace}/sa/${w.serviceAccount || 'default'}`;
}

/** One HBONE pod per other node: the first by namespace/name, so runs are comparable. */
export function peerTargets(t: Target): { node: string; workload: DumpWorkload }[] {
  const own = t.config?.nodeName ?? t.status?.nodeName ?? '';
  const byNode = new Map<string, DumpWorkload>();
  const sorted = [...(t.dump?.workloads ?? [])].sort((a, b) =>
    `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`),
  );
  for (const w of sorted) {
    if (!w.node || w.node === own || w.protocol !== 'HBONE' || w.workloadIps.length === 0) continue;
    if (!byNode.has(w.node)) byNode.set(w.node, w);
  }
  return [...byNode.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([node, workload]) => ({ node, workload }));
}

async function pool<T, R>(items: readonly T[], n: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i] as T);
      }
    }),
  );
  return out;
}

export async function checkPeers(t: Target, shared: Shared): Promise<CheckResult> {
  if (!t.dump) return cannotCheck('peers', t.adminError);
  const all = peerTargets(t);
  if (all.length === 0) return result('peers', 'skip', 'no other node with HBONE workloads in the state');
  const targets = all.slice(0, MAX_NODES);
  const trustDomain = t.config?.trustDomain ?? 'cluster.local';
  const cert = shared.certificate;
  const roots = cert
    ? [...cert.roots]
    : (t.dump.certificates.find((c) => c.rootCerts.length)?.rootCerts.map(pemOf) ?? []);
  const clientCert = cert ? { chain: cert.certChain.join('\n'), key: cert.privateKey } : undefined;
  const outcomes = await pool(targets, CONCURRENCY, async ({ node, workload }): Promise<PeerOutcome> => {
    const ip = workload.workloadIps[0] as string;
    const where = `${node} via ${workload.namespace}/${workload.name} ${ip}:${HBONE_PORT}`;
    try {
      const r = await hboneProbe({
        host: ip,
        port: HBONE_PORT,
        roots,
        expectedUri: identityOf(workload, trustDomain),
        cert: clientCert,
        timeoutMs: t.timeoutMs,
      });
      const mtls =
        r.hboneMs !== undefined
          ? `mTLS accepted, HTTP/2 up in ${r.hboneMs} ms`
          : 'server identity verified; mTLS not tested (no client certificate: see the CA check)';
      return { node, ok: true, line: `${where}: TCP ${r.tcpMs} ms, TLS ${r.tlsMs} ms, ${mtls}` };
    } catch (e) {
      const err = e as Error & { step?: string };
      const step = err.step === 'tcp' ? 'TCP connect' : err.step === 'tls' ? 'TLS handshake' : 'HBONE';
      return { node, ok: false, line: `${where}: ${step} failed: ${err.message}` };
    }
  });
  const failed = outcomes.filter((o) => !o.ok);
  const details = outcomes.map((o) => o.line);
  if (all.length > targets.length)
    details.push(`checked the first ${targets.length} of ${all.length} other nodes`);
  if (failed.length) {
    const tcp = failed.some((o) => /TCP connect failed/.test(o.line));
    return result(
      'peers',
      'fail',
      `${failed.length} of ${outcomes.length} nodes unreachable over HBONE: ${failed[0]?.line}${
        tcp ? ': maybe a NetworkPolicy is blocking HBONE port 15008' : ''
      }`,
      details,
      tcp
        ? 'allow TCP 15008 between nodes and pods (NetworkPolicy, firewall, cloud security groups), and check that zt runs on those nodes'
        : "check that those nodes' zt trust the same root (the same istiod CA) and serve their pods' certificates",
    );
  }
  return result(
    'peers',
    'pass',
    `${outcomes.length} other node${outcomes.length === 1 ? '' : 's'} reached over HBONE (${outcomes.map((o) => o.node).join(', ')})`,
    details,
  );
}
