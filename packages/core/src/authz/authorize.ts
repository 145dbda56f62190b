import type { Authorization, Cidr, Match, ServiceAccountMatch, StringMatch } from '@zt/xds';
import { cidrContains, type ParsedIp, parseIp } from '@zt/xds';

/** What authorization knows about a connection (upstream's rbac::Connection). */
export interface AuthzConnection {
  src: { address: string; port: number };
  dst: { address: string; port: number };
  /** The verified peer identity (HBONE); absent for plaintext inbound. */
  srcIdentity?: string;
}

export type AuthzReason =
  /** A non-dry-run DENY policy matched. */
  | 'denied'
  /** ALLOW policies exist and none matched. */
  | 'not-allowed'
  /** An ALLOW policy matched. */
  | 'allowed'
  /** No ALLOW policy applies, so the connection is allowed. */
  | 'no-allow-policies';

export interface AuthzDecision {
  allowed: boolean;
  /** `namespace/name` of the policy that decided, when one did. */
  policy?: string;
  /** Index of that policy's first matching rule (admin page: which rule denied). */
  rule?: number;
  reason: AuthzReason;
  /** Dry-run policies that matched (`namespace/name`): logged, never enforced. */
  dryRunMatches: string[];
}

export function policyKey(p: Pick<Authorization, 'namespace' | 'name'>): string {
  return `${p.namespace}/${p.name}`;
}

/** Pre-parsed facts about a connection, so a policy set is checked without re-parsing. */
interface Facts {
  src: ParsedIp | undefined;
  dst: ParsedIp | undefined;
  dstPort: number;
  principal: string;
  namespace: string;
  serviceAccount: string | undefined;
}

const SPIFFE = 'spiffe://';

/**
 * Parsed addresses, by text: a connection's source and destination are pod IPs seen again and
 * again, and parsing one builds a BigInt byte by byte. Bounded: past the limit it starts over.
 */
const PARSED_MAX = 4096;
const parsed = new Map<string, ParsedIp | undefined>();

function parsedIp(address: string): ParsedIp | undefined {
  let ip = parsed.get(address);
  if (ip === undefined && !parsed.has(address)) {
    ip = parseIp(address);
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(address, ip);
  }
  return ip;
}

function facts(conn: AuthzConnection): Facts {
  const id = conn.srcIdentity ?? '';
  // spiffe://<td>/ns/<ns>/sa/<sa>
  const parts = id.startsWith(SPIFFE) ? id.slice(SPIFFE.length).split('/') : [];
  const wellFormed = parts.length === 5 && parts[1] === 'ns' && parts[3] === 'sa';
  return {
    src: parsedIp(conn.src.address),
    dst: parsedIp(conn.dst.address),
    dstPort: conn.dst.port,
    principal: id,
    namespace: wellFormed ? (parts[2] ?? '') : '',
    serviceAccount: wellFormed ? (parts[4] ?? '') : undefined,
  };
}

function stringMatches(m: StringMatch, value: string): boolean {
  switch (m.kind) {
    case 'exact':
      return value === m.value;
    case 'prefix':
      return value.startsWith(m.value);
    case 'suffix':
      return value.endsWith(m.value);
    case 'presence':
      return value.length > 0;
  }
}

// Istio writes principals without the scheme ("td/ns/x/sa/y", or "*" wildcards turned into
// prefix/suffix); a principal that is not a SPIFFE URI never matches.
function principalMatches(m: StringMatch, principal: string): boolean {
  if (!principal.startsWith(SPIFFE)) return false;
  return stringMatches(m, principal.slice(SPIFFE.length));
}

function saMatches(m: ServiceAccountMatch, f: Facts): boolean {
  return (
    f.serviceAccount !== undefined && m.namespace === f.namespace && m.serviceAccount === f.serviceAccount
  );
}

function cidrMatches(c: Cidr, ip: ParsedIp | undefined): boolean {
  return cidrContains(c.address, c.length, ip);
}

/** Positive list: empty or any matches. Negative list: empty or none matches. */
function field<T>(positive: readonly T[], negative: readonly T[], pred: (t: T) => boolean): boolean {
  if (positive.length > 0 && !positive.some(pred)) return false;
  if (negative.length > 0 && negative.some(pred)) return false;
  return true;
}

function isEmptyMatch(m: Match): boolean {
  return (
    m.namespaces.length === 0 &&
    m.notNamespaces.length === 0 &&
    m.principals.length === 0 &&
    m.notPrincipals.length === 0 &&
    m.sourceIps.length === 0 &&
    m.notSourceIps.length === 0 &&
    m.destinationIps.length === 0 &&
    m.notDestinationIps.length === 0 &&
    m.destinationPorts.length === 0 &&
    m.notDestinationPorts.length === 0 &&
    m.serviceAccounts.length === 0 &&
    m.notServiceAccounts.length === 0
  );
}

function matchHolds(m: Match, f: Facts): boolean {
  // An empty match matches nothing (upstream skips it), unlike an empty clause.
  if (isEmptyMatch(m)) return false;
  return (
    field(m.destinationIps, m.notDestinationIps, (c) => cidrMatches(c, f.dst)) &&
    field(m.sourceIps, m.notSourceIps, (c) => cidrMatches(c, f.src)) &&
    field(m.destinationPorts, m.notDestinationPorts, (p) => p === f.dstPort) &&
    field(m.serviceAccounts, m.notServiceAccounts, (s) => saMatches(s, f)) &&
    field(m.principals, m.notPrincipals, (s) => principalMatches(s, f.principal)) &&
    field(m.namespaces, m.notNamespaces, (s) => stringMatches(s, f.namespace))
  );
}

/** Index of the first rule of `p` that matches, or -1. */
function matchingRule(p: Authorization, f: Facts): number {
  // Rules OR; clauses AND (an empty clause holds); matches OR. No rules: never matches.
  return p.rules.findIndex((rule) =>
    rule.clauses.every((c) => c.matches.length === 0 || c.matches.some((m) => matchHolds(m, f))),
  );
}

function policyMatchesFacts(p: Authorization, f: Facts): boolean {
  return matchingRule(p, f) >= 0;
}

/** Whether one policy's rules match the connection, regardless of its action. */
export function policyMatches(policy: Authorization, conn: AuthzConnection): boolean {
  return policyMatchesFacts(policy, facts(conn));
}

/**
 * Upstream's L4 decision: dry-run policies are only reported; any matching DENY denies; no ALLOW
 * policy means allow; any matching ALLOW allows; otherwise deny. `policies` are those that apply
 * to the destination workload (ProxyStateView.policiesFor).
 */
export function authorize(conn: AuthzConnection, policies: readonly Authorization[]): AuthzDecision {
  const f = facts(conn);
  const dryRunMatches: string[] = [];
  for (const p of policies) {
    if (p.dryRun && policyMatchesFacts(p, f)) dryRunMatches.push(policyKey(p));
  }
  for (const p of policies) {
    if (p.dryRun || p.action !== 'Deny') continue;
    const rule = matchingRule(p, f);
    if (rule >= 0) return { allowed: false, policy: policyKey(p), rule, reason: 'denied', dryRunMatches };
  }
  const allows = policies.filter((p) => !p.dryRun && p.action === 'Allow');
  if (allows.length === 0) return { allowed: true, reason: 'no-allow-policies', dryRunMatches };
  for (const p of allows) {
    const rule = matchingRule(p, f);
    if (rule >= 0) return { allowed: true, policy: policyKey(p), rule, reason: 'allowed', dryRunMatches };
  }
  return { allowed: false, reason: 'not-allowed', dryRunMatches };
}
