import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  aliases,
  countLabels,
  hasDomain,
  isWildcard,
  kubeFqdns,
  kubeSearchDomains,
  normalizeName,
  trimDomain,
  wildcards,
} from './names.ts';

// ZT_LONG=1 runs 10^5 cases per property (the reliability suite's long variant).
const LONG = process.env['ZT_LONG'] === '1';

describe('kubeFqdns (upstream test_to_kube_fqdns)', () => {
  const cases: Array<{ host: string; ns: string; expected: string[] }> = [
    // <service-name>
    { host: 'name', ns: 'ns1', expected: ['name.ns1.svc.cluster.local'] },
    { host: 'name.', ns: 'ns1', expected: ['name.ns1.svc.cluster.local'] },
    // <service-name>.<namespace>, then <pod-hostname>.<pod-sub-domain>
    {
      host: 'name.ns2',
      ns: 'ns1',
      expected: ['name.ns2.svc.cluster.local', 'name.ns2.ns1.svc.cluster.local'],
    },
    // <service-name>.<namespace>.svc, then <pod-hostname>.<pod-sub-domain>.<namespace>
    {
      host: 'name.ns2.svc.',
      ns: 'ns1',
      expected: ['name.ns2.svc.cluster.local', 'name.ns2.svc.svc.cluster.local'],
    },
    { host: 'name.ns2.not-svc.', ns: 'ns1', expected: ['name.ns2.not-svc.svc.cluster.local'] },
    // <pod-hostname>.<pod-sub-domain>.<namespace>.svc
    { host: 'pod.sub-domain.ns.svc', ns: 'ns1', expected: ['pod.sub-domain.ns.svc.cluster.local'] },
    { host: 'pod.sub-domain.ns.not-svc', ns: 'ns1', expected: [] },
    // An invalid short form, and a name already fully qualified.
    { host: 'name.ns2.svc.cluster.', ns: 'ns1', expected: [] },
    { host: 'name.ns2.svc.cluster.local', ns: 'ns1', expected: [] },
    // Not Kubernetes: still the <pod-hostname>.<pod-sub-domain>.<namespace> form.
    { host: 'www.google.com.', ns: 'ns1', expected: ['www.google.com.svc.cluster.local'] },
  ];
  for (const c of cases) {
    test(`${c.host} from ${c.ns}`, () => {
      assert.deepEqual(kubeFqdns(normalizeName(c.host), c.ns, 'cluster.local'), c.expected);
    });
  }
});

describe('wildcards (upstream test_get_wildcards)', () => {
  test('a single label has no wildcard', () => {
    assert.deepEqual(wildcards('svc1'), ['svc1']);
  });
  test('most specific first, never a bare *', () => {
    assert.deepEqual(wildcards('svc1.ns1.svc.cluster.local'), [
      'svc1.ns1.svc.cluster.local',
      '*.ns1.svc.cluster.local',
      '*.svc.cluster.local',
      '*.cluster.local',
      '*.local',
    ]);
  });
});

describe('hasDomain / trimDomain (upstream name_util)', () => {
  test('has_domain', () => {
    assert.equal(hasDomain('name.ns.svc.cluster.local', 'svc.cluster.local'), true);
    assert.equal(hasDomain('name.ns.a.different.domain', 'svc.cluster.local'), false);
    assert.equal(hasDomain('cluster.com', 'svc.cluster.local'), false);
    // Label boundaries count: "xsvc.cluster.local" does not end with the labels of "svc.cluster.local".
    assert.equal(hasDomain('a.xsvc.cluster.local', 'svc.cluster.local'), false);
    // A wildcard is no domain.
    assert.equal(hasDomain('a.b.c', '*.c'), false);
  });
  test('trim_domain', () => {
    assert.equal(trimDomain('name.ns.svc.cluster.local', 'svc.cluster.local'), 'name.ns');
    assert.equal(trimDomain('name.ns.a.different.domain', 'svc.cluster.local'), undefined);
    // Nothing would be left.
    assert.equal(trimDomain('svc.cluster.local', 'svc.cluster.local'), undefined);
  });
});

