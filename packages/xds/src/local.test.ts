import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { configDump } from './dump.ts';
import { LocalConfigError } from './errors.ts';
import { loadLocalConfig, parseLocalConfig } from './local.ts';
import { ProxyState } from './state.ts';
import { emptyMatch, LOCALHOST_CONFIG_PATH, localhostConfigYaml } from './testing/index.ts';

const UPSTREAM_FORM_PATH = fileURLToPath(new URL('./testing/fixtures/upstream-form.yaml', import.meta.url));

test("upstream's localhost example loads unchanged from LOCAL_XDS_PATH and from LOCAL_XDS", () => {
  const fromFile = loadLocalConfig({ path: LOCALHOST_CONFIG_PATH });
  const inline = loadLocalConfig({ inline: localhostConfigYaml() });
  assert.deepEqual(fromFile, inline);
  const s = new ProxyState(fromFile);
  const local = s.workloadByAddress('', '127.0.0.1')!;
  assert.equal(local.uid, 'cluster1//v1/Pod/default/local');
  assert.equal(local.protocol, 'HBONE');
  assert.equal(local.trustDomain, 'cluster.local');
  assert.equal(s.workloadByAddress('', '127.0.0.2')?.protocol, 'TCP');
  const example = s.serviceByVip('', '127.10.0.1')!;
  assert.equal(example.hostname, 'example.com');
  assert.deepEqual(example.ports, [{ servicePort: 80, targetPort: 8080 }]);
  assert.deepEqual(example.subjectAltNames, ['spiffe://cluster.local/ns/default/sa/local']);
  assert.equal(example.canonical, true);
  assert.equal(s.serviceByVip('remote', '127.10.0.2')?.name, 'remote');
  assert.deepEqual(
    s.endpoints(example).map((e) => [e.workload.name, e.ports]),
    [
      ['local', { 80: 8080 }],
      ['local-tcp', { 80: 8080 }],
    ],
  );
  const [p] = s.policiesFor(local);
  assert.deepEqual(p, {
    name: 'deny-9999',
    namespace: 'default',
    scope: 'Namespace',
    action: 'Allow',
    dryRun: false,
    rules: [
      {
        clauses: [
          {
            matches: [
              {
                namespaces: [],
                notNamespaces: [],
                principals: [],
                notPrincipals: [],
                sourceIps: [],
                notSourceIps: [],
                destinationIps: [],
                notDestinationIps: [],
                destinationPorts: [],
                notDestinationPorts: [9999],
                serviceAccounts: [],
                notServiceAccounts: [],
              },
            ],
          },
        ],
      },
    ],
  });
});

