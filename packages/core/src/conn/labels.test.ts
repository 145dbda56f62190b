import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeService, makeWorkload } from '@zt/xds/testing';
import { connectionLabels } from './labels.ts';

const locality = (region: string, zone: string) => ({ region, zone, subzone: '' });

test('source_workload is the workload name; a pod without one reads unknown, not its pod name', () => {
  const deployed = makeWorkload({ name: 'sleep-7d9f-abcde', workloadName: 'sleep' });
  const bare = makeWorkload({ name: 'lonely-pod', workloadName: '' });
  const l = connectionLabels({ reporter: 'source', source: deployed, destination: bare, mtls: false });
  assert.equal(l.source_workload, 'sleep');
  assert.equal(l.destination_workload, 'unknown');
});

test('locality labels come from the source and destination workloads', () => {
  const l = connectionLabels({
    reporter: 'source',
    source: makeWorkload({ name: 'a', locality: locality('eu-west1', 'eu-west1-b') }),
    destination: makeWorkload({ name: 'b', locality: locality('us-east1', 'us-east1-c') }),
    mtls: true,
  });
  assert.deepEqual(
    [l.source_region, l.source_zone, l.destination_region, l.destination_zone],
    ['eu-west1', 'eu-west1-b', 'us-east1', 'us-east1-c'],
  );
  const none = connectionLabels({ reporter: 'source', source: makeWorkload({ name: 'a' }), mtls: false });
  assert.deepEqual(
    [none.source_region, none.source_zone, none.destination_region, none.destination_zone],
    ['unknown', 'unknown', 'unknown', 'unknown'],
  );
});

test('an unknown source is labelled from its baggage; a known source wins over every field of it', () => {
  const derivedSource = {
    workloadName: 'reviews-v2',
    app: 'reviews',
    revision: 'v2',
    namespace: 'bookinfo',
    clusterId: 'east',
    region: 'eu',
    zone: 'eu-1',
  };
  const destination = makeWorkload({ name: 'ratings' });
  const l = connectionLabels({
    reporter: 'destination',
    derivedSource,
    sourceIdentity: 'spiffe://cluster.local/ns/bookinfo/sa/reviews',
    destination,
    mtls: true,
  });
  assert.equal(l.source_workload, 'reviews-v2');
  assert.equal(l.source_canonical_service, 'reviews');
  assert.equal(l.source_canonical_revision, 'v2');
  assert.equal(l.source_workload_namespace, 'bookinfo');
  // Upstream's with_derived_source: source_app is the baggage's workload name.
  assert.equal(l.source_app, 'reviews-v2');
  assert.equal(l.source_version, 'v2');
  assert.equal(l.source_cluster, 'east');
  assert.equal(l.source_region, 'eu');
  assert.equal(l.source_zone, 'eu-1');
  assert.equal(l.source_principal, 'spiffe://cluster.local/ns/bookinfo/sa/reviews');

  const known = makeWorkload({ name: 'productpage', namespace: 'web', workloadName: '' });
  const k = connectionLabels({
    reporter: 'destination',
    source: known,
    derivedSource,
    destination,
    mtls: true,
  });
  assert.equal(k.source_workload, 'unknown', 'the known workload has no workload name: not the baggage one');
  assert.equal(k.source_workload_namespace, 'web');
  assert.equal(k.source_region, 'unknown');
});

test('destination_principal is the destination workload identity even without mTLS; source_principal only with it', () => {
  const l = connectionLabels({
    reporter: 'destination',
    source: makeWorkload({ name: 'a', serviceAccount: 'sa-a' }),
    destination: makeWorkload({ name: 'b', namespace: 'ns-b', serviceAccount: 'sa-b' }),
    mtls: false,
  });
  assert.equal(l.destination_principal, 'spiffe://cluster.local/ns/ns-b/sa/sa-b');
  assert.equal(l.source_principal, 'unknown');
  assert.equal(l.connection_security_policy, 'unknown');
});

test("a derived destination replaces every field of the destination workload (the gateway's), the service stays", () => {
  const gateway = makeWorkload({
    name: 'eastwest',
    namespace: 'istio-system',
    locality: locality('gw-region', 'gw-zone'),
  });
  const service = makeService({ name: 'reviews', namespace: 'bookinfo' });
  const l = connectionLabels({
    reporter: 'source',
    source: makeWorkload({ name: 'a' }),
    destination: gateway,
    derivedDestination: { workloadName: 'reviews-v2', app: 'reviews', revision: 'v2', namespace: 'bookinfo' },
    destinationIdentity: 'spiffe://cluster.local/ns/bookinfo/sa/reviews',
    service,
    mtls: true,
  });
  assert.deepEqual(
    [
      l.destination_workload,
      l.destination_canonical_service,
      l.destination_canonical_revision,
      l.destination_workload_namespace,
      l.destination_app,
      l.destination_version,
      l.destination_principal,
    ],
    [
      'reviews-v2',
      'reviews',
      'v2',
      'bookinfo',
      'reviews-v2',
      'v2',
      'spiffe://cluster.local/ns/bookinfo/sa/reviews',
    ],
  );
  // What the baggage did not say reads unknown, not the gateway's value.
  assert.deepEqual(
    [l.destination_cluster, l.destination_region, l.destination_zone],
    ['unknown', 'unknown', 'unknown'],
  );
  assert.equal(l.destination_service, 'reviews.bookinfo.svc.cluster.local');
});