describe('search domains and aliases', () => {
  test("a node-level proxy assumes Kubernetes' per-namespace search list (upstream search_domains)", () => {
    assert.deepEqual(kubeSearchDomains('default-ns', 'cluster.local'), [
      'default-ns.svc.cluster.local',
      'svc.cluster.local',
      'cluster.local',
    ]);
  });
  test('aliases: the name, its expansions, then stripped names with their expansions, each once', () => {
    const search = kubeSearchDomains('ns1', 'cluster.local');
    assert.deepEqual(aliases('productpage.ns1.ns1.svc.cluster.local', 'ns1', search, 'cluster.local'), [
      { name: 'productpage.ns1.ns1.svc.cluster.local' },
      // Stripped of ns1.svc.cluster.local: 2 labels left.
      { name: 'productpage.ns1', strippedLabels: 2 },
      { name: 'productpage.ns1.svc.cluster.local', strippedLabels: 2 },
      // Stripped of svc.cluster.local and of cluster.local; their expansions are the asked name again.
      { name: 'productpage.ns1.ns1', strippedLabels: 3 },
      { name: 'productpage.ns1.ns1.svc', strippedLabels: 4 },
    ]);
  });
  test('normalizeName and countLabels', () => {
    assert.equal(normalizeName('Echo.Backend.'), 'echo.backend');
    assert.equal(normalizeName('.'), '');
    assert.equal(countLabels(''), 0);
    assert.equal(countLabels('a'), 1);
    assert.equal(countLabels('a.b.c'), 3);
    assert.equal(isWildcard('*.a'), true);
    assert.equal(isWildcard('a.*'), false);
  });
});

// Properties over the name expansion. Counts: 3 properties x 1500 = 4500 cases (10^5 each long).
const NAME_RUNS = LONG ? 100_000 : 1500;
const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
const name = fc.array(label, { minLength: 1, maxLength: 7 }).map((l) => l.join('.'));
const ns = label;
const domain = fc.constantFrom('cluster.local', 'corp.example', 'k8s');

describe('name expansion properties', () => {
  test('every expansion is a Kubernetes name of the cluster domain, derived from the asked name', () => {
    fc.assert(
      fc.property(name, ns, domain, (n, namespace, d) => {
        const out = kubeFqdns(n, namespace, d);
        assert.ok(out.length <= 2);
        for (const f of out) {
          assert.ok(f.startsWith(`${n}.`), f);
          assert.ok(f.endsWith(`.svc.${d}`), f);
          // Already-qualified names (5 labels and more) are never expanded.
          assert.ok(countLabels(n) <= 4);
        }
        if (countLabels(n) === 1) assert.deepEqual(out, [`${n}.${namespace}.svc.${d}`]);
      }),
      { numRuns: NAME_RUNS },
    );
  });
  test('trimDomain undoes appending a domain; wildcards shrink label by label', () => {
    fc.assert(
      fc.property(name, name, (n, d) => {
        assert.equal(trimDomain(`${n}.${d}`, d), n);
        assert.ok(hasDomain(`${n}.${d}`, d));
        const w = wildcards(n);
        assert.equal(w.length, countLabels(n));
        assert.equal(w[0], n);
        for (let i = 1; i < w.length; i++) {
          assert.ok(isWildcard(w[i] as string));
          assert.ok(n.endsWith((w[i] as string).slice(1)));
          assert.equal(countLabels(w[i] as string), countLabels(n) - i + 1);
        }
      }),
      { numRuns: NAME_RUNS },
    );
  });
  test('aliases: the asked name first, no duplicates, a stripped alias names a prefix of the asked labels', () => {
    fc.assert(
      fc.property(name, ns, domain, fc.boolean(), (n, namespace, d, withSearch) => {
        const asked = withSearch ? `${n}.${namespace}.svc.${d}` : n;
        const out = aliases(asked, namespace, kubeSearchDomains(namespace, d), d);
        assert.equal(out[0]?.name, asked);
        assert.equal(new Set(out.map((a) => a.name)).size, out.length);
        for (const a of out) {
          if (a.strippedLabels === undefined) continue;
          const prefix = asked.split('.').slice(0, a.strippedLabels).join('.');
          assert.ok(a.name === prefix || a.name.startsWith(`${prefix}.`), `${a.name} from ${prefix}`);
        }
        if (withSearch) assert.ok(out.some((a) => a.name === n && a.strippedLabels === countLabels(n)));
      }),
      { numRuns: NAME_RUNS },
    );
  });
});
