import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeService, makeWorkload } from '@zt/xds/testing';
import { baggageHeader, forwardedHeader, newTraceparent, traceIdOf } from './headers.ts';

test('baggage as upstream: cluster, namespace, typed workload name, service, version, locality', () => {
  const w = makeWorkload({
    name: 'sleep',
    workloadIps: ['10.0.0.1'],
    locality: { region: 'r1', zone: 'z1', subzone: '' },
  });
  assert.equal(
    baggageHeader(w),
    'k8s.cluster.name=Kubernetes,k8s.namespace.name=default,k8s.deployment.name=sleep,service.name=sleep,service.version=latest,cloud.region=r1,cloud.availability_zone=z1',
  );
  assert.equal(
    baggageHeader({ ...w, canonicalRevision: '', locality: undefined, workloadType: 'pod' }),
    'k8s.cluster.name=Kubernetes,k8s.namespace.name=default,k8s.pod.name=sleep,service.name=sleep',
  );
});
test('forwarded: for="ip:port" and host= for services; IPv6 bracketed', () => {
  assert.equal(forwardedHeader({ address: '10.0.0.1', port: 5000 }, undefined), 'for="10.0.0.1:5000"');
  const svc = makeService({ name: 'echo', vips: ['10.96.0.1'], ports: { 80: 8080 } });
  assert.equal(
    forwardedHeader({ address: 'fd00::1', port: 5000 }, svc),
    'for="[fd00::1]:5000";host=echo.default.svc.cluster.local',
  );
});
test('traceparent: version 00, random ids', () => {
  const a = newTraceparent();
  assert.match(a, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  assert.notEqual(a, newTraceparent());
  assert.equal(traceIdOf(a), a.slice(3, 35));
  assert.equal(traceIdOf('garbage'), undefined);
});
test('traceparent: ids stay well-formed and distinct across refills of the random pool', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const t = newTraceparent();
    assert.match(t, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    seen.add(t.slice(3, 35));
    seen.add(t.slice(36, 52));
  }
  assert.equal(seen.size, 2000);
});
