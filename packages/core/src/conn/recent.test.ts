import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { ConnectionInfo } from '../types.ts';
import { RecentConnections } from './recent.ts';
import { ConnectionRegistry } from './registry.ts';

function info(id: number, verdict: ConnectionInfo['verdict'] = 'allow'): ConnectionInfo {
  return {
    id: `c${id}`,
    direction: 'inbound',
    protocol: 'HBONE',
    src: { address: '10.0.0.1', port: 1000 + id, identity: 'spiffe://cluster.local/ns/a/sa/x' },
    dst: { address: '10.0.0.2', port: 8080, workload: 'b/echo' },
    startedAt: 1000,
    bytesSent: id,
    bytesReceived: 2 * id,
    verdict,
  };
}

test('the ring keeps the last N closed connections, newest first, and denials in a ring of their own', () => {
  const ring = new RecentConnections(3);
  assert.deepEqual(ring.dump(), { closed: [], denials: [], capacity: 3 });
  ring.record(info(1), '-', undefined);
  ring.record(
    { ...info(2, 'deny'), policy: 'b/deny-a', rule: 1 },
    'DENY',
    new Error('denied by policy b/deny-a'),
  );
  assert.deepEqual(
    ring.dump().closed.map((c) => c.id),
    ['c2', 'c1'],
  );
  for (let i = 3; i <= 7; i++) ring.record(info(i), i === 5 ? 'CONNECT' : '-', undefined);
  const { closed, denials } = ring.dump();
  assert.deepEqual(
    closed.map((c) => [c.id, c.responseFlag]),
    [
      ['c7', '-'],
      ['c6', '-'],
      ['c5', 'CONNECT'],
    ],
  );
  // The denial outlived five allowed connections in a ring of three.
  assert.equal(denials.length, 1);
  const d = denials[0];
  assert.equal(d?.policy, 'b/deny-a');
  assert.equal(d?.rule, 1);
  assert.equal(d?.error, 'denied by policy b/deny-a');
  assert.equal(d?.responseFlag, 'DENY');
  assert.ok((d?.endedAt ?? 0) >= Date.now() - 1000);
  assert.equal('error' in (closed[0] ?? {}), false, 'a clean close carries no error field');
});

test('capacity 0 keeps nothing; a bad capacity is refused', () => {
  const ring = new RecentConnections(0);
  ring.record(info(1, 'deny'), 'DENY', undefined);
  assert.deepEqual(ring.dump(), { closed: [], denials: [], capacity: 0 });
  assert.throws(() => new RecentConnections(-1), RangeError);
  assert.throws(() => new RecentConnections(1.5), RangeError);
});

test('the dump is a copy: reading it cannot change what the ring holds', () => {
  const ring = new RecentConnections(2);
  ring.record(info(1), '-', undefined);
  const first = ring.dump().closed[0];
  if (first) first.src.address = 'changed';
  assert.equal(ring.dump().closed[0]?.src.address, '10.0.0.1');
});

test('the registry records each connection once as it finishes, with its response flag', () => {
  const ring = new RecentConnections(10);
  const reg = new ConnectionRegistry(pino({ level: 'silent' }), 'r-', undefined, ring);
  const open = (verdict: ConnectionInfo['verdict']) =>
    reg.open({
      info: {
        direction: 'inbound',
        protocol: 'TCP',
        src: { address: '10.0.0.1', port: 1 },
        dst: { address: '10.0.0.2', port: 2 },
        verdict,
        policy: 'ns/p',
      },
      labels: { reporter: 'destination', mtls: false },
    });
  const ok = open('allow');
  ok.countToServer(5);
  ok.finish();
  ok.finish();
  const denied = open('deny');
  denied.finish(new Error('denied by policy ns/p'), 'DENY');
  const { closed, denials } = ring.dump();
  assert.deepEqual(
    closed.map((c) => [c.id, c.responseFlag, c.verdict]),
    [
      [denied.info.id, 'DENY', 'deny'],
      [ok.info.id, '-', 'allow'],
    ],
  );
  assert.equal(closed[1]?.bytesReceived, 5);
  assert.deepEqual(
    denials.map((c) => c.id),
    [denied.info.id],
  );
});
