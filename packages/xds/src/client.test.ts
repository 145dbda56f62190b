import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { status as grpcStatus } from '@grpc/grpc-js';
import { Logging } from '@zt/log';
import { captureLog } from '@zt/log/testing';
import { registry } from '@zt/metrics';
import { XdsClient, type XdsClientOptions } from './client.ts';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, encodeAddressBytes } from './pb.ts';
import { StateStore } from './store.ts';
import {
  localhostConfigYaml,
  makePolicy,
  makeService,
  makeWorkload,
  TestXdsServer,
} from './testing/index.ts';

const silent = new Logging({ filter: 'off' }).scope('xds');
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function setup(opts: Partial<XdsClientOptions> = {}, yaml = localhostConfigYaml()) {
  const server = await TestXdsServer.start({ yaml });
  const store = new StateStore();
  const client = new XdsClient({
    address: server.address,
    store,
    node: {
      instanceIp: '10.0.0.5',
      podName: 'ztunnel-abc',
      podNamespace: 'istio-system',
      nodeName: 'node-a',
    },
    logger: silent,
    ...opts,
  });
  cleanups.push(async () => {
    await client.close();
    await server.close();
  });
  client.start();
  return { server, store, client };
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return Number(v?.value ?? 0);
}

test('initial sync: both types ACKed, state applied, node and headers sent, store synced', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-xds-'));
  const tokenPath = join(dir, 'token');
  writeFileSync(tokenPath, 'first-token\n');
  const before = await metric('istio_xds_message_total', { url: ADDRESS_TYPE_URL });
  const { server, store } = await setup({ tokenPath, clusterId: 'c1', headers: { 'X-Extra': 'yes' } });
  await store.whenSynced();
  const view = store.view();
  assert.equal(view.snapshot().workloads.length, 2);
  assert.equal(view.workloadByAddress('', '127.0.0.2')?.name, 'local-tcp');
  assert.equal(view.serviceByVip('remote', '127.10.0.2')?.name, 'remote');
  assert.equal(view.policiesFor(view.workloadByUid('cluster1//v1/Pod/default/local')!).length, 1);

  const first = server.requests.filter((r) => !r.responseNonce);
  assert.deepEqual(first.map((r) => r.typeUrl).sort(), [ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL].sort());
  assert.equal(first[0]!.nodeId, 'ztunnel~10.0.0.5~ztunnel-abc.istio-system~istio-system.svc.cluster.local');
  assert.deepEqual(first[0]!.initialResourceVersions, {});
  assert.equal(first[0]!.headers.authorization, 'Bearer first-token');
  assert.equal(first[0]!.headers.clusterid, 'c1');
  assert.equal(first[0]!.headers['x-extra'], 'yes');
  await server.waitFor(() => server.acks().length === 2, 5000, 'two ACKs');
  assert.equal(server.nacks().length, 0);
  assert.equal((await metric('istio_xds_message_total', { url: ADDRESS_TYPE_URL })) - before, 1);
});

test('a token given itself (AUTH_TOKEN naming no file, as upstream allows) is sent with the cluster id', async () => {
  const { server, store } = await setup({ token: 'inline-token', clusterId: 'c1' });
  await store.whenSynced();
  const first = server.requests.find((r) => !r.responseNonce);
  assert.equal(first?.headers.authorization, 'Bearer inline-token');
  assert.equal(first?.headers.clusterid, 'c1');
});

test('update and removal are pushed, applied and ACKed', async () => {
  const { server, store } = await setup();
  await store.whenSynced();
  const changes: number[] = [];
  store.on('change', (s) => changes.push(s.version));
  const w = makeWorkload({ name: 'new', workloadIps: ['10.1.0.9'] });
  server.set({
    workloads: [w],
    policies: [makePolicy({ name: 'p2', scope: 'Global', namespace: 'istio-system' })],
  });
  await server.waitFor(() => server.acks().length === 4, 5000, 'ACKs of the update');
  assert.equal(store.view().workloadByAddress('', '10.1.0.9')?.uid, w.uid);
  assert.equal(store.view().snapshot().policies.length, 2);

  server.remove({ addresses: [w.uid, 'default/example2.com'], policies: ['default/deny-9999'] });
  await server.waitFor(() => server.acks().length === 6, 5000, 'ACKs of the removal');
  const v = store.view();
  assert.equal(v.workloadByUid(w.uid), undefined);
  assert.equal(v.serviceByHostname('default', 'example2.com'), undefined);
  assert.ok(v.serviceByHostname('default', 'example.com'));
  assert.deepEqual(
    v.snapshot().policies.map((p) => p.name),
    ['p2'],
  );
  assert.equal(changes.length, 4, 'one version per applied response');
  assert.deepEqual(
    changes,
    [...changes].sort((a, b) => a - b),
  );
});

