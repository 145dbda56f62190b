// Upstream's lifecycle and socket variables (src/config.rs): keepalive, drain deadline, worker
// threads, proxy config and mesh config, the auth token.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from './config.ts';

test('KEEPALIVE_* and USER_TIMEOUT_ENABLED: upstream defaults, durations, refusals the kernel would give', () => {
  assert.deepEqual(loadConfig({}).tcp, {
    keepaliveEnabled: true,
    keepaliveTimeMs: 180_000,
    keepaliveIntervalMs: 180_000,
    keepaliveRetries: 9,
    userTimeoutEnabled: false,
  });
  assert.deepEqual(
    loadConfig({
      KEEPALIVE_ENABLED: 'false',
      KEEPALIVE_TIME: '10s',
      KEEPALIVE_INTERVAL: '2s',
      KEEPALIVE_RETRIES: '5',
      USER_TIMEOUT_ENABLED: 'true',
    }).tcp,
    {
      keepaliveEnabled: false,
      keepaliveTimeMs: 10_000,
      keepaliveIntervalMs: 2_000,
      keepaliveRetries: 5,
      userTimeoutEnabled: true,
    },
  );
  for (const [name, value] of [
    ['KEEPALIVE_TIME', '500ms'],
    ['KEEPALIVE_TIME', '1500ms'],
    ['KEEPALIVE_INTERVAL', '10h'],
    ['KEEPALIVE_INTERVAL', 'often'],
    ['KEEPALIVE_RETRIES', '0'],
    ['KEEPALIVE_RETRIES', '128'],
    ['KEEPALIVE_ENABLED', 'on'],
    ['USER_TIMEOUT_ENABLED', 'maybe'],
  ] as const) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      { code: 'ERR_ZT_CONFIG_INVALID', variable: name },
      name,
    );
  }
});
