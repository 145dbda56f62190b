// CA: reachable, its serving certificate verified by CA_ROOT_CA, the token accepted (a real
// certificate request, as zt makes them), and the certificates zt holds: state, expiry, and clock
// skew against their validity.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import {
  CaClient,
  CaUnavailableError,
  FakeCaProvider,
  Identity,
  IdentityError,
  TokenError,
  type WorkloadCertificate,
} from '@zt/identity';
import { Logging } from '@zt/log';
import { ProbeError, tcpConnect, tlsHandshake } from './probe.ts';
import { pemOf, type Target, ztPath } from './target.ts';
import { type CheckResult, result, type Verdict } from './types.ts';

/** What the CA check hands to the peers check: a certificate to dial peers with. */
export interface Shared {
  certificate?: WorkloadCertificate;
}

/** Beyond this, a certificate valid "from the future" means the clocks disagree. */
const SKEW_TOLERANCE_MS = 5_000;
const GRPC_UNAUTHENTICATED = 16;
const GRPC_PERMISSION_DENIED = 7;

interface Finding {
  verdict: Verdict;
  text: string;
  fix?: string;
}

export function formatDuration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
}

/** PEM roots from CA_ROOT_CA / XDS_ROOT_CA as zt reads them: a path, inline PEM, or SYSTEM. */
export function readRoots(t: Target, source: string): { roots: string[] | undefined; what: string } {
  if (source === 'SYSTEM') return { roots: undefined, what: 'the system roots' };
  if (source.includes('-----BEGIN')) return { roots: [source], what: 'the inline PEM' };
  const path = ztPath(t, source);
  if (!existsSync(path)) throw new Error(`${source} does not exist (resolved to ${path})`);
  return { roots: [readFileSync(path, 'utf8')], what: path };
}

/** The identity to ask the CA for: one zt holds (impersonated, as zt asks), else zt's own. */
function identityToRequest(t: Target): { identity: Identity; impersonate: boolean } {
  for (const c of t.dump?.certificates ?? []) {
    const id = Identity.tryParse(c.identity);
    if (id) return { identity: id, impersonate: true };
  }
  const c = t.config;
  return {
    identity: new Identity(
      c?.trustDomain ?? 'cluster.local',
      c?.podNamespace ?? 'istio-system',
      c?.serviceAccount ?? 'ztunnel',
    ),
    impersonate: false,
  };
}

function heldCertificates(
  t: Target,
  now: number,
): { findings: Finding[]; details: string[]; summary: string } {
  const findings: Finding[] = [];
  const details: string[] = [];
  const certs = t.dump?.certificates ?? [];
  let soonest: number | undefined;
  for (const c of certs) {
    if (c.state.startsWith('Unavailable')) {
      findings.push({
        verdict: 'fail',
        text: `no certificate for ${c.identity}: ${c.state}`,
        fix: 'connections of this identity fail until the CA issues one; see the CA findings and zt logs (scope cert)',
      });
      details.push(`${c.identity}: ${c.state}`);
      continue;
    }
    const leaf = c.certChain[0];
    if (c.state !== 'Available' || !leaf) {
      findings.push({
        verdict: 'warn',
        text: `certificate for ${c.identity} is still being fetched (${c.state})`,
      });
      details.push(`${c.identity}: ${c.state}`);
      continue;
    }
    const from = Date.parse(leaf.validFrom);
    const until = Date.parse(leaf.expirationTime);
    soonest = Math.min(soonest ?? until, until);
    details.push(
      `${c.identity}: valid ${leaf.validFrom} to ${leaf.expirationTime} (expires in ${formatDuration(until - now)})`,
    );
    if (until <= now) {
      findings.push({
        verdict: 'fail',
        text: `the certificate for ${c.identity} expired ${formatDuration(now - until)} ago`,
        fix: 'zt renews at half-life: renewals are failing, see the CA findings and zt logs (scope cert)',
      });
    } else if (from > now + SKEW_TOLERANCE_MS) {
      findings.push({
        verdict: 'fail',
        text: `clock skew: the certificate for ${c.identity} is valid only from ${leaf.validFrom}, ${formatDuration(from - now)} ahead of this node's clock`,
        fix: "sync this node's clock and istiod's (NTP); peers reject certificates that are not valid yet",
      });
    } else if (now - from > 0.75 * (until - from)) {
      findings.push({
        verdict: 'warn',
        text: `the certificate for ${c.identity} is past 3/4 of its lifetime: renewal (due at half-life) is overdue`,
      });
    }
    // The PEM must at least be one: a dump of garbage is a bug to report.
    if (!pemOf(leaf).includes('BEGIN CERTIFICATE'))
      findings.push({ verdict: 'warn', text: `the dump's certificate for ${c.identity} is not PEM` });
  }
  const summary =
    certs.length === 0
      ? 'no workload certificate held yet'
      : `${certs.length} certificate${certs.length === 1 ? '' : 's'} held${
          soonest !== undefined ? `, next expiry in ${formatDuration(soonest - now)}` : ''
        }`;
  return { findings, details, summary };
}