async function nackCount(): Promise<number> {
  const m = registry.getSingleMetric('zt_xds_nacks_total');
  const v = m ? (await m.get()).values.find((x) => x.labels['url'] === ADDRESS_TYPE_URL) : undefined;
  return v?.value ?? 0;
}

test('NACK names the bad resource, keeps its last good version, applies the rest', async () => {
  const { server, store } = await setup();
  await store.whenSynced();
  const good = makeWorkload({ name: 'good', workloadIps: ['10.2.0.1'] });
  // The same uid as an accepted workload, now with a 5-byte address: must be refused.
  const bad = encodeAddressBytes({
    workload: {
      uid: 'cluster1//v1/Pod/default/local',
      name: 'local',
      addresses: [new Uint8Array([1, 2, 3, 4, 5])],
    },
  });
  server.set({ workloads: [good] });
  await server.waitFor(() => server.acks().length === 3);
  const nacksBefore = await nackCount();
  server.setRaw(ADDRESS_TYPE_URL, [
    { name: 'cluster1//v1/Pod/default/local', value: bad },
    { name: 'garbage', value: new Uint8Array([0xff, 0xff, 0xff]) },
  ]);
  await server.waitFor(() => server.nacks().length === 1, 5000, 'a NACK');
  const nack = server.nacks()[0]!;
  assert.match(nack.errorDetail!.message, /cluster1\/\/v1\/Pod\/default\/local: address #0: 5 bytes/);
  assert.match(nack.errorDetail!.message, /garbage: decode:/);
  assert.equal(nack.errorDetail!.code, grpcStatus.INVALID_ARGUMENT);
  assert.equal(await nackCount(), nacksBefore + 1, 'counted in zt_xds_nacks_total{url}');
  // Last good state kept.
  assert.deepEqual(store.view().workloadByUid('cluster1//v1/Pod/default/local')?.workloadIps, ['127.0.0.1']);
  assert.ok(store.view().workloadByUid(good.uid));

  // A later good push is ACKed again.
  server.set({ services: [makeService({ name: 's', vips: [{ network: '', address: '10.96.0.1' }] })] });
  await server.waitFor(() => server.acks().length === 4);
  assert.ok(store.view().serviceByVip('', '10.96.0.1'));
});

test('reconnect resumes with initial_resource_versions and reads the token again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-xds-'));
  const tokenPath = join(dir, 'token');
  writeFileSync(tokenPath, 'one');
  const beforeReconnect = await metric('istio_xds_connection_terminations_total', { reason: 'Reconnect' });
  const { server, store, client } = await setup({ tokenPath });
  await store.whenSynced();
  // A rejected resource must not be claimed on resume.
  server.setRaw(ADDRESS_TYPE_URL, [{ name: 'broken', value: new Uint8Array([0xff]) }]);
  await server.waitFor(() => server.nacks().length === 1);
  writeFileSync(tokenPath, 'two');
  server.dropStreams();
  await server.waitFor(
    () => server.requests.some((r) => r.stream === 2 && r.responseNonce),
    5000,
    'the resumed stream',
  );
  const resumed = server.requests.filter((r) => r.stream === 2 && !r.responseNonce);
  const addr = resumed.find((r) => r.typeUrl === ADDRESS_TYPE_URL)!;
  const authz = resumed.find((r) => r.typeUrl === AUTHORIZATION_TYPE_URL)!;
  assert.deepEqual(Object.keys(addr.initialResourceVersions).sort(), [
    'cluster1//v1/Pod/default/local',
    'cluster1//v1/Pod/default/local-tcp',
    'default/example.com',
    'default/example2.com',
  ]);
  assert.deepEqual(Object.keys(authz.initialResourceVersions), ['default/deny-9999']);
  assert.equal(addr.headers.authorization, 'Bearer two');
  assert.equal(client.connections, 2);
  assert.equal(
    (await metric('istio_xds_connection_terminations_total', { reason: 'Reconnect' })) - beforeReconnect,
    1,
  );
  // The server re-sends only what the client lacks: the broken resource.
  await server.waitFor(() => server.nacks().length === 2, 5000, 'the re-sent broken resource NACKed');
  assert.equal(store.view().snapshot().workloads.length, 2);
});