test('every upstream field of a workload, service and policy is read', () => {
  const snap = parseLocalConfig(`
workloads:
- uid: c//v1/Pod/ns/a
  name: a
  namespace: ns
  workloadIps: ["10.0.0.1", "2001:DB8::1"]
  waypoint: {destination: "/10.0.0.9", hboneMtlsPort: 15008}
  networkGateway: {destination: "istio-system/ew.example", hboneMtlsPort: 15009}
  protocol: HBONE
  networkMode: HostNetwork
  trustDomain: td
  serviceAccount: sa
  network: n1
  workloadName: a-deploy
  workloadType: deployment
  canonicalName: a
  canonicalRevision: v1
  hostname: a.example
  node: node1
  nativeTunnel: true
  applicationTunnel: {protocol: PROXY, port: 15088}
  authorizationPolicies: [ns/p]
  status: Unhealthy
  clusterId: c
  locality: {region: r, zone: z, subzone: s}
  capacity: 2
  services: {"ns/svc.example": {80: 8080}}
services:
- name: svc
  namespace: ns
  hostname: svc.example
  vips: [n1/10.96.0.1]
  cidrVips: [{network: n1, cidr: 10.200.0.0/16}]
  ports: {80: 0}
  waypoint: {destination: "ns/wp.example", hboneMtlsPort: 15008}
  loadBalancer: {routingPreferences: [Network, Zone], mode: Failover, healthPolicy: AllowAll}
  ipFamilies: Dual
  endpoints: {}
policies:
- name: p
  namespace: ns
  scope: WorkloadSelector
  action: Deny
  dryRun: true
  rules:
  - - - namespaces: [!Exact a, !Prefix b]
        principals: [!Suffix /sa/x, !Presence []]
        sourceIps: [10.0.0.0/8, 10.1.1.1]
        serviceAccounts: [{namespace: ns, serviceAccount: sa}]
        destinationPorts: [80]
`);
  const w = snap.workloads[0]!;
  assert.deepEqual(w.workloadIps, ['10.0.0.1', '2001:db8::1']);
  assert.deepEqual(w.waypoint, {
    destination: { kind: 'address', network: '', address: '10.0.0.9' },
    hboneMtlsPort: 15008,
  });
  assert.deepEqual(w.networkGateway?.destination, {
    kind: 'hostname',
    namespace: 'istio-system',
    hostname: 'ew.example',
  });
  assert.equal(w.networkMode, 'HostNetwork');
  assert.deepEqual(w.applicationTunnel, { protocol: 'PROXY', port: 15088 });
  assert.equal(w.status, 'Unhealthy');
  assert.equal(w.capacity, 2);
  assert.deepEqual(w.services, { 'ns/svc.example': { 80: 8080 } });
  const s = snap.services[0]!;
  assert.deepEqual(s.cidrVips, [{ network: 'n1', address: '10.200.0.0', length: 16 }]);
  assert.deepEqual(s.loadBalancer, {
    routingPreferences: ['Network', 'Zone'],
    mode: 'Failover',
    healthPolicy: 'AllowAll',
  });
  const m = snap.policies[0]!.rules[0]!.clauses[0]!.matches[0]!;
  assert.deepEqual(m.namespaces, [
    { kind: 'exact', value: 'a' },
    { kind: 'prefix', value: 'b' },
  ]);
  assert.deepEqual(m.principals, [{ kind: 'suffix', value: '/sa/x' }, { kind: 'presence' }]);
  assert.deepEqual(m.sourceIps, [
    { address: '10.0.0.0', length: 8 },
    { address: '10.1.1.1', length: 32 },
  ]);
});

function rejects(yaml: string, expect: { key?: string; line?: number; message: RegExp }) {
  assert.throws(
    () => parseLocalConfig(yaml, 'test.yaml'),
    (e: unknown) => {
      assert.ok(e instanceof LocalConfigError, String(e));
      assert.equal(e.code, 'ERR_ZT_XDS_LOCAL_CONFIG');
      if (expect.key !== undefined) assert.equal(e.key, expect.key);
      if (expect.line !== undefined) assert.equal(e.line, expect.line);
      assert.match(e.message, expect.message);
      assert.match(e.message, /test\.yaml/);
      return true;
    },
  );
}

test('a bad file names the key and the line', () => {
  rejects('workloads:\n- name: a\n  namespace: ns\n  workloadIps: ["1.2.3.4"]\n  protocol: QUIC\n', {
    key: 'workloads[0].protocol',
    line: 5,
    message: /line 5, key workloads\[0\]\.protocol.*expected one of TCP, HBONE, got "QUIC"/,
  });
  rejects('workloads:\n- name: a\n  namespace: ns\n  workloadIps: ["1.2.3.999"]\n', {
    key: 'workloads[0].workloadIps[0]',
    line: 4,
    message: /expected an IP address/,
  });
  rejects('services:\n- name: s\n  namespace: ns\n  hostname: h\n  vips: [10.0.0.1]\n  ports: {80: 80}\n', {
    key: 'services[0].vips[0]',
    line: 5,
    message: /network\/IP/,
  });
  rejects(
    'policies:\n- name: p\n  namespace: ns\n  scope: Namespace\n  action: Allow\n  rules:\n  - - - destinationPort: [80]\n',
    {
      key: 'policies[0].rules[0][0][0].destinationPort',
      line: 7,
      message: /unknown field "destinationPort"/,
    },
  );
  rejects('workloads:\n- name: a\n  workloadIps: []\n', {
    key: 'workloads[0].namespace',
    message: /required/,
  });
  rejects('workload:\n- name: a\n', { key: 'workload', line: 1, message: /unknown field "workload"/ });
  // A missing required field has no line of its own: the error names its parent's.
  rejects('workloads:\n  - uid: a\n    name: a\n', {
    key: 'workloads[0].namespace',
    line: 2,
    message: /line 2, key workloads\[0\]\.namespace.*required string is missing/,
  });
  rejects('workloads:\n  - name: a\n   bad: [\n', { message: /invalid YAML/ });
});

