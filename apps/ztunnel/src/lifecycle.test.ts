// The app's lifecycle through its admin API: /quitquitquit answers once drain has started, and the
// admin API answers on both loopback families, as upstream's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startZtunnel } from './app.ts';
import { loadConfig } from './config.ts';

const ENV = {
  ZT_LAB_MODE: 'true',
  LOCAL_XDS: 'workloads: []\n',
  FAKE_CA: 'true',
  RUST_LOG: 'off',
  ZTUNNEL_WORKER_THREADS: '1',
  CONNECTION_TERMINATION_DEADLINE: '1s',
  ZT_BIND_ADDRESS: '0.0.0.0',
  ZT_ADMIN_PORT: '0',
  ZT_STATS_PORT: '0',
  ZT_READINESS_PORT: '0',
  ZT_OUTBOUND_PORT: '0',
  ZT_INBOUND_PORT: '0',
  ZT_INBOUND_PLAINTEXT_PORT: '0',
};

test('admin on 127.0.0.1 and ::1; /quitquitquit answers after drain started, then zt exits', async (t) => {
  let onExit: () => void = () => {};
  const exited = new Promise<void>((resolve) => {
    onExit = resolve;
  });
  const zt = await startZtunnel(loadConfig(ENV, { meshConfigPath: '/nonexistent/mesh' }), { onExit });
  t.after(() => zt.shutdown('test over'));
  const admin = zt.servers.admin;
  assert.equal(admin.host, '127.0.0.1');
  assert.equal((await fetch(`http://127.0.0.1:${admin.port}/config_dump`)).status, 200);
  if (admin.hosts.includes('::1')) {
    assert.equal((await fetch(`http://[::1]:${admin.port}/config_dump`)).status, 200, 'served on ::1');
  } else {
    t.diagnostic('no IPv6 loopback here: ::1 not checked');
  }

  assert.equal(zt.readiness.draining, false);
  const res = await fetch(`http://127.0.0.1:${admin.port}/quitquitquit`, { method: 'POST' });
  // What the reply promises: zt already fails readiness and takes no new work.
  const drainingAtReply = zt.readiness.draining;
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'shutdown now\n');
  assert.equal(drainingAtReply, true, 'drain had started when /quitquitquit answered');
  await exited;
});

test('IPV6_ENABLED=false keeps the admin API on 127.0.0.1 only', async (t) => {
  const zt = await startZtunnel(
    loadConfig({ ...ENV, IPV6_ENABLED: 'false' }, { meshConfigPath: '/nonexistent/mesh' }),
  );
  t.after(() => zt.shutdown('test over'));
  assert.deepEqual(zt.servers.admin.hosts, ['127.0.0.1']);
});
