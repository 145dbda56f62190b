// The adapter over @zt/xds's real state: what xDS and the local config carry reaches the lookup,
// namespace-scoped visibility first among it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeAddress,
  decodeAddressBytes,
  encodeAddressBytes,
  encodeService,
  ProxyState,
  parseLocalConfig,
  type Service,
  type StateSnapshot,
} from '@zt/xds';
import { makeService, makeWorkload } from '@zt/xds/testing';
import { MeshLookup } from './lookup.ts';
import { kubeSearchDomains } from './names.ts';
import { dnsStateOf } from './xds-state.ts';

/** A service as istiod would send it: encoded to the wire and decoded back by @zt/xds. */
function overTheWire(s: Service): Service {
  const d = decodeAddress('svc', decodeAddressBytes(encodeAddressBytes(encodeService(s))));
  assert.equal(d.kind, 'service');
  return (d as { service: Service }).service;
}

function lookupFrom(snap: StateSnapshot, clientUid: string, name: string): string[] | 'unknown' {
  const state = dnsStateOf(new ProxyState(snap));
  const client = state.clientByUid(clientUid);
  assert.ok(client);
  const answer = new MeshLookup({ clusterDomain: 'cluster.local', ipv6Enabled: true }).lookup(
    state,
    client,
    name,
    'A',
    kubeSearchDomains(client.namespace, 'cluster.local'),
  );
  return answer ? answer.addresses.sort() : 'unknown';
}

test('visibility decoded from xDS: a namespace-scoped service resolves in its namespace only', () => {
  const secret = overTheWire({
    ...makeService({
      name: 'secret',
      namespace: 'restricted',
      vips: [{ network: '', address: '10.96.0.30' }],
    }),
    visibility: 'Namespace',
  });
  assert.equal(secret.visibility, 'Namespace');
  const inside = makeWorkload({ name: 'in', namespace: 'restricted', workloadIps: ['10.0.0.1'] });
  const outside = makeWorkload({ name: 'out', namespace: 'frontend', workloadIps: ['10.0.0.2'] });
  const snap: StateSnapshot = { version: 1, workloads: [inside, outside], services: [secret], policies: [] };
  assert.deepEqual(lookupFrom(snap, inside.uid, 'secret'), ['10.96.0.30']);
  assert.deepEqual(lookupFrom(snap, inside.uid, 'secret.restricted.svc.cluster.local'), ['10.96.0.30']);
  assert.equal(lookupFrom(snap, outside.uid, 'secret.restricted'), 'unknown');
  assert.equal(lookupFrom(snap, outside.uid, 'secret.restricted.svc.cluster.local'), 'unknown');

  // The same service public (the default on the wire) resolves for both.
  const open = overTheWire({ ...secret, visibility: 'Public' });
  const snap2 = { ...snap, services: [open] };
  assert.deepEqual(lookupFrom(snap2, outside.uid, 'secret.restricted'), ['10.96.0.30']);
});

test('visibility from the local config (LOCAL_XDS_PATH) reaches the lookup too', () => {
  const local = parseLocalConfig(`
workloads:
  - uid: cluster1//v1/Pod/frontend/web
    name: web
    namespace: frontend
    workloadIps: [10.0.0.5]
services:
  - name: secret
    namespace: restricted
    hostname: secret.restricted.svc.cluster.local
    vips: ["/10.96.0.31"]
    visibility: Namespace
  - name: echo
    namespace: backend
    hostname: echo.backend.svc.cluster.local
    vips: ["/10.96.0.20"]
`);
  const snap: StateSnapshot = { version: 1, ...local };
  assert.equal(lookupFrom(snap, 'cluster1//v1/Pod/frontend/web', 'secret.restricted'), 'unknown');
  assert.deepEqual(lookupFrom(snap, 'cluster1//v1/Pod/frontend/web', 'echo.backend'), ['10.96.0.20']);
});