test('LOCAL_XDS_PATH and LOCAL_XDS both set is an error; a missing file too', () => {
  assert.throws(() => loadLocalConfig({ path: LOCALHOST_CONFIG_PATH, inline: 'workloads: []' }), {
    code: 'ERR_ZT_XDS_LOCAL_CONFIG',
    message: /both are set/,
  });
  const dir = mkdtempSync(join(tmpdir(), 'zt-local-'));
  assert.throws(() => loadLocalConfig({ path: join(dir, 'nope.yaml') }), /cannot read the file/);
  const empty = join(dir, 'empty.yaml');
  writeFileSync(empty, '');
  assert.deepEqual(loadLocalConfig({ path: empty }), {
    version: 1,
    workloads: [],
    services: [],
    policies: [],
  });
});

test('an alias without its anchor is a LocalConfigError naming the line, not a ReferenceError', () => {
  rejects('workloads:\n  - uid: a\n    name: *missing\n', {
    line: 3,
    message: /line 3.*invalid YAML: .*alias/,
  });
  // Found by the reliability suite's property test: the smallest such document.
  rejects('*!', { line: 1, message: /invalid YAML/ });
});

test("a config in upstream's serde_yaml form loads: every policy field, every matcher form", () => {
  const snap = loadLocalConfig({ path: UPSTREAM_FORM_PATH });
  const [onlyFrontend, denyAnonymous] = snap.policies;
  assert.deepEqual(onlyFrontend, {
    name: 'only-frontend',
    namespace: 'shop',
    scope: 'WorkloadSelector',
    action: 'Allow',
    dryRun: false,
    rules: [
      {
        clauses: [
          {
            matches: [
              {
                namespaces: [{ kind: 'exact', value: 'web' }],
                notNamespaces: [{ kind: 'prefix', value: 'kube-' }],
                serviceAccounts: [{ namespace: 'web', serviceAccount: 'frontend' }],
                notServiceAccounts: [{ namespace: 'web', serviceAccount: 'crawler' }],
                principals: [
                  { kind: 'exact', value: 'cluster.local/ns/web/sa/frontend' },
                  { kind: 'suffix', value: '/sa/frontend' },
                ],
                notPrincipals: [{ kind: 'prefix', value: 'cluster.local/ns/untrusted/' }],
                sourceIps: [{ address: '10.0.2.0', length: 24 }],
                notSourceIps: [{ address: '10.0.2.99', length: 32 }],
                destinationIps: [{ address: '10.0.1.0', length: 24 }],
                notDestinationIps: [{ address: '10.0.1.254', length: 32 }],
                destinationPorts: [8080],
                notDestinationPorts: [9090],
              },
              { ...emptyMatch(), principals: [{ kind: 'presence' }] },
            ],
          },
          { matches: [{ ...emptyMatch(), destinationPorts: [8080] }] },
        ],
      },
    ],
  });
  assert.deepEqual(denyAnonymous, {
    name: 'deny-anonymous',
    namespace: 'istio-system',
    scope: 'Global',
    action: 'Deny',
    dryRun: true,
    rules: [{ clauses: [{ matches: [{ ...emptyMatch(), notPrincipals: [{ kind: 'presence' }] }] }] }],
  });
  const [cart, frontend] = snap.workloads;
  assert.equal(cart?.protocol, 'HBONE');
  assert.equal(cart?.networkMode, 'Standard');
  assert.deepEqual(cart?.authorizationPolicies, ['shop/only-frontend']);
  assert.equal(frontend?.protocol, 'TCP');
  assert.equal(frontend?.status, 'Unhealthy');
  assert.deepEqual(snap.services[0]?.loadBalancer, {
    routingPreferences: ['Network', 'Zone'],
    mode: 'Failover',
    healthPolicy: 'AllowAll',
  });
  assert.equal(snap.services[0]?.ipFamilies, 'IPv4');
  assert.equal(snap.services[0]?.visibility, 'Namespace');
  // The dump writes it back as upstream renders it.
  assert.equal((configDump(snap).services[0] as { visibility?: string }).visibility, 'Namespace');
});

