import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TRAFFIC_LABELS, trafficLabels } from './index.ts';

test('trafficLabels fills every upstream label, unknown when not given', () => {
  const l = trafficLabels({ reporter: 'destination', source_workload: 'sleep', destination_app: '' });
  assert.equal(Object.keys(l).length, TRAFFIC_LABELS.length);
  assert.equal(l.reporter, 'destination');
  assert.equal(l.source_workload, 'sleep');
  assert.equal(l.destination_app, 'unknown');
  assert.equal(l.connection_security_policy, 'unknown');
  assert.equal(l.source_region, 'unknown');
});

test("the traffic labels are upstream's CommonTrafficLabels, locality included, in its order", () => {
  // src/proxy/metrics.rs: the struct's fields, then the flattened LocalityLabels.
  assert.deepEqual(
    [...TRAFFIC_LABELS],
    [
      'reporter',
      'source_workload',
      'source_canonical_service',
      'source_canonical_revision',
      'source_workload_namespace',
      'source_principal',
      'source_app',
      'source_version',
      'source_cluster',
      'destination_service',
      'destination_service_namespace',
      'destination_service_name',
      'destination_workload',
      'destination_canonical_service',
      'destination_canonical_revision',
      'destination_workload_namespace',
      'destination_principal',
      'destination_app',
      'destination_version',
      'destination_cluster',
      'request_protocol',
      'response_flags',
      'connection_security_policy',
      'source_region',
      'source_zone',
      'destination_region',
      'destination_zone',
    ],
  );
});
