import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAuthority, parseAuthority } from './authority.ts';
import { DEFAULT_FLOW_CONTROL, parseDurationMs, transportEnv } from './config.ts';

test('transportEnv reads upstream variables, with defaults', () => {
  assert.deepEqual(transportEnv({}), {
    flowControl: DEFAULT_FLOW_CONTROL,
    tls12Enabled: false,
    maxStreamsPerConnection: 100,
    unusedReleaseTimeoutMs: 300_000,
  });
  const env = transportEnv({
    HTTP2_STREAM_WINDOW_SIZE: '4194304',
    HTTP2_CONNECTION_WINDOW_SIZE: '16777216',
    HTTP2_FRAME_SIZE: '1048576',
    TLS12_ENABLED: 'true',
    POOL_MAX_STREAMS_PER_CONNECTION: '50',
    POOL_UNUSED_RELEASE_TIMEOUT: '1m30s',
  });
  assert.deepEqual(env.flowControl, {
    streamWindowSize: 4194304,
    connectionWindowSize: 16777216,
    frameSize: 1048576,
  });
  assert.equal(env.tls12Enabled, true);
  assert.equal(env.maxStreamsPerConnection, 50);
  assert.equal(env.unusedReleaseTimeoutMs, 90_000);
  assert.throws(() => transportEnv({ HTTP2_FRAME_SIZE: 'big' }), /HTTP2_FRAME_SIZE/);
  assert.throws(() => transportEnv({ TLS12_ENABLED: 'yes please' }), /TLS12_ENABLED/);
  assert.throws(() => parseDurationMs('5 minutes'), /duration/);
  assert.equal(parseDurationMs('250ms'), 250);
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
