import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accessLog, createLogger, LogFilterError, parseLogFilter, pinoLevelFor } from './index.ts';

function capture(): { lines: () => Record<string, unknown>[]; write: (s: string) => void } {
  const out: string[] = [];
  return {
    write: (s: string) => {
      out.push(s);
    },
    lines: () =>
      out
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

test('RUST_LOG sets the default and per-scope levels; lines are upstream-shaped JSON', () => {
  const sink = capture();
  const logging = createLogger({
    env: { RUST_LOG: 'warn,xds=debug', LOG_FORMAT: 'json' },
    destination: sink,
  });
  assert.equal(logging.level(), 'xds=debug,warn');
  logging.root.info('hidden');
  logging.root.warn('shown');
  logging.scope('xds').debug({ type_url: 'type.googleapis.com/istio.workload.Address' }, 'received');
  logging.scope('xds::client').debug('prefix match');
  logging.scope('proxy').debug('hidden too');
  const lines = sink.lines();
  assert.deepEqual(
    lines.map((l) => [l['level'], l['scope'], l['message']]),
    [
      ['warn', 'ztunnel', 'shown'],
      ['debug', 'xds', 'received'],
      ['debug', 'xds::client', 'prefix match'],
    ],
  );
  assert.match(String(lines[0]?.['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(lines[1]?.['type_url'], 'type.googleapis.com/istio.workload.Address');
  assert.equal('pid' in (lines[0] ?? {}), false);
});

test('no RUST_LOG means info; setLevel adds on top, reset restores the startup filter', () => {
  const sink = capture();
  const logging = createLogger({ env: { LOG_FORMAT: 'json' }, destination: sink });
  const access = logging.access;
  assert.equal(logging.level(), 'info');
  access.debug('before');
  assert.equal(logging.setLevel('access=debug'), 'access=debug,info');
  access.debug('after');
  assert.equal(logging.setLevel('error'), 'access=debug,error');
  assert.equal(logging.setLevel('off', true), 'off');
  logging.root.error('silenced');
  assert.equal(logging.setLevel('', true), 'info');
  assert.deepEqual(
    sink.lines().map((l) => l['message']),
    ['new log filter is access=debug,info', 'after', 'new log filter is info'],
  );
});

test('bad directives are refused with a stable code', () => {
  for (const bad of ['verbose', 'xds=loud', '=debug', 'a b=info']) {
    assert.throws(() => parseLogFilter(bad), LogFilterError, bad);
  }
  assert.equal(parseLogFilter('ztunnel::proxy:debug').scopes.get('ztunnel::proxy'), 'debug');
  assert.equal(parseLogFilter('INFO').level, 'info');
});

test('accessLog writes upstream field names, duration in ms, and error lines at error level', () => {
  const sink = capture();
  const logging = createLogger({ env: { LOG_FORMAT: 'json' }, destination: sink });
  accessLog(logging.access, {
    src: {
      addr: '10.0.0.1:41234',
      workload: 'sleep',
      namespace: 'default',
      identity: 'spiffe://cluster.local/ns/default/sa/sleep',
    },
    dst: {
      addr: '10.0.0.2:15008',
      hbone_addr: '10.0.0.2:8080',
      service: 'echo.default.svc.cluster.local',
      workload: 'echo',
      namespace: 'default',
      identity: 'spiffe://cluster.local/ns/default/sa/echo',
    },
    direction: 'outbound',
    bytes_sent: 120,
    bytes_recv: 4096,
    duration: 12.4,
  });
  accessLog(logging.access, {
    src: { addr: '10.0.0.1:41235' },
    dst: { addr: '10.0.0.3:80' },
    direction: 'inbound',
    bytes_sent: 0,
    bytes_recv: 0,
    duration: 3,
    error: 'connection refused',
  });
  const [ok, failed] = sink.lines();
  assert.deepEqual(ok, {
    level: 'info',
    time: ok?.['time'],
    scope: 'access',
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
    message: 'connection complete',
  });
  assert.equal(failed?.['level'], 'error');
  assert.equal(failed?.['error'], 'connection refused');
  assert.equal(failed?.['bytes_sent'], 0);
  assert.equal('src.workload' in (failed ?? {}), false);
});

test('pinoLevelFor: the most verbose level among the scopes a worker logs for', () => {
  assert.equal(pinoLevelFor(parseLogFilter('warn,access=info'), ['proxy', 'access']), 'info');
  assert.equal(pinoLevelFor(parseLogFilter('warn,ztunnel=info'), ['proxy', 'access']), 'warn');
  assert.equal(pinoLevelFor(parseLogFilter('off'), ['proxy', 'access']), 'silent');
  assert.equal(pinoLevelFor(parseLogFilter('debug'), ['proxy']), 'debug');
});

test('LOG_FORMAT unset or not json: upstream plain lines, time, level, scope, message, then key=value', () => {
  for (const env of [{}, { LOG_FORMAT: 'plain' }, { LOG_FORMAT: 'text' }]) {
    const out: string[] = [];
    const logging = createLogger({ env, destination: { write: (s: string) => void out.push(s) } });
    accessLog(logging.access, {
      src: { addr: '10.0.0.1:41234', workload: 'sleep' },
      dst: { addr: '10.0.0.2:15008' },
      direction: 'outbound',
      bytes_sent: 120,
      bytes_recv: 7,
      duration: 12.4,
    });
    logging.root.warn('no fields here');
    const [line, bare] = out;
    assert.match(
      line ?? '',
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\tinfo\taccess\tconnection complete\tsrc\.addr="10\.0\.0\.1:41234" src\.workload="sleep" dst\.addr="10\.0\.0\.2:15008" direction="outbound" bytes_sent=120 bytes_recv=7 duration="12ms"\n$/,
    );
    assert.match(bare ?? '', /^\S+\twarn\tztunnel\tno fields here\n$/);
  }
});
