import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_FLOW_CONTROL } from '@zt/transport';
import { ConfigError, loadConfig } from './config.ts';

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
  assert.equal(c.inpodEnabled, true, 'shared mode is the in-pod node proxy, as upstream');
  assert.equal(c.labMode, false);
  assert.equal(c.inpodUds, '/var/run/ztunnel/ztunnel.sock');
  assert.equal(c.inpodMark, 1337);
  assert.equal(c.adminPort, 15000);
  assert.equal(c.statsPort, 15020);
  assert.equal(c.readinessPort, 15021);
  assert.equal(c.outboundPort, 15001);
  assert.equal(c.inboundPlaintextPort, 15006);
  assert.equal(c.socks5Port, 15080);
  assert.equal(c.trustDomain, 'cluster.local');
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
  // No such file: upstream takes the value as the token itself (config-lifecycle.test.ts).
  assert.equal(c.authTokenPath, undefined);
  assert.equal(c.authToken, '/tmp/token');
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
  assert.throws(() => loadConfig({ XDS_ADDRESS: 'ftp://istiod:15012' }), /XDS_ADDRESS/);
  // As upstream: an address without a scheme (istio's usual discoveryAddress form) is https.
  assert.equal(loadConfig({ XDS_ADDRESS: 'istiod:15012' }).xdsAddress, 'https://istiod:15012');
  assert.throws(() => loadConfig({ LOCAL_XDS_PATH: '/a.yaml', LOCAL_XDS: 'workloads: []' }), /not both/);
});

test('HBONE settings: HTTP/2 windows and frame size within HTTP/2 limits, TLS 1.2, the pool', () => {
  const unset = loadConfig({});
  assert.equal(unset.http2StreamWindowSize, undefined, "unset: the transport's DEFAULT_FLOW_CONTROL applies");
  assert.equal(unset.http2ConnectionWindowSize, undefined);
  assert.equal(unset.http2FrameSize, undefined);
  assert.equal(unset.tls12Enabled, false);
  assert.ok(DEFAULT_FLOW_CONTROL.frameSize > 0);
  const c = loadConfig({
    HTTP2_STREAM_WINDOW_SIZE: '4194304',
    HTTP2_CONNECTION_WINDOW_SIZE: '16777216',
    HTTP2_FRAME_SIZE: '1048576',
    TLS12_ENABLED: 'true',
    POOL_MAX_STREAMS_PER_CONNECTION: '50',
    POOL_UNUSED_RELEASE_TIMEOUT: '1m30s',
  });
  assert.equal(c.http2StreamWindowSize, 4194304);
  assert.equal(c.http2ConnectionWindowSize, 16777216);
  assert.equal(c.http2FrameSize, 1048576);
  assert.equal(c.tls12Enabled, true);
  assert.equal(c.poolMaxStreamsPerConnection, 50);
  assert.equal(c.poolUnusedReleaseTimeoutMs, 90_000);
  for (const [name, value] of [
    ['HTTP2_FRAME_SIZE', 'big'],
    ['HTTP2_FRAME_SIZE', '16383'],
    ['HTTP2_STREAM_WINDOW_SIZE', '65534'],
    ['HTTP2_CONNECTION_WINDOW_SIZE', String(2 ** 31)],
    ['TLS12_ENABLED', 'yes please'],
    ['POOL_MAX_STREAMS_PER_CONNECTION', '0'],
    ['POOL_MAX_STREAMS_PER_CONNECTION', '65536'],
    ['POOL_MAX_STREAMS_PER_CONNECTION', '1e2'],
    ['POOL_UNUSED_RELEASE_TIMEOUT', '5 minutes later'],
  ]) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      { code: 'ERR_ZT_CONFIG_INVALID', variable: name },
      name,
    );
  }
});

test('XDS_HEADER_* and CA_HEADER_* must be headers; ISTIO_META_* is node metadata as upstream adds it', () => {
  const c = loadConfig({
    XDS_HEADER_x_team: 'a b',
    CA_HEADER_X_TENANT: 't1',
    ISTIO_META_DNS_CAPTURE: 'true',
  });
  assert.deepEqual(c.xdsHeaders, { x_team: 'a b' });
  assert.deepEqual(c.caHeaders, { X_TENANT: 't1' });
  assert.equal(c.proxyMetadata['DNS_CAPTURE'], 'true');
  assert.throws(() => loadConfig({ XDS_HEADER_: 'v' }), { variable: 'XDS_HEADER_' });
  assert.throws(() => loadConfig({ 'CA_HEADER_BAD NAME': 'v' }), /CA_HEADER_BAD NAME/);
  assert.throws(() => loadConfig({ XDS_HEADER_X: 'line\nbreak' }), { code: 'ERR_ZT_CONFIG_INVALID' });
});

test('RUST_LOG is checked with the other variables; LOG_FORMAT is json or plain', () => {
  assert.equal(loadConfig({ RUST_LOG: 'warn,access=debug' }).logLevel, 'warn,access=debug');
  assert.equal(loadConfig({}).logLevel, 'info');
  assert.throws(() => loadConfig({ RUST_LOG: 'loud' }), {
    code: 'ERR_ZT_CONFIG_INVALID',
    variable: 'RUST_LOG',
  });
  assert.equal(loadConfig({ LOG_FORMAT: 'json' }).logFormat, 'json');
  assert.equal(loadConfig({ LOG_FORMAT: 'text' }).logFormat, 'plain');
});

test('ENABLE_RESPONSE_BAGGAGE: true by default as upstream, false turns response baggage off', () => {
  assert.equal(loadConfig({}).enableResponseBaggage, true);
  assert.equal(loadConfig({ ENABLE_RESPONSE_BAGGAGE: 'false' }).enableResponseBaggage, false);
});

test('LOCALHOST_APP_TUNNEL: true by default as upstream, false turns the loopback application tunnel off', () => {
  assert.equal(loadConfig({}).localhostAppTunnel, true);
  assert.equal(loadConfig({ LOCALHOST_APP_TUNNEL: 'false' }).localhostAppTunnel, false);
});
