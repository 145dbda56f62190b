import assert from 'node:assert/strict';
import { test } from 'node:test';
import { messageType } from '@zt/proto';
import { decodeAddress, decodeAuthorization } from './decode.ts';
import { encodeAuthorization, encodeService, encodeWorkload } from './encode.ts';
import { canonicalIp } from './ip.ts';
import {
  decodeAddressBytes,
  decodeAuthorizationBytes,
  encodeAddressBytes,
  encodeAuthorizationBytes,
} from './pb.ts';
import { emptyMatch, makePolicy, makeService, makeWorkload } from './testing/index.ts';
import type { Authorization, Service, Workload } from './types.ts';

const full: Workload = makeWorkload({
  name: 'full',
  namespace: 'ns1',
  workloadIps: ['10.0.0.1', '2001:db8::7', '::ffff:10.0.0.2'],
  hostname: 'full.example',
  network: 'net1',
  protocol: 'HBONE',
  trustDomain: 'td.example',
  serviceAccount: 'sa1',
  waypoint: { destination: { kind: 'address', network: 'net1', address: '10.0.0.99' }, hboneMtlsPort: 15008 },
  networkGateway: {
    destination: { kind: 'hostname', namespace: 'istio-system', hostname: 'eastwest.example' },
    hboneMtlsPort: 15009,
  },
  node: 'node-b',
  canonicalName: 'full-app',
  canonicalRevision: 'v2',
  workloadType: 'deployment',
  workloadName: 'full-deploy',
  clusterId: 'c2',
  status: 'Unhealthy',
  services: { 'ns1/svc.ns1.svc.cluster.local': { 80: 8080, 443: 0 } },
  authorizationPolicies: ['ns1/p1'],
  locality: { region: 'r', zone: 'z', subzone: 's' },
  networkMode: 'HostNetwork',
  capacity: 3,
  nativeTunnel: true,
  applicationTunnel: { protocol: 'PROXY', port: 15088 },
});

const svc: Service = makeService({
  name: 'svc',
  namespace: 'ns1',
  vips: [
    { network: '', address: '10.96.0.10' },
    { network: 'net1', address: 'fd00::10' },
  ],
  cidrVips: [{ network: '', address: '10.200.0.0', length: 16 }],
  ports: [
    { servicePort: 80, targetPort: 8080 },
    { servicePort: 443, targetPort: 0 },
  ],
  subjectAltNames: ['spiffe://td.example/ns/ns1/sa/other'],
  waypoint: {
    destination: { kind: 'hostname', namespace: 'ns1', hostname: 'wp.ns1.svc.cluster.local' },
    hboneMtlsPort: 15008,
  },
  canonical: true,
  loadBalancer: { routingPreferences: ['Network', 'Zone'], mode: 'Failover', healthPolicy: 'AllowAll' },
  ipFamilies: 'Dual',
  visibility: 'Namespace',
});

const policy: Authorization = makePolicy(
  { name: 'p1', namespace: 'ns1', scope: 'WorkloadSelector', action: 'Deny', dryRun: true },
  [
    emptyMatch({
      namespaces: [{ kind: 'exact', value: 'a' }],
      notNamespaces: [{ kind: 'prefix', value: 'kube-' }],
      principals: [{ kind: 'suffix', value: '/sa/admin' }],
      notPrincipals: [{ kind: 'presence' }],
      sourceIps: [{ address: '10.0.0.0', length: 8 }],
      notSourceIps: [{ address: '2001:db8::', length: 32 }],
      destinationIps: [{ address: '10.1.2.3', length: 32 }],
      notDestinationIps: [{ address: '192.168.0.0', length: 16 }],
      destinationPorts: [80, 443],
      notDestinationPorts: [9999],
      serviceAccounts: [{ namespace: 'ns2', serviceAccount: 'sa2' }],
      notServiceAccounts: [{ namespace: 'ns3', serviceAccount: 'sa3' }],
    }),
  ],
);

test('Workload: model -> wire bytes -> model is lossless', () => {
  const bytes = encodeAddressBytes(encodeWorkload(full));
  const back = decodeAddress(full.uid, decodeAddressBytes(bytes));
  assert.deepEqual(back, { kind: 'workload', workload: full });
});

test('Service: model -> wire bytes -> model is lossless', () => {
  const bytes = encodeAddressBytes(encodeService(svc));
  assert.deepEqual(decodeAddress('ns1/svc', decodeAddressBytes(bytes)), { kind: 'service', service: svc });
});

test('Authorization: model -> wire bytes -> model is lossless', () => {
  const bytes = encodeAuthorizationBytes(encodeAuthorization(policy));
  assert.deepEqual(decodeAuthorization('ns1/p1', decodeAuthorizationBytes(bytes)), policy);
});

test("field numbers are upstream's: a hand-built wire message decodes", () => {
  // Workload{uid(20)="u", addresses(3)=[1,2,3,4], tunnel_protocol(5)=HBONE(1), status(17)=UNHEALTHY(1)}
  // inside Address.workload (1).
  const inner = Buffer.from([
    0xa2,
    0x01,
    0x01,
    0x75, // field 20, len 1, "u"
    0x1a,
    0x04,
    1,
    2,
    3,
    4, // field 3, bytes
    0x28,
    0x01, // field 5 = 1
    0x88,
    0x01,
    0x01, // field 17 = 1
  ]);
  const wire = Buffer.concat([Buffer.from([0x0a, inner.length]), inner]);
  const d = decodeAddress('u', decodeAddressBytes(wire));
  assert.equal(d.kind, 'workload');
  if (d.kind !== 'workload') return;
  assert.equal(d.workload.uid, 'u');
  assert.deepEqual(d.workload.workloadIps, ['1.2.3.4']);
  assert.equal(d.workload.protocol, 'HBONE');
  assert.equal(d.workload.status, 'Unhealthy');
  // Upstream's defaults for elided fields.
  assert.equal(d.workload.trustDomain, 'cluster.local');
  assert.equal(d.workload.serviceAccount, 'default');
  assert.equal(d.workload.clusterId, 'Kubernetes');
});

