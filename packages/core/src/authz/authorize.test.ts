import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Authorization, Match } from '@zt/xds';
import { emptyMatch } from '@zt/xds/testing';
import fc from 'fast-check';
import { type AuthzConnection, authorize, policyMatches } from './authorize.ts';

const ID = 'spiffe://cluster.local/ns/ns1/sa/sa1';
const conn = (over: Partial<AuthzConnection> = {}): AuthzConnection => ({
  src: { address: '10.0.0.1', port: 40000 },
  dst: { address: '10.0.1.5', port: 8080 },
  srcIdentity: ID,
  ...over,
});

const match = emptyMatch;

function pol(
  action: 'Allow' | 'Deny',
  matches: Partial<Match>[][][],
  over: Partial<Authorization> = {},
): Authorization {
  return {
    name: over.name ?? `${action.toLowerCase()}-p`,
    namespace: 'ns2',
    scope: 'Namespace',
    action,
    rules: matches.map((clauses) => ({ clauses: clauses.map((ms) => ({ matches: ms.map(match) })) })),
    dryRun: false,
    ...over,
  };
}
const one = (m: Partial<Match>) => [[[m]]];
const exact = (value: string) => ({ kind: 'exact' as const, value });

describe('authorize: decision order', () => {
  test('no policies: allow', () => {
    assert.deepEqual(authorize(conn(), []), {
      allowed: true,
      reason: 'no-allow-policies',
      dryRunMatches: [],
    });
  });
  test('matching deny denies and names the policy', () => {
    const d = authorize(conn(), [pol('Deny', one({ namespaces: [exact('ns1')] }), { name: 'd' })]);
    assert.equal(d.allowed, false);
    assert.equal(d.policy, 'ns2/d');
    assert.equal(d.reason, 'denied');
  });
  test('non-matching deny and no allow: allow', () => {
    assert.equal(authorize(conn(), [pol('Deny', one({ namespaces: [exact('other')] }))]).allowed, true);
  });
  test('deny wins over a matching allow', () => {
    const d = authorize(conn(), [
      pol('Allow', one({ destinationPorts: [8080] }), { name: 'a' }),
      pol('Deny', one({ destinationPorts: [8080] }), { name: 'd' }),
    ]);
    assert.equal(d.allowed, false);
    assert.equal(d.policy, 'ns2/d');
  });
  test('allow exists, none matches: deny (not-allowed, no policy)', () => {
    const d = authorize(conn(), [pol('Allow', one({ destinationPorts: [9090] }))]);
    assert.deepEqual(d, { allowed: false, reason: 'not-allowed', dryRunMatches: [] });
  });
  test('any matching allow allows', () => {
    const d = authorize(conn(), [
      pol('Allow', one({ destinationPorts: [9090] }), { name: 'x' }),
      pol('Allow', one({ destinationPorts: [8080] }), { name: 'y' }),
    ]);
    assert.equal(d.allowed, true);
    assert.equal(d.policy, 'ns2/y');
  });
  test('dry-run deny is reported, not enforced', () => {
    const d = authorize(conn(), [
      pol('Deny', one({ destinationPorts: [8080] }), { name: 'dd', dryRun: true }),
    ]);
    assert.deepEqual(d, { allowed: true, reason: 'no-allow-policies', dryRunMatches: ['ns2/dd'] });
  });
  test('dry-run allow alone does not turn on default deny', () => {
    const d = authorize(conn(), [pol('Allow', one({ destinationPorts: [1] }), { dryRun: true })]);
    assert.equal(d.allowed, true);
    assert.deepEqual(d.dryRunMatches, []);
  });
  test('the decision names the first rule that matched, for deny and allow alike', () => {
    const rules = [
      [[{ destinationPorts: [1] }]],
      [[{ destinationPorts: [8080] }]],
      [[{ namespaces: [exact('ns1')] }]],
    ];
    const deny = authorize(conn(), [pol('Deny', rules, { name: 'd' })]);
    assert.deepEqual([deny.allowed, deny.policy, deny.rule], [false, 'ns2/d', 1]);
    const allow = authorize(conn(), [pol('Allow', rules, { name: 'a' })]);
    assert.deepEqual([allow.allowed, allow.policy, allow.rule], [true, 'ns2/a', 1]);
    assert.equal(authorize(conn(), [pol('Allow', one({ destinationPorts: [2] }))]).rule, undefined);
  });
  test('a policy with no rules matches nothing: an allow without rules denies everything', () => {
    assert.equal(authorize(conn(), [pol('Allow', [])]).allowed, false);
    assert.equal(authorize(conn(), [pol('Deny', [])]).allowed, true);
  });
});

