import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accessLevel, logAccess } from './access.ts';
import { Logging } from './logging.ts';
import { captureLog } from './testing/index.ts';

test('logAccess writes upstream field names in order under scope access; failures at warn', () => {
  const sink = captureLog();
  const logging = new Logging({ format: 'json', destination: sink });
  logAccess(logging.access, {
    'src.addr': '10.0.0.1:41234',
    'src.workload': 'sleep',
    'src.namespace': 'default',
    'src.identity': 'spiffe://cluster.local/ns/default/sa/sleep',
    'dst.addr': '10.0.0.2:15008',
    'dst.hbone_addr': '10.0.0.2:8080',
    'dst.service': 'echo.default.svc.cluster.local',
    'dst.workload': 'echo',
    'dst.namespace': 'default',
    'dst.identity': 'spiffe://cluster.local/ns/default/sa/echo',
    direction: 'outbound',
    bytes_sent: 120,
    bytes_recv: 4096,
    duration: '12ms',
  });
  logAccess(logging.access, {
    'src.addr': '10.0.0.1:41235',
    'src.workload': undefined,
    'dst.addr': '10.0.0.3:80',
    direction: 'inbound',
    bytes_sent: 0,
    bytes_recv: 0,
    duration: '3ms',
    error: 'connection refused',
  });
  const [ok, failed] = sink.lines();
  assert.deepEqual(Object.keys(ok ?? {}), [
    'level',
    'time',
    'scope',
    'src.addr',
    'src.workload',
    'src.namespace',
    'src.identity',
    'dst.addr',
    'dst.hbone_addr',
    'dst.service',
    'dst.workload',
    'dst.namespace',
    'dst.identity',
    'direction',
    'bytes_sent',
    'bytes_recv',
    'duration',
    'message',
  ]);
  assert.equal(ok?.['level'], 'info');
  assert.equal(ok?.['scope'], 'access');
  assert.equal(ok?.['message'], 'connection complete');
  assert.equal(ok?.['duration'], '12ms');
  assert.equal(failed?.['level'], 'warn');
  assert.equal(failed?.['error'], 'connection refused');
  assert.equal(failed?.['bytes_sent'], 0);
  assert.equal('src.workload' in (failed ?? {}), false);
  assert.equal(accessLevel(true), 'warn');
  assert.equal(accessLevel(false), 'info');
});

test('access=off silences the access lines and nothing else', () => {
  const sink = captureLog();
  const logging = new Logging({ filter: 'info,access=off', format: 'json', destination: sink });
  const line = {
    'src.addr': '10.0.0.1:1',
    'dst.addr': '10.0.0.2:2',
    direction: 'inbound' as const,
    bytes_sent: 1,
    bytes_recv: 1,
    duration: '1ms',
  };
  logAccess(logging.access, line);
  logAccess(logging.access, { ...line, error: 'reset' });
  logging.scope('proxy').info('still here');
  assert.equal(logging.access.isLevelEnabled(accessLevel(true)), false);
  assert.deepEqual(
    sink.lines().map((l) => l['message']),
    ['still here'],
  );
});
