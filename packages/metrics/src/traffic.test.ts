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
});