describe('authorize: rules, clauses, matches', () => {
  test('rule with an empty clause list matches everything (allow-all)', () => {
    assert.equal(policyMatches(pol('Allow', [[]]), conn()), true);
  });
  test('a clause with no matches holds', () => {
    assert.equal(policyMatches(pol('Allow', [[[], [{ destinationPorts: [8080] }]]]), conn()), true);
  });
  test('an empty match never matches', () => {
    assert.equal(policyMatches(pol('Allow', [[[{}]]]), conn()), false);
  });
  test('rules OR', () => {
    assert.equal(
      policyMatches(pol('Allow', [[[{ destinationPorts: [1] }]], [[{ destinationPorts: [8080] }]]]), conn()),
      true,
    );
  });
  test('clauses AND', () => {
    const p = (port2: number) =>
      pol('Allow', [[[{ destinationPorts: [8080] }], [{ destinationPorts: [port2] }]]]);
    assert.equal(policyMatches(p(8080), conn()), true);
    assert.equal(policyMatches(p(1), conn()), false);
  });
  test('matches within a clause OR', () => {
    assert.equal(
      policyMatches(pol('Allow', [[[{ destinationPorts: [1] }, { namespaces: [exact('ns1')] }]]]), conn()),
      true,
    );
  });
  test('fields within a match AND', () => {
    assert.equal(
      policyMatches(pol('Allow', one({ destinationPorts: [8080], namespaces: [exact('nope')] })), conn()),
      false,
    );
    assert.equal(
      policyMatches(pol('Allow', one({ destinationPorts: [8080], namespaces: [exact('ns1')] })), conn()),
      true,
    );
  });
});

