import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig, parseDuration } from './config.ts';

test('defaults follow upstream', () => {
  const c = loadConfig({});
  assert.equal(c.xdsAddress, 'https://localhost:15012');
  assert.equal(c.caAddress, 'https://localhost:15012');
  assert.equal(c.clusterId, 'Kubernetes');
  assert.equal(c.secretTtlMs, 24 * 3600_000);
  assert.equal(c.connectionTerminationDeadlineMs, 5000);
  assert.equal(c.poolMaxStreamsPerConnection, 100);
  assert.equal(c.poolUnusedReleaseTimeoutMs, 300_000);
  assert.equal(c.inboundPort, 15008);
  assert.equal(c.socks5Enabled, false);
  assert.equal(c.inpodEnabled, false);
  assert.equal(c.inpodUds, '/var/run/ztunnel/ztunnel.sock');
  assert.equal(c.inpodMark, 1337);
  assert.equal(
    loadConfig({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }).xdsAddress,
    'https://istiod.istio-system.svc:15012',
  );
});

test('upstream variables are honoured', () => {
  const c = loadConfig({
    XDS_ADDRESS: 'https://istiod.example:15012',
    CA_ADDRESS: 'https://ca.example:15012',
    CLUSTER_ID: 'c1',
    SECRET_TTL: '1h30m',
    CONNECTION_TERMINATION_DEADLINE: '250ms',
    XDS_HEADER_X_FOO: 'foo',
    CA_HEADER_X_BAR: 'bar',
    ISTIO_META_MESH_ID: 'mesh1',
    UNSTABLE_ENABLE_SOCKS5: 'true',
    ZTUNNEL_WORKER_THREADS: '3',
    AUTH_TOKEN: '/tmp/token',
  });
  assert.equal(c.xdsAddress, 'https://istiod.example:15012');
  assert.equal(c.caAddress, 'https://ca.example:15012');
  assert.equal(c.clusterId, 'c1');
  assert.equal(c.secretTtlMs, 90 * 60_000);
  assert.equal(c.connectionTerminationDeadlineMs, 250);
  assert.deepEqual(c.xdsHeaders, { X_FOO: 'foo' });
  assert.deepEqual(c.caHeaders, { X_BAR: 'bar' });
  assert.equal(c.proxyMetadata['MESH_ID'], 'mesh1');
  assert.equal(c.socks5Enabled, true);
  assert.equal(c.workerThreads, 3);
  assert.equal(c.authTokenPath, '/tmp/token');
});

test('ISTIO_META_CLUSTER_ID wins over CLUSTER_ID; FAKE_CA drops the CA address', () => {
  const c = loadConfig({ ISTIO_META_CLUSTER_ID: 'meta', CLUSTER_ID: 'plain', FAKE_CA: 'true' });
  assert.equal(c.clusterId, 'meta');
  assert.equal(c.caAddress, undefined);
});

test('bad values name the variable', () => {
  assert.throws(() => loadConfig({ SECRET_TTL: 'soon' }), /SECRET_TTL="soon".*duration/);
  assert.throws(() => loadConfig({ FAKE_CA: 'yes' }), ConfigError);
  assert.throws(() => loadConfig({ ZTUNNEL_WORKER_THREADS: '-1' }), /ZTUNNEL_WORKER_THREADS/);
  assert.throws(() => loadConfig({ XDS_ADDRESS: 'istiod:15012' }), /XDS_ADDRESS/);
  assert.throws(() => loadConfig({ LOCAL_XDS_PATH: '/a.yaml', LOCAL_XDS: 'workloads: []' }), /not both/);
});

test('parseDuration', () => {
  assert.equal(parseDuration('X', '5s'), 5000);
  assert.equal(parseDuration('X', '2m'), 120_000);
  assert.equal(parseDuration('X', '1h1s'), 3_601_000);
  assert.equal(parseDuration('X', '100ms'), 100);
  assert.throws(() => parseDuration('X', '5'), ConfigError);
  assert.throws(() => parseDuration('X', '5s junk'), ConfigError);
});
