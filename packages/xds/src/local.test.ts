import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LocalConfigError } from './errors.ts';
import { loadLocalConfig, parseLocalConfig } from './local.ts';
import { ProxyState } from './state.ts';
import { LOCALHOST_CONFIG_PATH, localhostConfigYaml } from './testing/index.ts';

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
  - - - namespaces: [{Exact: a}, {Prefix: b}]
        principals: [{Suffix: /sa/x}, {Presence: []}]
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