test('string matcher values are read as serde_yaml reads a string: any quoting, any scalar', () => {
  const m = (matcher: string) =>
    parseLocalConfig(
      `policies:\n- {name: p, namespace: ns, scope: Namespace, action: Allow, rules: [[[{principals: [${matcher}]}]]]}\n`,
    ).policies[0]?.rules[0]?.clauses[0]?.matches[0]?.principals[0];
  assert.deepEqual(m(`!Exact "cluster.local/ns/a/sa/b"`), {
    kind: 'exact',
    value: 'cluster.local/ns/a/sa/b',
  });
  assert.deepEqual(m(`!Prefix 'cluster.local/'`), { kind: 'prefix', value: 'cluster.local/' });
  assert.deepEqual(m('!Suffix 42'), { kind: 'suffix', value: '42' });
  assert.deepEqual(m('!Exact ""'), { kind: 'exact', value: '' });
  assert.deepEqual(m('!Presence []'), { kind: 'presence' });
  assert.deepEqual(m('!Presence'), { kind: 'presence' });
  // An anchor on a tagged matcher and an alias to it: the same matcher twice.
  const snap = parseLocalConfig(
    'policies:\n- {name: p, namespace: ns, scope: Namespace, action: Allow, rules: [[[{principals: [&me !Exact x], notPrincipals: [*me]}]]]}\n',
  );
  assert.deepEqual(snap.policies[0]?.rules[0]?.clauses[0]?.matches[0]?.notPrincipals, [
    { kind: 'exact', value: 'x' },
  ]);
});

test('unit enums read as serde_yaml reads them: the bare name, or the name as a tag without a value', () => {
  const snap = parseLocalConfig(`
workloads:
- {name: a, namespace: ns, protocol: !HBONE, status: !Unhealthy ~, networkMode: "HostNetwork"}
policies:
- {name: p, namespace: ns, scope: !Namespace, action: !Deny null, rules: []}
`);
  assert.equal(snap.workloads[0]?.protocol, 'HBONE');
  assert.equal(snap.workloads[0]?.status, 'Unhealthy');
  assert.equal(snap.workloads[0]?.networkMode, 'HostNetwork');
  assert.equal(snap.policies[0]?.scope, 'Namespace');
  assert.equal(snap.policies[0]?.action, 'Deny');
});

