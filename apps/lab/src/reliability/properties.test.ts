// Property tests of zt's parsers and decisions against small reference models. A few hundred runs
// per property by default; ZT_LONG=1 runs 10^5 of each (a weight scales a slow or cheap one).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type AuthzConnection, authorize } from '@zt/core';
import { Identity, InvalidIdentityError } from '@zt/identity';
import { formatAuthority, InvalidAuthorityError, parseAuthority } from '@zt/transport';
import { type Authorization, type Cidr, LocalConfigError, type Match, parseLocalConfig } from '@zt/xds';
import { emptyMatch } from '@zt/xds/testing';
import fc from 'fast-check';
import { stringify } from 'yaml';

const LONG = process.env['ZT_LONG'] === '1';
const runs = (weight = 1) => Math.round((LONG ? 100_000 : 300) * weight);

const octet = fc.integer({ min: 0, max: 255 });
const ipv4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
const port = fc.integer({ min: 1, max: 65535 });

describe('HBONE :authority (parseAuthority)', { concurrency: false }, () => {
  test('every IPv4/IPv6 socket address round-trips through format and parse', () => {
    fc.assert(
      fc.property(fc.oneof(ipv4, fc.ipV6()), port, (ip, p) => {
        const a = parseAuthority(formatAuthority(ip, p));
        assert.equal(a.port, p);
        assert.equal(a.family, ip.includes(':') ? 6 : 4);
        assert.equal(formatAuthority(a.address, a.port), formatAuthority(ip, p));
      }),
      { numRuns: runs() },
    );
  });
  test('any string: InvalidAuthorityError or an address that formats back to itself', () => {
    const near = fc.oneof(
      fc.string(),
      fc
        .tuple(
          fc.oneof(ipv4, fc.ipV6(), fc.domain(), fc.string()),
          fc.oneof(port.map(String), fc.string()),
          fc.boolean(),
        )
        .map(([h, p, br]) => (br ? `[${h}]:${p}` : `${h}:${p}`)),
    );
    fc.assert(
      fc.property(near, (s) => {
        let a: ReturnType<typeof parseAuthority>;
        try {
          a = parseAuthority(s);
        } catch (e) {
          assert.ok(e instanceof InvalidAuthorityError, `unexpected ${String(e)} for ${JSON.stringify(s)}`);
          return;
        }
        assert.ok(a.port >= 1 && a.port <= 65535);
        // Reference: a canonical-form IP literal and a decimal port, nothing else.
        assert.equal(parseAuthority(formatAuthority(a.address, a.port)).address, a.address);
        assert.match(s, a.family === 4 ? /^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/ : /^\[[0-9a-fA-F:.]+\]:\d{1,5}$/);
      }),
      { numRuns: runs() },
    );
  });
});

describe('SPIFFE ids (Identity.parse)', { concurrency: false }, () => {
  const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
  test('valid ids round-trip', () => {
    fc.assert(
      fc.property(fc.domain(), label, label, (td, ns, sa) => {
        const uri = `spiffe://${td}/ns/${ns}/sa/${sa}`;
        const id = Identity.parse(uri);
        assert.equal(id.toString(), uri);
        assert.deepEqual([id.trustDomain, id.namespace, id.serviceAccount], [td, ns, sa]);
      }),
      { numRuns: runs() },
    );
  });
  test('any string: InvalidIdentityError or an id that prints as the input', () => {
    const parts = fc.constantFrom(
      'spiffe://',
      'spiffe:/',
      'http://',
      '',
      'ns',
      'sa',
      '/',
      'cluster.local',
      'a',
      '..',
      ' ',
      '%2F',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(parts, { maxLength: 12 }).map((p) => p.join('')),
        ),
        (s) => {
          try {
            assert.equal(Identity.parse(s).toString(), s);
          } catch (e) {
            assert.ok(e instanceof InvalidIdentityError, `unexpected ${String(e)} for ${JSON.stringify(s)}`);
          }
        },
      ),
      { numRuns: runs() },
    );
  });
});

// --- authorization against a reference model ------------------------------------------------------
const ipNum = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
function inCidr(c: Cidr, ip: string): boolean {
  if (c.length === 0) return true;
  const size = 2 ** (32 - c.length);
  return Math.floor(ipNum(c.address) / size) === Math.floor(ipNum(ip) / size);
}
function refMatch(m: Match, conn: AuthzConnection, ns: string): boolean {
  const fields: Array<[boolean, boolean]> = [
    [
      m.namespaces.length === 0 || m.namespaces.some((s) => s.kind === 'exact' && s.value === ns),
      m.notNamespaces.some((s) => s.kind === 'exact' && s.value === ns),
    ],
    [
      m.sourceIps.length === 0 || m.sourceIps.some((c) => inCidr(c, conn.src.address)),
      m.notSourceIps.some((c) => inCidr(c, conn.src.address)),
    ],
    [
      m.destinationIps.length === 0 || m.destinationIps.some((c) => inCidr(c, conn.dst.address)),
      m.notDestinationIps.some((c) => inCidr(c, conn.dst.address)),
    ],
    [
      m.destinationPorts.length === 0 || m.destinationPorts.includes(conn.dst.port),
      m.notDestinationPorts.includes(conn.dst.port),
    ],
  ];
  const empty = JSON.stringify(m) === JSON.stringify(emptyMatch());
  return !empty && fields.every(([pos, neg]) => pos && !neg);
}
function refAuthorize(policies: Authorization[], conn: AuthzConnection): boolean {
  const ns = conn.srcIdentity?.split('/')[4] ?? '';
  const matches = (p: Authorization) =>
    p.rules.some((r) =>
      r.clauses.every((c) => c.matches.length === 0 || c.matches.some((m) => refMatch(m, conn, ns))),
    );
  const live = policies.filter((p) => !p.dryRun);
  if (live.some((p) => p.action === 'Deny' && matches(p))) return false;
  const allows = live.filter((p) => p.action === 'Allow');
  return allows.length === 0 || allows.some(matches);
}