test('refused streams back off, count ConnectionError, and recover when the server accepts again', async () => {
  const before = await metric('istio_xds_connection_terminations_total', { reason: 'ConnectionError' });
  const server = await TestXdsServer.start({ yaml: localhostConfigYaml() });
  server.refuse({ code: grpcStatus.PERMISSION_DENIED, details: 'authentication failure' });
  const store = new StateStore();
  const waits: number[] = [];
  const client = new XdsClient({
    address: server.address,
    store,
    node: {},
    logger: {
      ...silent,
      warn: (o: unknown) => void waits.push((o as { retryInMs?: number }).retryInMs ?? -1),
    },
    maxBackoffMs: 200,
  });
  cleanups.push(async () => {
    await client.close();
    await server.close();
  });
  const started = Date.now();
  client.start();
  await server.waitFor(() => server.totalStreams >= 6, 5000, 'retries');
  // The first retry waits the initial 10 ms, then each wait doubles up to the 200 ms ceiling.
  assert.deepEqual(waits.slice(0, 5), [10, 20, 40, 80, 160]);
  assert.ok(Date.now() - started >= 150, `retried with backoff (${Date.now() - started} ms)`);
  assert.equal(store.synced, false);
  assert.ok(
    (await metric('istio_xds_connection_terminations_total', { reason: 'ConnectionError' })) - before >= 3,
  );
  server.accept();
  await store.whenSynced();
  assert.equal(store.view().snapshot().workloads.length, 2);
});

test('unreachable address: client keeps retrying without throwing', async () => {
  const server = await TestXdsServer.start();
  const address = server.address;
  await server.close();
  const store = new StateStore();
  const client = new XdsClient({ address, store, node: {}, logger: silent, maxBackoffMs: 50 });
  const reasons: string[] = [];
  client.on('disconnected', (r) => reasons.push(r));
  client.start();
  const deadline = Date.now() + 5000;
  while (reasons.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await client.close();
  assert.ok(reasons.length >= 2);
  assert.ok(reasons.every((r) => r === 'ConnectionError'));
});

test('bad options are refused with an actionable error', () => {
  const store = new StateStore();
  assert.throws(() => new XdsClient({ address: 'istiod:15012', store, node: {} }), {
    code: 'ERR_ZT_XDS_CONFIG',
  });
  assert.throws(
    () => new XdsClient({ address: 'ftp://istiod:15012', store, node: {} }),
    /https:\/\/ or http:\/\//,
  );
});

test('TLS: verified with the root PEM; an untrusted root never syncs', async () => {
  const { TestCa } = await import('@zt/identity/testing');
  const ca = await TestCa.create();
  const serving = await ca.issue(`spiffe://${ca.trustDomain}/ns/istio-system/sa/istiod`, {
    dnsNames: ['istiod.istio-system.svc'],
    ips: ['127.0.0.1'],
  });
  const server = await TestXdsServer.start({
    yaml: localhostConfigYaml(),
    tls: { key: serving.privateKey, cert: serving.certChain.join('') },
  });
  assert.match(server.address, /^https:/);
  const dir = mkdtempSync(join(tmpdir(), 'zt-xds-'));
  const rootCertPath = join(dir, 'root-cert.pem');
  writeFileSync(rootCertPath, ca.rootPem);
  const store = new StateStore();
  const client = new XdsClient({ address: server.address, store, node: {}, logger: silent, rootCertPath });
  const other = await TestCa.create();
  const wrongStore = new StateStore();
  const wrong = new XdsClient({
    address: server.address,
    store: wrongStore,
    node: {},
    logger: silent,
    rootCert: Buffer.from(other.rootPem),
    maxBackoffMs: 50,
  });
  const wrongReasons: string[] = [];
  wrong.on('disconnected', (r) => wrongReasons.push(r));
  cleanups.push(async () => {
    await client.close();
    await wrong.close();
    await server.close();
  });
  client.start();
  wrong.start();
  await store.whenSynced();
  assert.equal(store.view().snapshot().services.length, 2);
  await server.waitFor(() => wrongReasons.length >= 2, 5000, 'the untrusting client to fail twice');
  assert.equal(wrongStore.synced, false);
  assert.ok(wrongReasons.every((r) => r === 'ConnectionError'));
});

test('an empty token file is not sent: no stream until the token appears; clusterid travels with it only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-xds-'));
  const tokenPath = join(dir, 'token');
  writeFileSync(tokenPath, '');
  const sink = captureLog();
  const logger = new Logging({ filter: 'warn', format: 'json', destination: sink }).scope('xds');
  const { server, store } = await setup({ tokenPath, clusterId: 'c1', logger });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(server.requests.length, 0, 'a request went out with an empty token');
  assert.ok(sink.lines().length > 0, 'the empty token was not reported');
  writeFileSync(tokenPath, 'late-token\n');
  await store.whenSynced();
  const first = server.requests[0];
  assert.equal(first?.headers.authorization, 'Bearer late-token');
  assert.equal(first?.headers.clusterid, 'c1');
});

test('without a token no clusterid is sent (as upstream: it travels with the token)', async () => {
  const { server, store } = await setup({ clusterId: 'c1' });
  await store.whenSynced();
  assert.equal(server.requests[0]?.headers.authorization, undefined);
  assert.equal(server.requests[0]?.headers.clusterid, undefined);
});
