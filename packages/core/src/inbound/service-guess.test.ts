import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProxyState } from '@zt/xds';
import { makeService, makeSnapshot, makeWorkload } from '@zt/xds/testing';
import { forwardedHost, guessInboundService } from './service-guess.ts';

test("forwardedHost reads the Forwarded header's host= as upstream does", () => {
  assert.equal(
    forwardedHost('for="10.0.0.1:5000";host=web.default.svc.cluster.local'),
    'web.default.svc.cluster.local',
  );
  assert.equal(forwardedHost('host="web.default.svc.cluster.local";for=x'), 'web.default.svc.cluster.local');
  assert.equal(forwardedHost(' for=x ; host=a.b '), 'a.b');
  assert.equal(forwardedHost('for="10.0.0.1:5000"'), undefined);
  assert.equal(forwardedHost('host='), undefined);
  assert.equal(forwardedHost('host=""'), undefined);
  assert.equal(forwardedHost('host=wéb'), undefined, 'not ASCII');
  assert.equal(forwardedHost(undefined), undefined);
});

// A pod backing three services: `web` (80 -> 8080), `admin` (9000 -> a named port the pod maps to
// 9090), `other` (80 -> 8080 too). `ghost` is named by the pod but unknown to the state.
const web = makeService({ name: 'web', vips: ['10.96.0.1'], ports: { 80: 8080 } });
const admin = makeService({ name: 'admin', vips: ['10.96.0.2'], ports: { 9000: 0 } });
const other = makeService({ name: 'other', vips: ['10.96.0.3'], ports: { 80: 8080 } });
const unrelated = makeService({ name: 'unrelated', vips: ['10.96.0.4'], ports: { 80: 7070 } });
const pod = makeWorkload({
  name: 'pod',
  workloadIps: ['10.0.0.5'],
  services: {
    'default/ghost.default.svc.cluster.local': { 80: 7070 },
    'default/web.default.svc.cluster.local': { 80: 8080 },
    'default/admin.default.svc.cluster.local': { 9000: 9090 },
    'default/other.default.svc.cluster.local': { 80: 8080 },
  },
});
const view = new ProxyState(makeSnapshot(1, { workloads: [pod], services: [web, admin, other, unrelated] }));

test('the inbound service: the first of the pod services whose target port is the port', () => {
  assert.equal(guessInboundService(view, pod, 8080)?.name, 'web');
  assert.equal(guessInboundService(view, pod, 1234), undefined, 'no service targets the port');
  assert.equal(
    guessInboundService(view, pod, 7070),
    undefined,
    "ghost is unknown, unrelated is not the pod's",
  );
});

test("the inbound service: a named target port matches through the pod's own port map", () => {
  assert.equal(guessInboundService(view, pod, 9090)?.name, 'admin');
});

test('the inbound service: the one the client named wins, if the pod backs it; a bogus name is ignored', () => {
  assert.equal(guessInboundService(view, pod, 8080, 'other.default.svc.cluster.local')?.name, 'other');
  assert.equal(guessInboundService(view, pod, 8080, 'unrelated.default.svc.cluster.local')?.name, 'web');
  // Named even where the port says otherwise, as upstream: the header is checked first.
  assert.equal(guessInboundService(view, pod, 1234, 'admin.default.svc.cluster.local')?.name, 'admin');
});
