import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeWorkload } from '@zt/xds/testing';
import { baggageHeader } from '../outbound/headers.ts';
import { parseBaggage } from './baggage.ts';

// Upstream's cases (src/baggage.rs tests), then what zt adds.

test('baggage: every field upstream reads', () => {
  assert.deepEqual(
    parseBaggage(
      'k8s.cluster.name=K1,k8s.namespace.name=NS1,k8s.deployment.name=N1,service.name=N2,service.version=V1,cloud.region=R,cloud.availability_zone=Z',
    ),
    {
      clusterId: 'K1',
      namespace: 'NS1',
      workloadName: 'N1',
      app: 'N2',
      revision: 'V1',
      region: 'R',
      zone: 'Z',
    },
  );
});

test('baggage: empty values are no values', () => {
  assert.deepEqual(
    parseBaggage('k8s.cluster.name=,k8s.namespace.name=,k8s.deployment.name=,service.name=,service.version='),
    {},
  );
});

test('baggage: one member per header, several headers (and Node joining them with ", ")', () => {
  const lines = ['k8s.cluster.name=K1', 'k8s.namespace.name=NS1', 'k8s.job.name=N1', 'service.name=N2'];
  const want = { clusterId: 'K1', namespace: 'NS1', workloadName: 'N1', app: 'N2' };
  assert.deepEqual(parseBaggage(lines), want);
  assert.deepEqual(parseBaggage(lines.join(', ')), want);
});

test('baggage: no header, unknown keys, members without a value, prototype names', () => {
  assert.deepEqual(parseBaggage(undefined), {});
  assert.deepEqual(
    parseBaggage('foo=bar,k8s.pod.name,constructor=x,__proto__=y,toString=z,k8s.cronjob.name=c'),
    { workloadName: 'c' },
  );
});

test('baggage: what zt sends outbound reads back as the same workload', () => {
  const w = makeWorkload({
    name: 'sleep-1',
    workloadName: 'sleep',
    canonicalName: 'sleep-svc',
    canonicalRevision: 'v3',
    namespace: 'apps',
    clusterId: 'c1',
    locality: { region: 'r1', zone: 'z1', subzone: 's1' },
  });
  assert.deepEqual(parseBaggage(baggageHeader(w)), {
    clusterId: 'c1',
    namespace: 'apps',
    workloadName: 'sleep',
    app: 'sleep-svc',
    revision: 'v3',
    region: 'r1',
    zone: 'z1',
  });
});
