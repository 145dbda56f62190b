import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Logging } from './logging.ts';
import { captureLog as capture } from './testing/index.ts';

test('the filter sets the default and per-scope levels; lines are upstream-shaped JSON', () => {
  const sink = capture();
  const logging = new Logging({ filter: 'warn,xds=debug', format: 'json', destination: sink });
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

test('no filter means info; setLevel adds on top, reset restores the startup filter', () => {
  const sink = capture();
  const logging = new Logging({ format: 'json', destination: sink });
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

test('a change reaches the listeners; another Logging follows it without a line of its own', () => {
  const main = new Logging({ format: 'json', destination: capture() });
  const sink = capture();
  const worker = new Logging({ filter: main.level(), format: 'json', destination: sink });
  const proxy = worker.scope('proxy');
  const seen: string[] = [];
  const stop = main.onChange((f) => {
    seen.push(f);
    worker.follow(f);
  });
  proxy.debug('not yet');
  main.setLevel('debug,access=warn');
  proxy.debug('now');
  assert.equal(worker.access.level, 'warn');
  assert.equal(worker.level(), 'access=warn,debug');
  stop();
  main.setLevel('', true);
  assert.deepEqual(seen, ['access=warn,debug']);
  assert.deepEqual(
    sink.lines().map((l) => [l['scope'], l['message']]),
    [['proxy', 'now']],
  );
});

test('a bad startup filter is refused before anything is written', () => {
  const sink = capture();
  assert.throws(() => new Logging({ filter: 'loud', destination: sink }), { code: 'ERR_ZT_LOG_FILTER' });
  assert.deepEqual(sink.lines(), []);
});