async function requestCertificate(t: Target, shared: Shared, rootCert: string | undefined): Promise<Finding> {
  const c = t.config;
  if (!c?.caAddress) return { verdict: 'fail', text: 'no CA address' };
  const { identity, impersonate } = identityToRequest(t);
  const client = new CaClient({
    address: c.caAddress,
    ...(rootCert ? { rootCert } : {}),
    ...(c.authTokenPath ? { tokenPath: ztPath(t, c.authTokenPath) } : {}),
    ...(c.authToken ? { token: c.authToken } : {}),
    clusterId: c.clusterId,
    headers: c.caHeaders ?? {},
    ttlSeconds: 3600,
    impersonate,
    timeoutMs: t.timeoutMs * 2,
    logger: new Logging({ filter: 'off' }).scope('doctor'),
  });
  const t0 = performance.now();
  try {
    const cert = await client.fetchCertificate(identity);
    shared.certificate = cert;
    const ms = Math.round(performance.now() - t0);
    const ahead = cert.notBefore.getTime() - Date.now();
    if (ahead > SKEW_TOLERANCE_MS) {
      return {
        verdict: 'fail',
        text: `clock skew: the CA issued a certificate valid from ${cert.notBefore.toISOString()}, ${formatDuration(ahead)} ahead of this node's clock`,
        fix: "sync this node's clock and istiod's (NTP); peers reject certificates that are not valid yet",
      };
    }
    return {
      verdict: 'pass',
      text: `token accepted: the CA issued a certificate for ${identity} in ${ms} ms`,
    };
  } catch (e) {
    if (e instanceof TokenError) {
      return {
        verdict: 'fail',
        text: e.message,
        fix: 'check AUTH_TOKEN and that the projected token volume (audience istio-ca) is mounted',
      };
    }
    if (
      e instanceof CaUnavailableError &&
      (e.grpcCode === GRPC_UNAUTHENTICATED || e.grpcCode === GRPC_PERMISSION_DENIED)
    ) {
      return {
        verdict: 'fail',
        text: `the CA refused the token: ${e.message}`,
        fix: `the token (AUTH_TOKEN${c.authTokenPath ? ` = ${c.authTokenPath}` : c.authToken ? ', given inline' : ', unset'}) must be a current projected token with audience istio-ca for a service account istiod lets act for workloads; check that CLUSTER_ID (${c.clusterId}) is istiod's name for this cluster`,
      };
    }
    const text =
      e instanceof IdentityError ? e.message : `certificate request failed: ${(e as Error).message}`;
    return { verdict: 'fail', text, fix: "see istiod's CA logs" };
  } finally {
    client.close();
  }
}

const RANK: Record<Verdict, number> = { pass: 0, skip: 0, warn: 1, fail: 2 };

export async function checkCa(t: Target, shared: Shared): Promise<CheckResult> {
  const c = t.config;
  if (!c) return result('CA', 'fail', `cannot tell where the CA is: ${t.configError ?? t.adminError}`);
  const now = Date.now();
  const held = heldCertificates(t, now);
  const findings: Finding[] = [];
  const details: string[] = [];
  if (c.fakeCa) {
    // The shared FAKE_CA root: a certificate from it is what peers running FAKE_CA accept.
    const provider = await FakeCaProvider.create({ ttlSeconds: 3600 });
    shared.certificate = await provider.fetchCertificate(identityToRequest(t).identity);
    details.push('FAKE_CA=true: certificates are minted locally, there is no CA to reach');
  } else if (c.caAddress) {
    const url = new URL(c.caAddress);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    try {
      const { socket, ms } = await tcpConnect(host, port, t.timeoutMs);
      details.push(`TCP connect to ${host}:${port}: ${ms} ms`);
      let rootCert: string | undefined;
      if (url.protocol === 'https:') {
        let roots: { roots: string[] | undefined; what: string };
        try {
          roots = readRoots(t, c.caRootCaPath);
        } catch (e) {
          socket.destroy();
          throw new ProbeError('tls', `CA_ROOT_CA: ${(e as Error).message}`);
        }
        const tls = await tlsHandshake({
          socket,
          host,
          ca: roots.roots,
          ...(isIP(host) ? {} : { servername: host }),
          alpn: ['h2'],
          timeoutMs: t.timeoutMs,
        }).catch((e: unknown) => {
          throw new ProbeError(
            'tls',
            `the CA's certificate does not verify against ${roots.what} (CA_ROOT_CA): ${(e as Error).message}`,
          );
        });
        tls.tls.destroy();
        details.push(`TLS verified against ${roots.what}: ${tls.ms} ms`);
        rootCert = roots.roots?.join('\n');
      } else {
        socket.destroy();
        details.push('plaintext (http://): no server certificate to verify');
      }
      findings.push(await requestCertificate(t, shared, rootCert));
    } catch (e) {
      if (!(e instanceof ProbeError)) throw e;
      findings.push(
        e.step === 'tcp'
          ? {
              verdict: 'fail',
              text: `cannot reach the CA at ${host}:${port}: ${e.message}`,
              fix: `check CA_ADDRESS (${c.caAddress}) and that istiod runs; a NetworkPolicy or firewall may block port ${port}`,
            }
          : {
              verdict: 'fail',
              text: e.message,
              fix: "point CA_ROOT_CA at the root that signed istiod's serving certificate (the istio-ca-root-cert ConfigMap)",
            },
      );
    }
  }
  findings.push(...held.findings);
  for (const f of findings) details.push(f.text);
  details.push(...held.details);
  const worst = findings.reduce<Finding | undefined>(
    (w, f) => (RANK[f.verdict] > RANK[w?.verdict ?? 'pass'] ? f : w),
    undefined,
  );
  if (worst) return result('CA', worst.verdict, worst.text, details, worst.fix);
  const where = c.fakeCa ? 'FAKE_CA (no CA)' : `CA ${c.caAddress} reachable, token accepted`;
  return result('CA', 'pass', `${where}; ${held.summary}`, details);
}
