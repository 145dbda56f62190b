import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { FakeCaProvider, Identity, SecretManager } from '@zt/identity';
import { Logging } from '@zt/log';
import type { StateSnapshot, Workload } from '@zt/xds';
import { makeWorkload } from '@zt/xds/testing';
import { CertPrefetch, prefetchForPods, shouldPrefetch } from './cert-prefetch.ts';

const logger = new Logging({ filter: 'off' }).scope('cert');
const state = (workloads: Workload[], version = 1): StateSnapshot => ({
  version,
  workloads,
  services: [],
  policies: [],
});
const managed = (secrets: SecretManager) =>
  secrets
    .dump()
    .map((c) => c.identity)
    .sort();

test('upstream prefetches for HBONE workloads of this node only', () => {
  assert.equal(shouldPrefetch(makeWorkload({ name: 'a', node: 'n1' }), 'n1'), true);
  assert.equal(shouldPrefetch(makeWorkload({ name: 'a', node: 'n2' }), 'n1'), false, 'another node');
  assert.equal(shouldPrefetch(makeWorkload({ name: 'a', node: 'n1', protocol: 'TCP' }), 'n1'), false);
  assert.equal(
    shouldPrefetch(makeWorkload({ name: 'a', node: 'n1', protocol: 'TCP', nativeTunnel: true }), 'n1'),
    true,
    'a native tunnel speaks HBONE',
  );
  assert.equal(shouldPrefetch(makeWorkload({ name: 'a', node: '' }), ''), false, 'no NODE_NAME, no prefetch');
});

test('a state fetches ahead for this node HBONE workloads; an identity is forgotten when no local workload has it', async (t) => {
  const secrets = new SecretManager({ provider: await FakeCaProvider.create(), logger });
  t.after(() => secrets.close());
  const prefetch = new CertPrefetch({ nodeName: 'n1', trustDomain: 'cluster.local', certs: secrets, logger });
  const hbone = makeWorkload({ name: 'web', node: 'n1', serviceAccount: 'web' });
  const tcp = makeWorkload({ name: 'db', node: 'n1', serviceAccount: 'db', protocol: 'TCP' });
  const tcpSharingWeb = makeWorkload({ name: 'web-tcp', node: 'n1', serviceAccount: 'web', protocol: 'TCP' });
  const remote = makeWorkload({ name: 'far', node: 'n2', serviceAccount: 'far' });
  await prefetch.update(state([hbone, tcp, tcpSharingWeb, remote]));
  assert.deepEqual(managed(secrets), ['spiffe://cluster.local/ns/default/sa/web']);
  assert.ok(secrets.state(Identity.parse('spiffe://cluster.local/ns/default/sa/web'))?.t === 'available');

  // The HBONE pod leaves, a TCP pod of the same identity stays on the node: upstream keeps it.
  await prefetch.update(state([tcp, tcpSharingWeb, remote], 2));
  assert.deepEqual(managed(secrets), ['spiffe://cluster.local/ns/default/sa/web']);
  // The last local workload of the identity leaves: forgotten.
  await prefetch.update(state([tcp, remote], 3));
  assert.deepEqual(managed(secrets), []);
});

test('a failed prefetch settles the update (readiness must not hang) and is left to the first connection', async () => {
  const calls: string[] = [];
  const failing = {
    fetchCertificate: (id: Identity) => {
      calls.push(id.toString());
      return Promise.reject(new Error('CA unreachable'));
    },
    forget: () => {},
  };
  const prefetch = new CertPrefetch({ nodeName: 'n1', trustDomain: 'td.example', certs: failing, logger });
  await prefetch.update(
    state([makeWorkload({ name: 'a', node: 'n1', trustDomain: '', serviceAccount: 'a' })]),
  );
  assert.deepEqual(calls, ['spiffe://td.example/ns/default/sa/a']);
});

test('in-pod: the first pod of an identity fetches its certificate, the last one leaving forgets it', async (t) => {
  const secrets = new SecretManager({ provider: await FakeCaProvider.create(), logger });
  t.after(() => secrets.close());
  const pods = new EventEmitter<{ identityAdded: [Identity]; identityRemoved: [Identity] }>();
  prefetchForPods(pods, secrets, logger);
  const id = new Identity('cluster.local', 'ns1', 'sa1');
  pods.emit('identityAdded', id);
  await secrets.fetchCertificate(id, 'prefetch');
  assert.deepEqual(managed(secrets), [id.toString()]);
  pods.emit('identityRemoved', id);
  assert.deepEqual(managed(secrets), []);
});
