// /config_dump as `istioctl ztunnel-config` reads it. istioctl decodes the dump into Go structs
// (istio/istio istioctl/pkg/writer/ztunnel/configdump/api.go); the validator below is written from
// those structs, field by field, with the JSON type encoding/json accepts for each, plus what
// istioctl then parses out of the strings (base-10 serials, RFC 3339 times, host:port addresses).
// A field upstream ztunnel writes that istioctl ignores is listed per struct; any other key fails,
// so a zt-only field or a misspelt one cannot slip in.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { FakeCaProvider, Identity, SecretManager } from '@zt/identity';
import { parseLocalConfig } from '@zt/xds';
import { startZtunnel } from '../app.ts';
import { loadConfig } from '../config.ts';
import { buildConfigDump, type ConfigDumpInput } from './config-dump.ts';
import type { ConnectionInfo } from './connections.ts';

type Check = (v: unknown, path: string) => void;

class SchemaError extends Error {}
const fail = (path: string, why: string): never => {
  throw new SchemaError(`${path}: ${why}`);
};
const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

// encoding/json: null leaves a field at its zero value for every type, so null always passes.
const string: Check = (v, p) => {
  if (v !== null && typeof v !== 'string') fail(p, `want a string, got ${kind(v)}`);
};
const boolean: Check = (v, p) => {
  if (v !== null && typeof v !== 'boolean') fail(p, `want a bool, got ${kind(v)}`);
};
const any: Check = () => {};
const uint =
  (bits: number): Check =>
  (v, p) => {
    if (v === null) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= 2 ** bits)
      fail(p, `want a uint${bits}, got ${JSON.stringify(v)}`);
  };
const int: Check = (v, p) => {
  if (v !== null && (typeof v !== 'number' || !Number.isInteger(v)))
    fail(p, `want an int, got ${JSON.stringify(v)}`);
};
const list =
  (item: Check): Check =>
  (v, p) => {
    if (v === null) return;
    if (!Array.isArray(v)) fail(p, `want an array, got ${kind(v)}`);
    (v as unknown[]).forEach((x, i) => {
      item(x, `${p}[${i}]`);
    });
  };
/** map[K]V: keys are JSON strings; `key` checks what Go parses them into. */
const map =
  (key: Check, value: Check): Check =>
  (v, p) => {
    if (v === null) return;
    if (typeof v !== 'object' || Array.isArray(v)) fail(p, `want an object (map), got ${kind(v)}`);
    for (const [k, x] of Object.entries(v as object)) {
      key(k, `${p} key ${JSON.stringify(k)}`);
      value(x, `${p}.${k}`);
    }
  };
const uint16Key: Check = (k, p) => {
  if (typeof k !== 'string' || !/^\d+$/.test(k) || Number(k) > 65535) fail(p, 'want a uint16 map key');
};
const struct =
  (fields: Record<string, Check>, upstreamOnly: readonly string[] = []): Check =>
  (v, p) => {
    if (v === null) return;
    if (typeof v !== 'object' || Array.isArray(v)) fail(p, `want an object, got ${kind(v)}`);
    for (const [k, x] of Object.entries(v as object)) {
      const f = fields[k];
      if (f) f(x, `${p}.${k}`);
      else if (!upstreamOnly.includes(k))
        fail(`${p}.${k}`, 'a field neither istioctl nor upstream ztunnel has');
    }
  };
const both =
  (...checks: Check[]): Check =>
  (v, p) => {
    for (const c of checks) c(v, p);
  };
