// Modes as upstream: PROXY_MODE=shared (the default) is the in-pod node proxy; the loopback lab
// mode is zt's own opt-in, ZT_LAB_MODE=true.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from './config.ts';

const NO_MESH = { meshConfigPath: '/nonexistent/mesh' };

test('unset or PROXY_MODE=shared: the in-pod node proxy, fed by istio-cni over ZDS', () => {
  for (const env of [{}, { PROXY_MODE: 'shared' }]) {
    const c = loadConfig(env, NO_MESH);
    assert.equal(c.proxyMode, 'shared');
    assert.equal(c.inpodEnabled, true);
    assert.equal(c.labMode, false);
    assert.equal(c.inpodUds, '/var/run/ztunnel/ztunnel.sock');
    assert.equal(c.inpodPortReuse, true, 'INPOD_PORT_REUSE defaults to true');
    assert.equal(c.inpodMark, 1337, "upstream's packet mark");
  }
  // INPOD_ENABLED=true (zt's old switch) says what is the default now.
  assert.equal(loadConfig({ INPOD_ENABLED: 'true' }, NO_MESH).inpodEnabled, true);
  assert.equal(loadConfig({ PACKET_MARK: '4242' }, NO_MESH).inpodMark, 4242, "upstream's name for the mark");
  assert.equal(loadConfig({ INPOD_MARK: '7' }, NO_MESH).inpodMark, 7);
});

test('ZT_LAB_MODE=true is the only way to the loopback lab mode', () => {
  const lab = loadConfig({ ZT_LAB_MODE: 'true', ZT_PER_WORKLOAD_LISTENERS: 'true' }, NO_MESH);
  assert.equal(lab.labMode, true);
  assert.equal(lab.inpodEnabled, false);
  assert.equal(lab.perWorkloadListeners, true);
  // What used to switch the lab on now stops start-up with the new name.
  assert.throws(() => loadConfig({ INPOD_ENABLED: 'false' }, NO_MESH), {
    code: 'ERR_ZT_CONFIG_INVALID',
    variable: 'INPOD_ENABLED',
    message: /ZT_LAB_MODE=true/,
  });
  // Loopback per-workload listeners outside the lab would bind pod addresses in zt's namespace.
  assert.throws(() => loadConfig({ ZT_PER_WORKLOAD_LISTENERS: 'true' }, NO_MESH), {
    variable: 'ZT_PER_WORKLOAD_LISTENERS',
    message: /ZT_LAB_MODE/,
  });
  assert.throws(() => loadConfig({ ZT_LAB_MODE: 'yes' }, NO_MESH), { variable: 'ZT_LAB_MODE' });
});

test('PROXY_MODE=dedicated is checked as upstream checks it, then refused with the reason', () => {
  assert.throws(() => loadConfig({ PROXY_MODE: 'sidecar' }, NO_MESH), {
    variable: 'PROXY_MODE',
    message: /shared or dedicated/,
  });
  assert.throws(() => loadConfig({ PROXY_MODE: 'dedicated' }, NO_MESH), {
    variable: 'PROXY_WORKLOAD_INFO',
    message: /requires/,
  });
  assert.throws(() => loadConfig({ PROXY_MODE: 'dedicated', PROXY_WORKLOAD_INFO: 'ns/name' }, NO_MESH), {
    variable: 'PROXY_WORKLOAD_INFO',
  });
  assert.throws(() => loadConfig({ PROXY_MODE: 'dedicated', PROXY_WORKLOAD_INFO: 'ns/name/sa' }, NO_MESH), {
    code: 'ERR_ZT_CONFIG_INVALID',
    variable: 'PROXY_MODE',
    message: /does not implement dedicated mode/,
  });
});

test('INPOD_PORT_REUSE=false needs one data-plane thread: each thread binds every pod port', () => {
  const one = loadConfig({ INPOD_PORT_REUSE: 'false', ZTUNNEL_WORKER_THREADS: '1' }, NO_MESH);
  assert.equal(one.inpodPortReuse, false);
  assert.throws(() => loadConfig({ INPOD_PORT_REUSE: 'false', ZTUNNEL_WORKER_THREADS: '2' }, NO_MESH), {
    variable: 'INPOD_PORT_REUSE',
    message: /ZTUNNEL_WORKER_THREADS=1/,
  });
  assert.throws(() => loadConfig({ INPOD_PORT_REUSE: 'sometimes' }, NO_MESH), {
    variable: 'INPOD_PORT_REUSE',
  });
});
