import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';
import { classifyVariable } from './config-vars.ts';

test('the DNS proxy is on by default, on both loopbacks at 15053, IPv6 answers on', () => {
  const c = loadConfig({});
  assert.equal(c.dnsProxy, true);
  assert.deepEqual(c.dnsProxyAddr, [
    { host: '127.0.0.1', port: 15053 },
    { host: '::1', port: 15053 },
  ]);
  assert.equal(c.ipv6Enabled, true);
  assert.equal(c.preferredServiceNamespace, undefined);
  assert.equal(c.dnsResolvConf, undefined);
});

test('ISTIO_META_DNS_CAPTURE: anything but true turns it off, as upstream', () => {
  assert.equal(loadConfig({ ISTIO_META_DNS_CAPTURE: 'false' }).dnsProxy, false);
  assert.equal(loadConfig({ ISTIO_META_DNS_CAPTURE: 'no' }).dnsProxy, false);
  assert.equal(loadConfig({ ISTIO_META_DNS_CAPTURE: 'TRUE' }).dnsProxy, true);
});

test("PROXY_CONFIG's proxyMetadata (YAML or JSON) is read, and ISTIO_META_* wins over it", () => {
  assert.equal(loadConfig({ PROXY_CONFIG: 'proxyMetadata:\n  DNS_CAPTURE: "false"\n' }).dnsProxy, false);
  assert.equal(
    loadConfig({ PROXY_CONFIG: '{"proxyMetadata":{"ISTIO_META_DNS_CAPTURE":"false"}}' }).dnsProxy,
    false,
    'the ISTIO_META_ prefix is stripped from its keys',
  );
  const c = loadConfig({
    PROXY_CONFIG: '{"proxyMetadata":{"DNS_CAPTURE":"false","DNS_PROXY_ADDR":"127.0.0.1:5353"}}',
    ISTIO_META_DNS_CAPTURE: 'true',
  });
  assert.equal(c.dnsProxy, true);
  assert.deepEqual(c.dnsProxyAddr, [{ host: '127.0.0.1', port: 5353 }]);
  assert.equal(c.proxyMetadata['DNS_PROXY_ADDR'], '127.0.0.1:5353', 'sent to istiod as node metadata too');
  assert.throws(() => loadConfig({ PROXY_CONFIG: '{"proxyMetadata": [' }), ConfigError);
  assert.throws(() => loadConfig({ PROXY_CONFIG: 'proxyMetadata: [a, b]' }), /PROXY_CONFIG/);
});

test('ISTIO_META_DNS_PROXY_ADDR: localhost:<port> is both loopbacks, an IP is itself; others refused', () => {
  assert.deepEqual(loadConfig({ ISTIO_META_DNS_PROXY_ADDR: 'localhost:15054' }).dnsProxyAddr, [
    { host: '127.0.0.1', port: 15054 },
    { host: '::1', port: 15054 },
  ]);
  assert.deepEqual(loadConfig({ ISTIO_META_DNS_PROXY_ADDR: '[::1]:53' }).dnsProxyAddr, [
    { host: '::1', port: 53 },
  ]);
  for (const bad of ['15053', 'dns.local:53', '127.0.0.1:70000', '127.0.0.1'])
    assert.throws(() => loadConfig({ ISTIO_META_DNS_PROXY_ADDR: bad }), /ISTIO_META_DNS_PROXY_ADDR/, bad);
});

test('a loopback ZT_BIND_ADDRESS (the lab: nodes side by side) is the default DNS address, not in-pod', () => {
  assert.deepEqual(loadConfig({ ZT_LAB_MODE: 'true', ZT_BIND_ADDRESS: '127.0.50.1' }).dnsProxyAddr, [
    { host: '127.0.50.1', port: 15053 },
  ]);
  // In-pod mode (the default) serves DNS inside each pod, on both loopbacks.
  assert.equal(loadConfig({ ZT_BIND_ADDRESS: '127.0.50.1' }).dnsProxyAddr.length, 2);
  assert.deepEqual(
    loadConfig({ ZT_BIND_ADDRESS: '127.0.50.1', ISTIO_META_DNS_PROXY_ADDR: '127.0.50.1:0' }).dnsProxyAddr,
    [{ host: '127.0.50.1', port: 0 }],
  );
});

test('IPV6_ENABLED, PREFERED_SERVICE_NAMESPACE and the zt extensions; doctor knows them all', () => {
  const c = loadConfig({
    IPV6_ENABLED: 'false',
    PREFERED_SERVICE_NAMESPACE: 'istio-system',
    ZT_DNS_RESOLV_CONF: '/tmp/resolv.conf',
    ZT_DNS_FORWARD_PORT: '5300',
    ZT_DNS_QPS_PER_SOURCE: '100000',
  });
  assert.equal(c.ipv6Enabled, false);
  assert.equal(c.preferredServiceNamespace, 'istio-system');
  assert.equal(c.dnsResolvConf, '/tmp/resolv.conf');
  assert.equal(c.dnsForwardPort, 5300);
  assert.equal(c.dnsQpsPerSource, 100000);
  assert.throws(() => loadConfig({ ZT_DNS_FORWARD_PORT: '0' }), /ZT_DNS_FORWARD_PORT/);
  for (const name of ['IPV6_ENABLED', 'PREFERED_SERVICE_NAMESPACE', 'PROXY_CONFIG', 'ZT_DNS_RESOLV_CONF'])
    assert.equal(classifyVariable(name).t, 'read', name);
});
