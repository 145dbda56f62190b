// Ports: every listener zt reports (15001, 15006, 15008, 15000, 15020, 15021, and SOCKS5) is held
// by zt's own process and by no other (a stale zt or another proxy beside it with SO_REUSEPORT
// takes a share of the connections); 15053, upstream's DNS proxy port, is not zt's.
import { type ListenSocket, listeningSockets, overlaps, ownerOf, plain, socketInodes } from './procnet.ts';
import type { Target } from './target.ts';
import { type CheckResult, cannotCheck, result } from './types.ts';

const DNS_PORT = 15053;

const LABEL: Record<string, string> = {
  outbound: 'outbound',
  inboundPlaintext: 'inbound plaintext',
  inbound: 'inbound HBONE',
  socks5: 'SOCKS5',
  admin: 'admin',
  metrics: 'metrics',
  readiness: 'readiness',
  dns: 'DNS proxy',
};

function holder(s: ListenSocket): string {
  const o = ownerOf(s.inode);
  return o ? `pid ${o.pid} (${o.command})` : `socket inode ${s.inode} of a process not visible from here`;
}

const where = (address: string, port: number) =>
  `${address.includes(':') ? `[${address}]` : address}:${port}`;

export function checkPorts(t: Target): CheckResult {
  const s = t.status;
  if (!s) return cannotCheck('ports', t.adminError);
  let mine: Set<number>;
  let sockets: ListenSocket[];
  try {
    mine = socketInodes(s.pid);
    sockets = listeningSockets(s.pid);
  } catch (e) {
    return result(
      'ports',
      'skip',
      `cannot read zt's sockets (pid ${s.pid}): ${(e as Error).message}`,
      [],
      "run zt doctor as root inside zt's pod (kubectl exec) or on its node",
    );
  }
  const expected = [
    ...Object.entries(s.servers).map(([kind, v]) => ({ kind, address: v.host, port: v.port })),
    ...s.listeners.map((l) => ({ kind: l.kind, address: l.address, port: l.port })),
  ];
  const problems: string[] = [];
  const details: string[] = [];
  for (const e of expected) {
    const name = `${LABEL[e.kind] ?? e.kind} ${where(e.address, e.port)}`;
    const here = sockets.filter((x) => x.port === e.port && overlaps(x.address, e.address));
    const ours = here.filter((x) => mine.has(x.inode) && plain(x.address) === plain(e.address));
    const others = here.filter((x) => !mine.has(x.inode));
    if (ours.length === 0) problems.push(`${name}: zt does not listen there`);
    for (const o of others)
      problems.push(`${name}: also bound by ${holder(o)} on ${where(o.address, o.port)}`);
    if (ours.length > 0 && others.length === 0) details.push(`${name}: zt (pid ${s.pid})`);
  }
  // zt's own DNS proxy is one of the listeners above; what else holds 15053 matters only without it.
  const servesDns = expected.some((e) => e.kind === 'dns');
  const dns = sockets.filter((x) => x.port === DNS_PORT && !mine.has(x.inode));
  const dnsCapture = /^true$/i.test(t.env['ISTIO_META_DNS_CAPTURE'] ?? '');
  if (!servesDns && dns.length > 0) {
    for (const d of dns) details.push(`DNS ${where(d.address, DNS_PORT)}: bound by ${holder(d)}, not zt`);
    if (dnsCapture)
      problems.push(`DNS ${DNS_PORT}: held by another process while ISTIO_META_DNS_CAPTURE=true`);
  } else if (!servesDns) {
    details.push(`DNS ${DNS_PORT}: free (zt's DNS proxy is off)`);
  }
  if (problems.length) {
    return result(
      'ports',
      'fail',
      problems[0] + (problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''),
      [...problems, ...details],
      'stop the other process (often a zt or ztunnel left from an earlier run: SO_REUSEPORT lets it take a share of the connections), or give zt its own address',
    );
  }
  if (dnsCapture && !servesDns) {
    return result(
      'ports',
      'warn',
      `ISTIO_META_DNS_CAPTURE=true, but zt's DNS proxy is not serving on ${DNS_PORT}`,
      details,
      'turn DNS capture off (istio-cni / ambient values), or let zt serve DNS (unset ISTIO_META_DNS_CAPTURE=false): captured DNS queries would fail',
    );
  }
  return result('ports', 'pass', `${expected.length} listeners held by zt alone`, details);
}