describe('authorize: fields', () => {
  const m = (x: Partial<Match>, c = conn()) => policyMatches(pol('Allow', one(x)), c);
  test('namespaces: exact, prefix, suffix, presence, and not_', () => {
    assert.equal(m({ namespaces: [exact('ns1')] }), true);
    assert.equal(m({ namespaces: [{ kind: 'prefix', value: 'ns' }] }), true);
    assert.equal(m({ namespaces: [{ kind: 'suffix', value: 's1' }] }), true);
    assert.equal(m({ namespaces: [{ kind: 'suffix', value: 's2' }] }), false);
    assert.equal(m({ namespaces: [{ kind: 'presence' }] }), true);
    assert.equal(m({ namespaces: [{ kind: 'presence' }] }, conn({ srcIdentity: undefined })), false);
    assert.equal(m({ notNamespaces: [exact('ns1')] }), false);
    assert.equal(m({ notNamespaces: [exact('ns9')] }), true);
    // Without an identity the namespace is empty: a not_ on a real namespace holds.
    assert.equal(m({ notNamespaces: [exact('ns1')] }, conn({ srcIdentity: undefined })), true);
  });
  test('principals compare without the spiffe:// scheme', () => {
    assert.equal(m({ principals: [exact('cluster.local/ns/ns1/sa/sa1')] }), true);
    assert.equal(m({ principals: [exact(ID)] }), false);
    assert.equal(m({ principals: [{ kind: 'suffix', value: '/sa/sa1' }] }), true);
    assert.equal(m({ principals: [{ kind: 'prefix', value: 'cluster.local/' }] }), true);
    assert.equal(m({ principals: [{ kind: 'presence' }] }, conn({ srcIdentity: undefined })), false);
    assert.equal(m({ notPrincipals: [exact('cluster.local/ns/ns1/sa/sa1')] }), false);
    assert.equal(m({ notPrincipals: [{ kind: 'presence' }] }, conn({ srcIdentity: undefined })), true);
  });
  test('service accounts need an identity; trust domain is ignored', () => {
    assert.equal(m({ serviceAccounts: [{ namespace: 'ns1', serviceAccount: 'sa1' }] }), true);
    assert.equal(
      m(
        { serviceAccounts: [{ namespace: 'ns1', serviceAccount: 'sa1' }] },
        conn({ srcIdentity: 'spiffe://other.td/ns/ns1/sa/sa1' }),
      ),
      true,
    );
    assert.equal(m({ serviceAccounts: [{ namespace: 'ns1', serviceAccount: 'sa2' }] }), false);
    assert.equal(
      m({ serviceAccounts: [{ namespace: 'ns1', serviceAccount: 'sa1' }] }, conn({ srcIdentity: undefined })),
      false,
    );
    assert.equal(m({ notServiceAccounts: [{ namespace: 'ns1', serviceAccount: 'sa1' }] }), false);
    assert.equal(
      m(
        { notServiceAccounts: [{ namespace: 'ns1', serviceAccount: 'sa1' }] },
        conn({ srcIdentity: undefined }),
      ),
      true,
    );
  });
  test('source and destination IPs: CIDR, IPv4 and IPv6, and not_', () => {
    assert.equal(m({ sourceIps: [{ address: '10.0.0.0', length: 24 }] }), true);
    assert.equal(m({ sourceIps: [{ address: '10.0.1.0', length: 24 }] }), false);
    assert.equal(m({ sourceIps: [{ address: '10.0.0.1', length: 32 }] }), true);
    assert.equal(m({ sourceIps: [{ address: '0.0.0.0', length: 0 }] }), true);
    assert.equal(m({ notSourceIps: [{ address: '10.0.0.0', length: 8 }] }), false);
    assert.equal(m({ destinationIps: [{ address: '10.0.1.0', length: 24 }] }), true);
    assert.equal(m({ notDestinationIps: [{ address: '10.0.1.5', length: 32 }] }), false);
    const v6 = conn({ src: { address: 'fd00::1', port: 1 }, dst: { address: '2001:db8::5', port: 80 } });
    assert.equal(m({ sourceIps: [{ address: 'fd00::', length: 8 }] }, v6), true);
    assert.equal(m({ destinationIps: [{ address: '2001:db8::', length: 32 }] }, v6), true);
    assert.equal(m({ destinationIps: [{ address: '2001:db9::', length: 32 }] }, v6), false);
    // Families never cross: ::/0 does not contain an IPv4 address.
    assert.equal(m({ sourceIps: [{ address: '::', length: 0 }] }), false);
    // IPv4-mapped peers are treated as IPv4, as upstream canonicalizes them.
    assert.equal(
      m(
        { sourceIps: [{ address: '10.0.0.0', length: 8 }] },
        conn({ src: { address: '::ffff:10.0.0.1', port: 1 } }),
      ),
      true,
    );
  });
  test('destination ports and not_', () => {
    assert.equal(m({ destinationPorts: [80, 8080] }), true);
    assert.equal(m({ destinationPorts: [80] }), false);
    assert.equal(m({ notDestinationPorts: [8080] }), false);
    assert.equal(m({ notDestinationPorts: [80] }), true);
    assert.equal(m({ destinationPorts: [8080], notDestinationPorts: [8080] }), false);
  });
});

