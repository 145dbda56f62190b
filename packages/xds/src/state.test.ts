import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { configDump } from './dump.ts';
import { ProxyState } from './state.ts';
import { StateStore } from './store.ts';
import { emptyMatch, makePolicy, makeService, makeWorkload } from './testing/index.ts';
import type { StateSnapshot } from './types.ts';

const HOST = 'web.app.svc.cluster.local';
const KEY = `app/${HOST}`;

function snapshot(): StateSnapshot {
  const web = makeService({
    name: 'web',
    namespace: 'app',
    vips: [
      { network: '', address: '10.96.0.1' },
      { network: 'remote', address: '2001:db8::1' },
    ],
    ports: [
      { servicePort: 80, targetPort: 8080 },
      { servicePort: 443, targetPort: 0 },
    ],
  });
  return {
    version: 7,
    workloads: [
      // Named target port: 443 resolves through the workload.
      makeWorkload({
        name: 'web-1',
        namespace: 'app',
        workloadIps: ['10.0.0.1'],
        services: { [KEY]: { 80: 8080, 443: 8443 } },
      }),
      // Overrides 80 and cannot serve 443 (no mapping of its own, service says 0).
      makeWorkload({
        name: 'web-2',
        namespace: 'app',
        workloadIps: ['10.0.0.2'],
        services: { [KEY]: { 80: 9090 } },
        status: 'Unhealthy',
      }),
      makeWorkload({
        name: 'db',
        namespace: 'data',
        network: 'remote',
        workloadIps: ['10.0.0.1', 'fd00::5'],
        authorizationPolicies: ['data/db-only', 'data/missing', 'app/app-ns', 'istio-system/mesh-deny'],
      }),
      makeWorkload({
        name: 'hostnet',
        namespace: 'kube-system',
        workloadIps: ['192.168.1.10'],
        networkMode: 'HostNetwork',
      }),
    ],
    services: [web],
    policies: [
      makePolicy({ name: 'mesh-deny', namespace: 'istio-system', scope: 'Global', action: 'Deny' }, [
        emptyMatch({ destinationPorts: [9999] }),
      ]),
      makePolicy({ name: 'app-ns', namespace: 'app', scope: 'Namespace' }),
      makePolicy({ name: 'data-ns', namespace: 'data', scope: 'Namespace' }),
      makePolicy({ name: 'db-only', namespace: 'data', scope: 'WorkloadSelector' }),
      makePolicy({ name: 'other-selector', namespace: 'data', scope: 'WorkloadSelector' }),
    ],
  };
}

test('workloads by uid and by (network, ip); host-network workloads are not indexed by IP', () => {
  const s = new ProxyState(snapshot());
  assert.equal(s.version, 7);
  assert.equal(s.workloadByUid('Kubernetes//Pod/app/web-1')?.name, 'web-1');
  assert.equal(s.workloadByAddress('', '10.0.0.1')?.name, 'web-1');
  assert.equal(s.workloadByAddress('remote', '10.0.0.1')?.name, 'db', 'same IP, other network');
  assert.equal(s.workloadByAddress('remote', 'FD00:0:0::5')?.name, 'db', 'any spelling of the IP');
  assert.equal(s.workloadByAddress('', '10.0.0.9'), undefined);
  assert.equal(s.workloadByAddress('', '192.168.1.10'), undefined);
  assert.equal(s.workloadByUid('Kubernetes//Pod/kube-system/hostnet')?.name, 'hostnet');
});

test('services by VIP and by namespace/hostname', () => {
  const s = new ProxyState(snapshot());
  assert.equal(s.serviceByVip('', '10.96.0.1')?.name, 'web');
  assert.equal(s.serviceByVip('remote', '2001:db8::1')?.name, 'web');
  assert.equal(s.serviceByVip('remote', '10.96.0.1'), undefined);
  assert.equal(s.serviceByHostname('app', HOST)?.name, 'web');
  assert.equal(s.serviceByHostname('other', HOST), undefined);
});

test('endpoints resolve the port mapping (workload mapping first, then the service target port)', () => {
  const s = new ProxyState(snapshot());
  const svc = s.serviceByHostname('app', HOST)!;
  const eps = s.endpoints(svc);
  const byName = Object.fromEntries(eps.map((e) => [e.workload.name, e.ports]));
  assert.deepEqual(Object.keys(byName).sort(), ['web-1', 'web-2'], 'unhealthy endpoints are listed too');
  assert.deepEqual(byName['web-1'], { 80: 8080, 443: 8443 });
  assert.deepEqual(byName['web-2'], { 80: 9090 });
  assert.equal(s.endpoints(svc), eps, 'computed once per snapshot');
  assert.deepEqual(s.endpoints(makeService({ name: 'none' })), []);
});