const smallIp = fc
  .tuple(
    fc.constantFrom(10, 192),
    fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: 3 }),
  )
  .map((o) => o.join('.'));
const cidr = fc.record({ address: smallIp, length: fc.constantFrom(0, 8, 16, 24, 30, 32) });
const nsName = fc.constantFrom('a', 'b', 'c');
const smallPort = fc.constantFrom(80, 443, 8080);
const match = fc
  .record({
    namespaces: fc.array(
      nsName.map((value) => ({ kind: 'exact' as const, value })),
      { maxLength: 2 },
    ),
    notNamespaces: fc.array(
      nsName.map((value) => ({ kind: 'exact' as const, value })),
      { maxLength: 1 },
    ),
    sourceIps: fc.array(cidr, { maxLength: 2 }),
    notSourceIps: fc.array(cidr, { maxLength: 1 }),
    destinationIps: fc.array(cidr, { maxLength: 2 }),
    notDestinationIps: fc.array(cidr, { maxLength: 1 }),
    destinationPorts: fc.array(smallPort, { maxLength: 2 }),
    notDestinationPorts: fc.array(smallPort, { maxLength: 1 }),
  })
  .map((m) => emptyMatch(m));
const policy = fc.record({
  name: fc.constantFrom('p1', 'p2', 'p3'),
  namespace: fc.constant('backend'),
  scope: fc.constant('Namespace' as const),
  action: fc.constantFrom('Allow' as const, 'Deny' as const),
  dryRun: fc.boolean(),
  rules: fc.array(
    fc.record({
      clauses: fc.array(fc.record({ matches: fc.array(match, { maxLength: 3 }) }), { maxLength: 2 }),
    }),
    { maxLength: 2 },
  ),
});
const conn = fc.record({
  src: fc.record({ address: smallIp, port: fc.constant(40000) }),
  dst: fc.record({ address: smallIp, port: smallPort }),
  srcIdentity: nsName.map((ns) => `spiffe://cluster.local/ns/${ns}/sa/default`),
});

describe('authorization (authorize) against a reference model', { concurrency: false }, () => {
  test('DENY first, then ALLOW, no ALLOW means allow; CIDRs, ports, namespaces, negations', () => {
    fc.assert(
      fc.property(fc.array(policy, { maxLength: 4 }), conn, (ps, c) => {
        const d = authorize(c, ps);
        assert.equal(d.allowed, refAuthorize(ps, c), JSON.stringify(d));
      }),
      { numRuns: runs(2) },
    );
  });
  test('a dry-run policy never changes the verdict', () => {
    fc.assert(
      fc.property(fc.array(policy, { maxLength: 3 }), policy, conn, (ps, extra, c) => {
        assert.equal(authorize(c, [...ps, { ...extra, dryRun: true }]).allowed, authorize(c, ps).allowed);
      }),
      { numRuns: runs() },
    );
  });
});

// --- local config ------------------------------------------------------------------------------------
describe('local config (parseLocalConfig)', { concurrency: false }, () => {
  const wl = fc.record({
    name: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
    namespace: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
    serviceAccount: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
    workloadIps: fc.array(ipv4, { minLength: 1, maxLength: 2 }),
    node: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
  });
  test('random valid configs round-trip', () => {
    fc.assert(
      fc.property(fc.uniqueArray(wl, { selector: (w) => `${w.namespace}/${w.name}`, maxLength: 5 }), (ws) => {
        const workloads = ws.map((w) => ({
          uid: `Kubernetes//v1/Pod/${w.namespace}/${w.name}`,
          protocol: 'HBONE',
          ...w,
        }));
        const snap = parseLocalConfig(stringify({ workloads }), 'property');
        assert.equal(snap.workloads.length, workloads.length);
        for (const w of workloads) {
          const got = snap.workloads.find((x) => x.uid === w.uid);
          assert.ok(got, `workload ${w.uid} lost`);
          assert.deepEqual(
            [got.name, got.namespace, got.serviceAccount, got.node, got.workloadIps],
            [w.name, w.namespace, w.serviceAccount, w.node, w.workloadIps],
          );
        }
      }),
      { numRuns: runs(0.5) },
    );
  });
  test('garbage yields a LocalConfigError that points somewhere, never another exception', () => {
    const valid =
      'workloads:\n  - uid: a\n    name: a\n    namespace: ns\n    workloadIps: ["10.0.0.1"]\n    protocol: HBONE\n';
    const mutated = fc
      .tuple(
        fc.integer({ min: 0, max: valid.length }),
        fc.integer({ min: 0, max: 8 }),
        fc.string({ maxLength: 8 }),
      )
      .map(([at, del, ins]) => valid.slice(0, at) + ins + valid.slice(at + del));
    const garbage = fc.oneof(
      fc.string(),
      mutated,
      fc.jsonValue().map((v) => stringify({ workloads: [v] })),
    );
    let failures = 0;
    let withLine = 0;
    fc.assert(
      fc.property(garbage, (text) => {
        try {
          parseLocalConfig(text, 'property');
        } catch (e) {
          assert.ok(
            e instanceof LocalConfigError,
            `not a LocalConfigError: ${String(e)} for ${JSON.stringify(text)}`,
          );
          failures++;
          if (e.line !== undefined) withLine++;
          assert.ok(e.line !== undefined || e.key !== undefined, `no line and no key: ${e.message}`);
        }
      }),
      { numRuns: runs() },
    );
    assert.ok(failures > 0, 'the generator never produced a bad config');
    assert.ok(withLine > 0);
  });
});
