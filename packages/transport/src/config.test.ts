import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAuthority, formatHboneAuthority, parseAuthority, parseHboneAuthority } from './authority.ts';
import { checkFlowControl, DEFAULT_FLOW_CONTROL, FLOW_CONTROL_LIMITS } from './config.ts';

test('HBONE authorities: socket addresses first, then service hostnames (upstream HboneAddress)', () => {
  assert.deepEqual(parseHboneAuthority('10.0.0.1:8080'), { address: '10.0.0.1', port: 8080, family: 4 });
  assert.deepEqual(parseHboneAuthority('[fd00::1]:80'), { address: 'fd00::1', port: 80, family: 6 });
  assert.deepEqual(parseHboneAuthority('Echo.default.svc.cluster.local:80'), {
    hostname: 'echo.default.svc.cluster.local',
    port: 80,
  });
  assert.deepEqual(parseHboneAuthority('db:5432'), { hostname: 'db', port: 5432 });
  const bad = [
    '',
    'db',
    'db:',
    'db:0',
    'db:65536',
    'db:x',
    '-db:80',
    'db-.example:80',
    'a..b:80',
    'user@db:80',
    'db%41:80',
    '10.0.0:80',
    '1.2.3.4.5:80',
    '[db]:80',
    `${'a'.repeat(64)}.example:80`,
    `${'a.'.repeat(127)}ab:80`,
  ];
  for (const b of bad) {
    assert.throws(() => parseHboneAuthority(b), { code: 'ERR_ZT_HBONE_AUTHORITY' }, b);
  }
  assert.throws(() => parseHboneAuthority('db:0'), /service hostname/);
  assert.equal(formatHboneAuthority({ hostname: 'db', port: 80 }), 'db:80');
  assert.equal(formatHboneAuthority(parseHboneAuthority('[::1]:80')), '[::1]:80');
});

test('authorities: IPv4 and bracketed IPv6 only', () => {
  assert.deepEqual(parseAuthority('10.0.0.1:8080'), { address: '10.0.0.1', port: 8080, family: 4 });
  assert.deepEqual(parseAuthority('[::1]:80'), { address: '::1', port: 80, family: 6 });
  for (const bad of ['', ':80', 'host:80', '10.0.0.1:', '10.0.0.1:65536', '::1:80', '[::1]80', '[::1]:x']) {
    assert.throws(() => parseAuthority(bad), { code: 'ERR_ZT_HBONE_AUTHORITY' }, bad);
  }
  assert.equal(formatAuthority('fd00::1', 443), '[fd00::1]:443');
  assert.equal(formatAuthority('10.0.0.1', 443), '10.0.0.1:443');
});

test('flow control within the HTTP/2 limits passes; outside them names the variable', () => {
  assert.deepEqual(checkFlowControl(DEFAULT_FLOW_CONTROL), DEFAULT_FLOW_CONTROL);
  const { window, frameSize } = FLOW_CONTROL_LIMITS;
  const edges = { streamWindowSize: window.max, connectionWindowSize: window.min, frameSize: frameSize.min };
  assert.deepEqual(checkFlowControl(edges), edges);
  assert.throws(
    () => checkFlowControl({ ...DEFAULT_FLOW_CONTROL, frameSize: frameSize.max + 1 }),
    /HTTP2_FRAME_SIZE/,
  );
  assert.throws(
    () => checkFlowControl({ ...DEFAULT_FLOW_CONTROL, streamWindowSize: window.min - 1 }),
    /HTTP2_STREAM_WINDOW_SIZE/,
  );
  assert.throws(
    () => checkFlowControl({ ...DEFAULT_FLOW_CONTROL, connectionWindowSize: window.max + 1 }),
    /HTTP2_CONNECTION_WINDOW_SIZE/,
  );
});