test('policiesFor: global, own namespace, and every policy the workload names, whatever its scope', () => {
  const s = new ProxyState(snapshot());
  const names = (uid: string) => s.policiesFor(s.workloadByUid(uid)!).map((p) => `${p.namespace}/${p.name}`);
  assert.deepEqual(names('Kubernetes//Pod/app/web-1'), ['istio-system/mesh-deny', 'app/app-ns']);
  // As upstream's assert_rbac: app/app-ns is Namespace-scoped in another namespace, and applies to
  // db because db names it. The global one it also names is not repeated; a missing one is skipped.
  assert.deepEqual(names('Kubernetes//Pod/data/db'), [
    'istio-system/mesh-deny',
    'data/data-ns',
    'data/db-only',
    'app/app-ns',
  ]);
  assert.deepEqual(names('Kubernetes//Pod/kube-system/hostnet'), ['istio-system/mesh-deny']);
});

test('ProxyState.fromSnapshot works in a worker thread on a structured-clone copy', async () => {
  const snap = snapshot();
  const src = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(${JSON.stringify(new URL('./state.ts', import.meta.url).href)}).then(({ ProxyState }) => {
      const s = ProxyState.fromSnapshot(workerData);
      const w = s.workloadByAddress('', '10.0.0.1');
      const svc = s.serviceByVip('', '10.96.0.1');
      parentPort.postMessage({
        version: s.version,
        workload: w && w.name,
        ports: s.endpoints(svc).map((e) => e.ports),
        policies: s.policiesFor(w).map((p) => p.name),
      });
    });`;
  const worker = new Worker(src, { eval: true, workerData: snap, execArgv: ['--conditions=zt-source'] });
  const msg = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  assert.deepEqual(msg, {
    version: 7,
    workload: 'web-1',
    ports: [{ 80: 8080, 443: 8443 }, { 80: 9090 }],
    policies: ['mesh-deny', 'app-ns'],
  });
});

test('StateStore: atomic apply, versions, change events, removals by uid or namespace/hostname', () => {
  const store = new StateStore();
  const seen: StateSnapshot[] = [];
  store.on('change', (s) => seen.push(s));
  const snap = snapshot();
  assert.equal(
    store.apply({ workloads: snap.workloads, services: snap.services, policies: snap.policies }),
    true,
  );
  assert.equal(store.version, 1);
  const v1 = store.view();
  assert.equal(store.view(), v1, 'view cached until the next change');
  assert.equal(
    store.apply({ removedAddresses: ['unknown'], removedPolicies: ['nope/nope'] }),
    false,
    'no-op: no event',
  );
  store.apply({ removedAddresses: ['Kubernetes//Pod/app/web-2', KEY], removedPolicies: ['data/db-only'] });
  assert.equal(store.version, 2);
  assert.equal(seen.length, 2);
  assert.equal(seen[1]!.version, 2);
  const v2 = store.view();
  assert.notEqual(v2, v1);
  assert.equal(v2.workloadByUid('Kubernetes//Pod/app/web-2'), undefined);
  assert.equal(v2.serviceByHostname('app', HOST), undefined);
  assert.equal(v2.policy('data', 'db-only'), undefined);
  // The old snapshot is untouched.
  assert.ok(v1.workloadByUid('Kubernetes//Pod/app/web-2'));
  assert.equal(seen[0]!.workloads.length, 4);
});

test('StateStore: synced once, whenSynced resolves', async () => {
  const store = new StateStore();
  let events = 0;
  store.on('synced', () => events++);
  const p = store.whenSynced();
  store.markSynced();
  store.markSynced();
  await p;
  assert.equal(store.synced, true);
  assert.equal(events, 1);
});

test('configDump: upstream shape', () => {
  const dump = configDump(snapshot(), { certificates: [{ identity: 'x' }] });
  assert.deepEqual(Object.keys(dump).sort(), [
    'certificates',
    'policies',
    'services',
    'stagedServices',
    'workloads',
  ]);
  const json = JSON.parse(JSON.stringify(dump));
  const web1 = json.workloads.find((w: { name: string }) => w.name === 'web-1');
  assert.deepEqual(web1.workloadIps, ['10.0.0.1']);
  assert.equal(web1.protocol, 'HBONE');
  assert.equal(web1.uid, 'Kubernetes//Pod/app/web-1');
  assert.deepEqual(web1.services, [KEY]);
  assert.equal(web1.status, 'Healthy');
  const svc = json.services[0];
  assert.deepEqual(svc.vips, ['/10.96.0.1', 'remote/2001:db8::1']);
  assert.deepEqual(svc.ports, { 80: 8080, 443: 0 });
  assert.equal(svc.visibility, 'Public', 'always written, as upstream does, default Public');
  assert.deepEqual(svc.endpoints['Kubernetes//Pod/app/web-1'], {
    workloadUid: 'Kubernetes//Pod/app/web-1',
    port: { 80: 8080, 443: 8443 },
    status: 'Healthy',
  });
  const deny = json.policies.find((p: { name: string }) => p.name === 'mesh-deny');
  assert.deepEqual(deny, {
    name: 'mesh-deny',
    namespace: 'istio-system',
    scope: 'Global',
    action: 'Deny',
    rules: [[[{ destinationPorts: [9999] }]]],
    dryRun: false,
  });
  assert.deepEqual(json.certificates, [{ identity: 'x' }]);
});