// A tiny reference model over a small world: a policy is reduced to the set of (connection index)
// it matches, computed by brute force from the plain-English semantics, then decided.
describe('authorize: property against a reference model', () => {
  const namespaces = ['a', 'b'];
  const ports = [80, 443];
  const ips = ['10.0.0.1', '10.0.0.2', 'fd00::1'];
  const conns: AuthzConnection[] = [];
  for (const ns of [...namespaces, undefined])
    for (const p of ports)
      for (const s of ips)
        conns.push({
          src: { address: s, port: 1 },
          dst: { address: '10.9.0.1', port: p },
          srcIdentity: ns ? `spiffe://td/ns/${ns}/sa/s${ns}` : undefined,
        });

  const nsOf = (c: AuthzConnection) => (c.srcIdentity ? (c.srcIdentity.split('/')[4] ?? '') : '');
  const arbMatch: fc.Arbitrary<Partial<Match>> = fc.record(
    {
      namespaces: fc.subarray(namespaces).map((x) => x.map(exact)),
      notNamespaces: fc.subarray(namespaces).map((x) => x.map(exact)),
      destinationPorts: fc.subarray(ports),
      notDestinationPorts: fc.subarray(ports),
      sourceIps: fc
        .subarray(ips)
        .map((x) => x.map((address) => ({ address, length: address.includes(':') ? 128 : 32 }))),
      notSourceIps: fc
        .subarray(ips)
        .map((x) => x.map((address) => ({ address, length: address.includes(':') ? 128 : 32 }))),
    },
    { requiredKeys: [] },
  );
  const refMatch = (m: Partial<Match>, c: AuthzConnection): boolean => {
    const lists = Object.values(m).filter((v) => Array.isArray(v) && v.length > 0);
    if (lists.length === 0) return false;
    const ns = nsOf(c);
    const src = c.src.address;
    const okPos = <T>(xs: T[] | undefined, f: (x: T) => boolean) => !xs || xs.length === 0 || xs.some(f);
    const okNeg = <T>(xs: T[] | undefined, f: (x: T) => boolean) => !xs || xs.every((x) => !f(x));
    return (
      okPos(m.namespaces, (s) => 'value' in s && s.value === ns) &&
      okNeg(m.notNamespaces, (s) => 'value' in s && s.value === ns) &&
      okPos(m.destinationPorts, (p) => p === c.dst.port) &&
      okNeg(m.notDestinationPorts, (p) => p === c.dst.port) &&
      okPos(m.sourceIps, (x) => x.address === src) &&
      okNeg(m.notSourceIps, (x) => x.address === src)
    );
  };
  const arbPolicy = fc.record({
    action: fc.constantFrom('Allow' as const, 'Deny' as const),
    dryRun: fc.boolean(),
    rules: fc.array(fc.array(fc.array(arbMatch, { maxLength: 2 }), { maxLength: 2 }), { maxLength: 2 }),
  });

  test('authorize agrees with the reference on every connection', () => {
    fc.assert(
      fc.property(fc.array(arbPolicy, { maxLength: 4 }), (specs) => {
        const policies = specs.map((s, i) => pol(s.action, s.rules, { name: `p${i}`, dryRun: s.dryRun }));
        for (const c of conns) {
          const matches = (i: number) =>
            (specs[i]?.rules ?? []).some((r) =>
              r.every((cl) => cl.length === 0 || cl.some((m) => refMatch(m, c))),
            );
          const live = specs.map((s, i) => ({ ...s, i })).filter((s) => !s.dryRun);
          const denied = live.some((s) => s.action === 'Deny' && matches(s.i));
          const allows = live.filter((s) => s.action === 'Allow');
          const expected = !denied && (allows.length === 0 || allows.some((s) => matches(s.i)));
          const got = authorize(c, policies);
          assert.equal(got.allowed, expected, JSON.stringify({ c, specs }));
          const dry = specs
            .map((s, i) => ({ ...s, i }))
            .filter((s) => s.dryRun && matches(s.i))
            .map((s) => `ns2/p${s.i}`);
          assert.deepEqual(got.dryRunMatches, dry);
        }
      }),
      { numRuns: process.env['ZT_LONG'] === '1' ? 100_000 : 500 },
    );
  });
});