const oneOf =
  (...values: string[]): Check =>
  (v, p) => {
    if (typeof v !== 'string' || !values.includes(v))
      fail(p, `want one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
  };
/** net.SplitHostPort, as istioctl's lookupIP splits connection addresses. */
const hostPort: Check = (v, p) => {
  if (typeof v !== 'string' || !/^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):\d+$/.test(v))
    fail(p, `want host:port, got ${JSON.stringify(v)}`);
};
/** istioctl: time.Parse(time.RFC3339, ...); upstream writes whole seconds in UTC. */
const rfc3339: Check = (v, p) => {
  if (typeof v !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(v) || Number.isNaN(Date.parse(v)))
    fail(p, `want an RFC 3339 time in whole seconds (upstream's form), got ${JSON.stringify(v)}`);
};
/** istioctl: new(big.Int).SetString(serial, 10); anything else prints as <nil>. */
const decimal: Check = (v, p) => {
  if (typeof v !== 'string' || !/^\d+$/.test(v))
    fail(p, `want a base-10 serial number, got ${JSON.stringify(v)}`);
};
const base64Pem: Check = (v, p) => {
  if (typeof v !== 'string' || !/^-----BEGIN CERTIFICATE-----\n/.test(Buffer.from(v, 'base64').toString()))
    fail(p, 'want a base64-encoded PEM certificate');
};

const GatewayAddress = struct({ destination: string }, ['hboneMtlsPort']);
const Locality = struct({ region: string, zone: string, subzone: string });
const ApplicationTunnel = struct({ protocol: string, port: uint(16) });
const ZtunnelWorkload = struct(
  {
    uid: string,
    workloadIps: list(string),
    waypoint: GatewayAddress,
    networkGateway: GatewayAddress,
    protocol: string,
    name: string,
    namespace: string,
    serviceAccount: string,
    workloadName: string,
    workloadType: string,
    canonicalName: string,
    canonicalRevision: string,
    clusterId: string,
    trustDomain: string,
    locality: Locality,
    node: string,
    network: string,
    status: string,
    hostname: string,
    capacity: uint(32),
    applicationTunnel: ApplicationTunnel,
    authorizationPolicies: list(string),
  },
  ['networkMode', 'nativeTunnel', 'services'],
);
const LoadBalancer = struct({ mode: string, routingPreferences: list(string), healthPolicy: string });
const ZtunnelEndpoint = struct(
  { workloadUid: string, service: string, address: string, port: map(uint16Key, uint(16)) },
  ['status'],
);
// CIDRVIP.UnmarshalJSON: an object, or a "network/cidr" string.
const CIDRVIP: Check = (v, p) =>
  typeof v === 'string' ? undefined : struct({ cidr: string, network: string })(v, p);
const ZtunnelService = struct(
  {
    name: string,
    namespace: string,
    hostname: string,
    vips: list(string),
    cidrVips: list(CIDRVIP),
    ports: map(string, int),
    loadBalancer: LoadBalancer,
    waypoint: GatewayAddress,
    endpoints: map(string, ZtunnelEndpoint),
    subjectAltNames: list(string),
    ipFamilies: string,
    canonical: boolean,
    visibility: string,
  },
  ['weightedWaypoints'],
);
// Upstream's StringMatch is an externally tagged enum: exactly one of these keys.
const StringMatch = both(struct({ Exact: string, Suffix: string, Prefix: string, Presence: any }), (v, p) => {
  if (v !== null && Object.keys(v as object).length !== 1)
    fail(p, 'want exactly one of Exact, Suffix, Prefix, Presence');
});
const ServiceAccountMatch = struct({ namespace: string, serviceAccount: string });
const PolicyMatch = struct({
  namespaces: list(StringMatch),
  notNamespaces: list(StringMatch),
  principals: list(StringMatch),
  notPrincipals: list(StringMatch),
  sourceIps: list(string),
  notSourceIps: list(string),
  destinationIps: list(string),
  notDestinationIps: list(string),
  destinationPorts: list(uint(16)),
  notDestinationPorts: list(uint(16)),
  serviceAccounts: list(ServiceAccountMatch),
  notServiceAccounts: list(ServiceAccountMatch),
});
const ZtunnelPolicy = struct(
  { name: string, namespace: string, scope: string, action: string, rules: list(list(list(PolicyMatch))) },
  ['dryRun'],
);
const Cert = struct({
  pem: both(string, base64Pem),
  serialNumber: both(string, decimal),
  validFrom: both(string, rfc3339),
  expirationTime: both(string, rfc3339),
});
const CertsDump = struct({ identity: string, state: string, certChain: list(Cert), rootCerts: list(Cert) });
const Connection = struct({ src: hostPort, originalDst: string, actualDst: hostPort, protocol: string });
const WorkloadState = struct({
  state: both(string, oneOf('Up', 'Pending')),
  connections: struct({ inbound: list(Connection), outbound: list(Connection) }),
  info: struct({ name: string, namespace: string, trustDomain: string, serviceAccount: string }),
});
/** ConfigWriter.Prime: list-or-map for the four collections, then workloadState as a map. */
const listOrMap =
  (item: Check): Check =>
  (v, p) =>
    Array.isArray(v) ? list(item)(v, p) : map(string, item)(v, p);
const BuildInfo = struct(
  {
    version: string,
    gitRevision: string,
    rustVersion: string,
    buildProfile: string,
    buildStatus: string,
    istioVersion: string,
    cryptoProvider: string,
  },
  // zt runs on Node, not rustc: it says which Node in place of rustVersion.
  ['nodeVersion'],
);
const ZtunnelDump = struct(
  {
    workloads: listOrMap(ZtunnelWorkload),
    services: listOrMap(ZtunnelService),
    policies: listOrMap(ZtunnelPolicy),
    certificates: listOrMap(CertsDump),
    workloadState: map(string, WorkloadState),
    // Not read by istioctl; upstream's ConfigDump writes them.
    stagedServices: map(string, any),
    // zt's one top-level addition (no struct field in istioctl's ZtunnelDump, and istioctl's
    // json.Unmarshal skips unknown keys): the network gateways and what they resolve to.
    networkGateways: list(
      struct({
        destination: string,
        hboneMtlsPort: uint(16),
        networks: list(string),
        workloads: uint(32),
        resolved: struct({ kind: oneOf('workload', 'service'), name: string, endpoints: uint(32) }),
      }),
    ),
    staticConfig: struct({
      workloads: list(any),
      policies: list(ZtunnelPolicy),
      services: list(ZtunnelService),
    }),
    version: BuildInfo,
    config: map(string, any),
  },
  [],
);

function validate(dump: unknown): void {
  ZtunnelDump(JSON.parse(JSON.stringify(dump)), '$');
}

const MESH = `
workloads:
- uid: c1//v1/Pod/shop/cart-0
  name: cart-0
  namespace: shop
  serviceAccount: cart
  workloadIps: [10.0.1.1]
  protocol: HBONE
  node: node-1
  authorizationPolicies: [shop/only-web]
  services:
    shop/cart.shop.svc.cluster.local: {80: 8080}
- uid: c1//v1/Pod/web/front-0
  name: front-0
  namespace: web
  serviceAccount: front
  workloadIps: ["fd00::2"]
  node: node-2
- uid: c2//v1/Pod/shop/cart-east-0
  name: cart-east-0
  namespace: shop
  serviceAccount: cart
  workloadIps: [10.2.1.1]
  network: east
  node: node-e1
  networkGateway: {destination: "east/10.2.0.1", hboneMtlsPort: 15008}
  services:
    shop/cart.shop.svc.cluster.local: {80: 8080}
- uid: c2//v1/Pod/istio-system/eastwest-0
  name: eastwest-0
  namespace: istio-system
  serviceAccount: eastwest
  workloadIps: [10.2.0.1]
  network: east
  node: node-e1
services:
- name: cart
  namespace: shop
  hostname: cart.shop.svc.cluster.local
  vips: [/10.96.0.20]
  cidrVips: [{network: "", cidr: 10.200.0.0/16}]
  ports: {80: 8080}
  loadBalancer: {routingPreferences: [Zone], mode: Failover, healthPolicy: OnlyHealthy}
policies:
- name: only-web
  namespace: shop
  scope: WorkloadSelector
  action: Allow
  dryRun: false
  rules:
  - - - namespaces: [!Exact web]
        principals: [!Prefix cluster.local/ns/web/, !Presence []]
        notPrincipals: [!Suffix /sa/crawler]
        serviceAccounts: [{namespace: web, serviceAccount: front}]
        sourceIps: [10.0.2.0/24]
        destinationPorts: [8080]
`;

const connections: ConnectionInfo[] = [
  {
    id: 'w0-1',
    direction: 'inbound',
    protocol: 'HBONE',
    src: {
      address: 'fd00::2',
      port: 41000,
      workload: 'web/front-0',
      identity: 'spiffe://cluster.local/ns/web/sa/front',
    },
    dst: { address: '10.0.1.1', port: 8080, workload: 'shop/cart-0', service: 'cart.shop.svc.cluster.local' },
    startedAt: 0,
    bytesSent: 0,
    bytesReceived: 0,
    verdict: 'allow',
  },
  {
    id: 'w0-2',
    direction: 'outbound',
    protocol: 'TCP',
    src: { address: '10.0.1.1', port: 50000, workload: 'shop/cart-0' },
    dst: { address: '93.184.215.14', port: 443 },
    startedAt: 0,
    bytesSent: 0,
    bytesReceived: 0,
    verdict: 'none',
  },
  {
    // Another pod's: not listed under cart-0.
    id: 'w0-3',
    direction: 'outbound',
    protocol: 'HBONE',
    src: { address: '10.0.9.9', port: 1, workload: 'other/x' },
    dst: { address: '10.0.1.1', port: 8080 },
    startedAt: 0,
    bytesSent: 0,
    bytesReceived: 0,
    verdict: 'none',
  },
];

const secrets = new SecretManager({ provider: await FakeCaProvider.create({ ttlSeconds: 3600 }) });
const cart = new Identity('cluster.local', 'shop', 'cart');
await secrets.fetchCertificate(cart);

// Some of the app's Config, as it holds them.
const settings = {
  localXds: MESH,
  nodeName: 'node-1',
  xdsHeaders: { authorization: 'Bearer secret' },
  caHeaders: {},
  proxyMetadata: { ISTIO_VERSION: '1.28.1' },
};

async function input(over: Partial<ConfigDumpInput> = {}): Promise<ConfigDumpInput> {
  const local = parseLocalConfig(MESH, 'test');
  return {
    state: { version: 1, ...local },
    localConfig: local,
    certificates: secrets.dump(),
    version: '0.1.0',
    config: settings,
    inpod: {
      nodeName: 'node-1',
      pods: [
        { uid: 'pod-uid-cart', name: 'cart-0', namespace: 'shop', serviceAccount: 'cart' },
        // Its listeners could not be bound (retried): no listeners yet.
        { uid: 'pod-uid-new', name: 'new-0', namespace: 'shop', serviceAccount: 'new' },
        // Handed over by istio-cni before istiod knows it: bound all the same, as upstream.
        { uid: 'pod-uid-early', name: 'early-0', namespace: 'shop', serviceAccount: 'early' },
      ],
      pending: ['pod-uid-new'],
    },
    connections: () => connections,
    ...over,
  };
}

test("zt's dump decodes with istioctl's structs: every field it reads has the type it expects", async () => {
  const dump = await buildConfigDump(await input());
  validate(dump);
  assert.deepEqual(Object.keys(dump), [
    'workloads',
    'services',
    'policies',
    'stagedServices',
    'networkGateways',
    'staticConfig',
    'version',
    'config',
    'certificates',
    'workloadState',
  ]);
});

test('the validator fails on what istioctl cannot use (so the test above can fail)', async () => {
  const good = JSON.parse(JSON.stringify(await buildConfigDump(await input())));
  const bad = (mutate: (d: typeof good) => void, why: RegExp) => {
    const d = structuredClone(good);
    mutate(d);
    assert.throws(() => validate(d), why);
  };
  bad(
    (d) => (d.networkGateways[0].hboneMtlsPort = '15008'),
    /networkGateways\[0\]\.hboneMtlsPort: want a uint16/,
  );
  bad((d) => (d.networkGateways[0].via = 'x'), /networkGateways\[0\]\.via: a field neither/);
  // What the app dumped before: @zt/identity's certInfo, hex serial and millisecond times.
  bad((d) => (d.certificates[0].certChain[0].serialNumber = 'AB12CD'), /base-10 serial/);
  bad((d) => (d.certificates[0].certChain[0].validFrom = '2026-01-01T00:00:00.000Z'), /whole seconds/);
  bad((d) => (d.certificates[0].certChain[0].pem = '-----BEGIN CERTIFICATE-----'), /base64-encoded PEM/);
  bad((d) => (d.workloads[0].capacity = -1), /uint32/);
  bad((d) => (d.workloads[0].workloadIps = '10.0.1.1'), /want an array/);
  bad((d) => (d.workloads[0].subjectAltNames = []), /neither istioctl nor upstream/);
  bad((d) => (d.services[0].endpoints['c1//v1/Pod/shop/cart-0'].port = { http: 80 }), /uint16 map key/);
  bad((d) => (d.policies[0].rules[0][0][0].principals[0] = { Exact: 'a', Prefix: 'b' }), /exactly one/);
  bad((d) => (d.workloadState['pod-uid-cart'].state = 'Running'), /want one of Up, Pending/);
  bad((d) => (d.workloadState['pod-uid-cart'].connections.inbound[0].src = 'fd00::2:41000'), /host:port/);
});

test('networkGateways lists each network gateway once, with the workload it resolves to', async () => {
  const dump = await buildConfigDump(await input());
  assert.deepEqual(dump.networkGateways, [
    {
      destination: 'east/10.2.0.1',
      hboneMtlsPort: 15008,
      networks: ['east'],
      workloads: 1,
      resolved: { kind: 'workload', name: 'istio-system/eastwest-0' },
    },
  ]);
  // Per workload too, as upstream writes it.
  const east = dump.workloads.find((w) => (w as { name: string }).name === 'cart-east-0');
  assert.deepEqual((east as { networkGateway: unknown }).networkGateway, {
    destination: 'east/10.2.0.1',
    hboneMtlsPort: 15008,
  });
});

test('certificates as upstream: decimal serial, base64 PEM, whole-second RFC 3339 times', async () => {
  const dump = await buildConfigDump(await input());
  const [entry] = dump.certificates;
  assert.equal(entry?.identity, 'spiffe://cluster.local/ns/shop/sa/cart');
  assert.equal(entry?.state, 'Available');
  const leaf = entry?.certChain[0];
  const x509 = new X509Certificate((await secrets.fetchCertificate(cart)).certChain[0] ?? '');
  assert.equal(leaf?.serialNumber, BigInt(`0x${x509.serialNumber}`).toString(10));
  assert.equal(leaf?.validFrom, x509.validFromDate.toISOString().replace(/\.\d{3}Z$/, 'Z'));
  assert.equal(leaf?.expirationTime, x509.validToDate.toISOString().replace(/\.\d{3}Z$/, 'Z'));
  assert.equal(
    new X509Certificate(Buffer.from(leaf?.pem ?? '', 'base64')).fingerprint256,
    x509.fingerprint256,
  );
  assert.equal(entry?.rootCerts.length, 1);
});

test('workloadState: pods by UID, Up with their connections once bound, Pending before', async () => {
  const dump = await buildConfigDump(await input());
  assert.deepEqual(dump.workloadState, {
    'pod-uid-cart': {
      state: 'Up',
      connections: {
        inbound: [
          {
            src: '[fd00::2]:41000',
            originalDst: 'cart.shop.svc.cluster.local',
            actualDst: '10.0.1.1:8080',
            protocol: 'HBONE',
          },
        ],
        outbound: [
          {
            src: '10.0.1.1:50000',
            originalDst: '93.184.215.14:443',
            actualDst: '93.184.215.14:443',
            protocol: 'TCP',
          },
        ],
      },
      info: { name: 'cart-0', namespace: 'shop', serviceAccount: 'cart' },
    },
    'pod-uid-new': { state: 'Pending', info: { name: 'new-0', namespace: 'shop', serviceAccount: 'new' } },
    'pod-uid-early': {
      state: 'Up',
      connections: { inbound: [], outbound: [] },
      info: { name: 'early-0', namespace: 'shop', serviceAccount: 'early' },
    },
  });
  // Not in-pod: upstream registers no workload manager, so there is no workloadState.
  const shared = await buildConfigDump(await input({ inpod: undefined }));
  assert.equal('workloadState' in shared, false);
});

test('staticConfig, version and config carry the values in effect', async () => {
  const dump = await buildConfigDump(await input());
  const statics = dump.staticConfig as {
    workloads: { uid: string; services: unknown }[];
    policies: unknown[];
  };
  assert.deepEqual(
    statics.workloads.map((w) => [w.uid, w.services]),
    [
      ['c1//v1/Pod/shop/cart-0', { 'shop/cart.shop.svc.cluster.local': { 80: 8080 } }],
      ['c1//v1/Pod/web/front-0', {}],
      ['c2//v1/Pod/shop/cart-east-0', { 'shop/cart.shop.svc.cluster.local': { 80: 8080 } }],
      ['c2//v1/Pod/istio-system/eastwest-0', {}],
    ],
  );
  assert.deepEqual((statics.policies[0] as { rules: unknown }).rules, [
    [
      [
        {
          namespaces: [{ Exact: 'web' }],
          serviceAccounts: [{ namespace: 'web', serviceAccount: 'front' }],
          principals: [{ Prefix: 'cluster.local/ns/web/' }, { Presence: [] }],
          notPrincipals: [{ Suffix: '/sa/crawler' }],
          sourceIps: ['10.0.2.0/24'],
          destinationPorts: [8080],
        },
      ],
    ],
  ]);
  const fromIstiod = await buildConfigDump(await input({ localConfig: undefined }));
  assert.deepEqual(fromIstiod.staticConfig, { workloads: [], policies: [], services: [] });

  assert.equal(dump.version.version, '0.1.0');
  assert.equal(dump.version.istioVersion, '1.28.1', 'ISTIO_META_ISTIO_VERSION, as upstream');
  assert.equal(dump.version.nodeVersion, process.version);
  assert.match(String(dump.version.cryptoProvider), /^openssl \d/);
  const noMeta = await buildConfigDump(await input({ config: {} }));
  assert.equal(noMeta.version.istioVersion, 'unknown');

  assert.equal(dump.config.nodeName, 'node-1');
  assert.deepEqual(dump.config.xdsHeaders, { authorization: '<redacted>' });
  assert.equal('localXds' in dump.config, false, 'the inline config is in staticConfig, not config');
});

test('the app serves this dump on /config_dump: certificates of its pods, local config, version', async (t) => {
  const zt = await startZtunnel(
    loadConfig({
      LOCAL_XDS: MESH,
      FAKE_CA: 'true',
      NODE_NAME: 'node-1',
      ISTIO_META_ISTIO_VERSION: '1.28.1',
      XDS_HEADER_AUTHORIZATION: 'Bearer secret',
      ZTUNNEL_WORKER_THREADS: '1',
      ZT_LAB_MODE: 'true',
      ZT_BIND_ADDRESS: '127.0.61.1',
      ZT_ADMIN_PORT: '0',
      ISTIO_META_DNS_PROXY_ADDR: '127.0.61.1:0',
      ZT_STATS_PORT: '0',
      ZT_READINESS_PORT: '0',
      ZT_OUTBOUND_PORT: '0',
      ZT_INBOUND_PORT: '0',
      ZT_INBOUND_PLAINTEXT_PORT: '0',
      RUST_LOG: 'error',
    }),
  );
  t.after(() => zt.shutdown('test over'));
  const { host, port } = zt.servers.admin;
  type Dump = { certificates: { identity: string; state: string }[]; [k: string]: unknown };
  let dump: Dump | undefined;
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    dump = (await (await fetch(`http://${host}:${port}/config_dump`)).json()) as Dump;
    if (dump.certificates.some((c) => c.state === 'Available')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(dump);
  validate(dump);
  assert.deepEqual(
    dump.certificates.map((c) => [c.identity, c.state]),
    [['spiffe://cluster.local/ns/shop/sa/cart', 'Available']],
  );
  assert.equal((dump.staticConfig as { policies: unknown[] }).policies.length, 1);
  assert.equal((dump.version as { istioVersion: string }).istioVersion, '1.28.1');
  assert.deepEqual((dump.config as { xdsHeaders: unknown }).xdsHeaders, { AUTHORIZATION: '<redacted>' });
  // The DNS proxy, on by default: upstream's keys in `config`, zt's listeners beside them.
  const config = dump.config as {
    dnsProxy: boolean;
    dnsProxyAddr: string[];
    dnsResolverCfg: { name_servers: unknown[] };
    dnsResolverOpts: { timeout: unknown };
    dns: { listeners: { udp: string }[]; clusterDomain: string };
  };
  assert.equal(config.dnsProxy, true);
  assert.equal(config.dnsProxyAddr.length, 1);
  assert.match(config.dnsProxyAddr[0] ?? '', /^127\.0\.61\.1:[1-9][0-9]*$/);
  assert.equal(config.dns.listeners[0]?.udp, config.dnsProxyAddr[0]);
  assert.equal(config.dns.clusterDomain, 'cluster.local');
  assert.ok(Array.isArray(config.dnsResolverCfg.name_servers));
  assert.ok('timeout' in config.dnsResolverOpts);
});