test('delta xDS envelope messages round-trip on the wire', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    [
      'envoy.service.discovery.v3.DeltaDiscoveryRequest',
      {
        node: {
          id: 'ztunnel~1.1.1.1~p.ns~ns.svc.cluster.local',
          metadata: { fields: { NAMESPACE: { stringValue: 'ns' } } },
        },
        typeUrl: 'type.googleapis.com/istio.workload.Address',
        resourceNamesSubscribe: ['*'],
        resourceNamesUnsubscribe: ['x'],
        initialResourceVersions: { a: '1', b: '2' },
        responseNonce: 'n1',
        errorDetail: { code: 3, message: 'bad' },
      },
    ],
    [
      'envoy.service.discovery.v3.DeltaDiscoveryResponse',
      {
        systemVersionInfo: 'v9',
        typeUrl: 'type.googleapis.com/istio.security.Authorization',
        nonce: 'n2',
        removedResources: ['ns/gone'],
        resources: [
          {
            name: 'ns/p',
            version: '7',
            aliases: ['alias'],
            resource: {
              typeUrl: 'type.googleapis.com/istio.security.Authorization',
              value: Buffer.from([8, 1]),
            },
          },
        ],
        controlPlane: { identifier: 'istiod-1' },
      },
    ],
    [
      'envoy.config.core.v3.Node',
      { id: 'x', cluster: 'c', locality: { region: 'r', zone: 'z', subZone: 's' }, userAgentName: 'zt' },
    ],
    ['google.rpc.Status', { code: 14, message: 'unavailable' }],
    ['istio.workload.Address', encodeWorkload(full) as Record<string, unknown>],
    ['istio.workload.Address', encodeService(svc) as Record<string, unknown>],
    ['istio.security.Authorization', encodeAuthorization(policy) as Record<string, unknown>],
  ];
  for (const [name, obj] of cases) {
    const t = messageType(name);
    const bytes = t.encode(t.fromObject(obj)).finish();
    const again = t.encode(t.decode(bytes)).finish();
    assert.deepEqual(Buffer.from(again), Buffer.from(bytes), `${name} re-encodes identically`);
    const o = t.toObject(t.decode(bytes), { enums: String, longs: Number, bytes: Array }) as Record<
      string,
      unknown
    >;
    assert.ok(Object.keys(o).length > 0, `${name} decodes to something`);
  }
  const req = messageType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
  const decoded = req.toObject(req.decode(req.encode(req.fromObject(cases[0]![1])).finish())) as {
    initialResourceVersions: Record<string, string>;
    errorDetail: { message: string };
  };
  assert.deepEqual(decoded.initialResourceVersions, { a: '1', b: '2' });
  assert.equal(decoded.errorDetail.message, 'bad');
});

test('invalid resources are refused with the resource name and the reason', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ workload: { uid: 'w1', addresses: [new Uint8Array(5)] } }, /w1 rejected: address #0: 5 bytes/],
    [
      { workload: { uid: 'w1', tunnelProtocol: 'LEGACY_ISTIO_MTLS' } },
      /w1 rejected: unsupported tunnel protocol/,
    ],
    [{ workload: { uid: 'w1', tunnelProtocol: 7 } }, /w1 rejected: unknown tunnel protocol 7/],
    [
      { workload: { uid: 'w1', waypoint: { hboneMtlsPort: 15008 } } },
      /waypoint has neither an address nor a hostname/,
    ],
    [{ workload: { uid: 'w1', services: { nokey: { ports: [] } } } }, /service key "nokey"/],
    [{ workload: { name: 'x' } }, /without uid/],
    [
      {
        service: {
          namespace: 'ns',
          hostname: 'h',
          addresses: [{ address: new Uint8Array([1, 2, 3, 4]), length: 40 }],
        },
      },
      /prefix length 40/,
    ],
    [{}, /neither a workload nor a service/],
  ];
  for (const [msg, re] of cases) {
    const t = messageType('istio.workload.Address');
    const bytes = t.encode(t.fromObject(msg)).finish();
    assert.throws(
      () => decodeAddress('w1', decodeAddressBytes(bytes)),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_ZT_XDS_RESOURCE');
        assert.match(e.message, re);
        return true;
      },
    );
  }
  const bad = encodeAuthorizationBytes({
    name: 'p',
    rules: [{ clauses: [{ matches: [{ sourceIps: [{ address: new Uint8Array(3) }] }] }] }],
  });
  assert.throws(
    () => decodeAuthorization('ns/p', decodeAuthorizationBytes(bad)),
    /ns\/p rejected: source ip #0: 3 bytes/,
  );
});

test('IPs become canonical text', () => {
  assert.equal(canonicalIp('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(canonicalIp('::FFFF:10.0.0.1'), '::ffff:10.0.0.1');
  assert.equal(canonicalIp('10.0.0.256'), undefined);
  const w = makeWorkload({ name: 'v6', workloadIps: ['2001:db8:0:0:1:0:0:1'] });
  const back = decodeAddress(w.uid, decodeAddressBytes(encodeAddressBytes(encodeWorkload(w))));
  assert.deepEqual(back.kind === 'workload' && back.workload.workloadIps, ['2001:db8::1:0:0:1']);
});
