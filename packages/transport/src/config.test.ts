import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAuthority, parseAuthority } from './authority.ts';
import { checkFlowControl, DEFAULT_FLOW_CONTROL, FLOW_CONTROL_LIMITS } from './config.ts';

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