test('the mapping form {Exact: ...} is refused, as upstream refuses it, with the tag form to write', () => {
  const policy = (principals: string) =>
    `policies:\n- name: p\n  namespace: ns\n  scope: Namespace\n  action: Allow\n  rules:\n  - - - principals:\n        - ${principals}\n`;
  const key = 'policies[0].rules[0][0][0].principals[0]';
  rejects(policy('{Exact: cluster.local/ns/a/sa/b}'), {
    key,
    line: 8,
    message:
      /a string matcher is a tag, !Exact "value", !Prefix "value", !Suffix "value" or !Presence \[\].*got the mapping \{Exact: "cluster.local\/ns\/a\/sa\/b"\}; write !Exact "cluster.local\/ns\/a\/sa\/b"/,
  });
  rejects(policy('{Presence: []}'), {
    key,
    message: /got the mapping \{Presence: \[\]\}; write !Presence \[\]/,
  });
  rejects(policy('{Exact: a, Prefix: b}'), { key, message: /got the mapping/ });
  rejects(policy('cluster.local/ns/a/sa/b'), {
    key,
    message: /a string matcher is a tag, .*; got "cluster.local\/ns\/a\/sa\/b"/,
  });
  // A unit enum as a mapping is refused too: serde_yaml 0.9 wants a tag there, not a map.
  rejects('policies:\n- {name: p, namespace: ns, scope: Namespace, action: {Allow: null}, rules: []}\n', {
    key: 'policies[0].action',
    line: 2,
    message: /expected one of Allow, Deny as a plain name, got the mapping \{Allow: null\}/,
  });
});

test('a malformed or unknown tag is an error naming its path and line', () => {
  const policy = (principals: string) =>
    `policies:\n- name: p\n  namespace: ns\n  scope: Namespace\n  action: Allow\n  rules:\n  - - - principals:\n        - ${principals}\n`;
  const key = 'policies[0].rules[0][0][0].principals[0]';
  rejects(policy('!Exatc cluster.local/ns/a/sa/b'), {
    key,
    line: 8,
    message: /unknown tag !Exatc: .*!Exact "value"/,
  });
  rejects(policy('!Exact [a, b]'), {
    key,
    line: 8,
    message: /!Exact takes a string, got !Exact \[2 items\]/,
  });
  rejects(policy('!Prefix {a: b}'), { key, message: /!Prefix takes a string/ });
  rejects(policy('!Presence yes'), {
    key,
    message: /!Presence takes no value \(write !Presence \[\]\), got !Presence "yes"/,
  });
  rejects(policy('!Presence [x]'), { key, message: /!Presence takes no value/ });
  rejects(policy('!Presence ""'), { key, message: /!Presence takes no value/ });
  rejects(policy('!Allow'), { key, message: /a string matcher is .*; got the tag !Allow/ });
  rejects('policies:\n- {name: p, namespace: ns, scope: Namespace, action: !Allow yes, rules: []}\n', {
    key: 'policies[0].action',
    message: /the tag !Allow takes no value, got !Allow "yes"/,
  });
  rejects('policies:\n- {name: p, namespace: ns, scope: Namespace, action: !Exact a, rules: []}\n', {
    key: 'policies[0].action',
    message: /expected one of Allow, Deny, got the tag !Exact "a"/,
  });
  // Where upstream reads no enum, a tag is a mistake: serde_yaml would drop it, zt says so.
  rejects('workloads:\n- name: !Exact a\n  namespace: ns\n', {
    key: 'workloads[0].name',
    line: 2,
    message: /expected a string, got the tag !Exact "a"; tags only name enum variants/,
  });
  rejects('workloads:\n- name: a\n  namespace: ns\n  workloadIps: !Exact [10.0.0.1]\n', {
    key: 'workloads[0].workloadIps',
    line: 4,
    message: /expected a list, got the tag !Exact \[1 items\]/,
  });
  rejects('workloads:\n- name: a\n  namespace: ns\n  !Exact uid: x\n', {
    key: 'workloads[0].uid',
    line: 4,
    message: /a key cannot carry a tag \(!Exact\)/,
  });
  rejects('workloads: !Custom\n- name: a\n', { key: 'workloads', line: 1, message: /unknown tag !Custom/ });
  rejects('workloads: !<tag:example.com,2024:x> []\n', {
    key: 'workloads',
    message: /unknown tag tag:example.com/,
  });
});
