import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { TestCa } from '@zt/identity/testing';
import { Logging } from '@zt/log';
import { registry } from '@zt/metrics';
import { parseExposition, sampleValue } from '@zt/metrics/testing';
import { ADMIN_PAGE_SCRIPT } from './admin-page.ts';
import {
  AdminNotLoopbackError,
  type ConfigDump,
  type ConnectionInfo,
  certsDumpOf,
  startAdminServer,
} from './index.ts';

const ca = await TestCa.create({ trustDomain: 'cluster.local' });
const cert = await ca.issue('spiffe://cluster.local/ns/default/sa/sleep');
const logging = new Logging({ filter: 'info', destination: { write: () => {} } });
let shutdowns = 0;
/** What the server's shutdown hook returns: resolved by the test once "drain has started". */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
let drainStarted = deferred();
let connections: ConnectionInfo[] = [];
let dump: () => ConfigDump = () => ({
  workloads: [{ uid: 'Kubernetes//Pod/default/sleep-1', name: 'sleep-1', workloadIps: ['10.0.0.1'] }],
  services: [{ hostname: 'echo.default.svc.cluster.local', vips: ['default/10.96.0.10'] }],
  policies: [{ name: 'deny-all', namespace: 'default', action: 'Deny' }],
  stagedServices: {},
  staticConfig: { workloads: [], services: [], policies: [] },
  version: { version: '0.1.0', gitRevision: 'test', istioVersion: '1.28.0' },
  config: { adminAddr: '127.0.0.1:15000' },
  certificates: [certsDumpOf(cert)],
});

const server = await startAdminServer({
  port: 0,
  configDump: () => dump(),
  connections: () => connections,
  logging,
  shutdown: () => {
    shutdowns++;
    return drainStarted.promise;
  },
});
after(() => server.close());

test('binds loopback by default and refuses anything else', async () => {
  assert.equal(server.host, '127.0.0.1');
  for (const host of ['0.0.0.0', '::', '10.0.0.1']) {
    await assert.rejects(
      startAdminServer({ host, configDump: dump, connections: () => [], logging, shutdown: () => {} }),
      AdminNotLoopbackError,
    );
  }
});

test('/config_dump: upstream shape, certificates with identity and expiry, no private key', async () => {
  const res = await fetch(`${server.url}/config_dump`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/json');
  const text = await res.text();
  const body = JSON.parse(text) as ConfigDump;
  assert.deepEqual(Object.keys(body), [
    'workloads',
    'services',
    'policies',
    'stagedServices',
    'staticConfig',
    'version',
    'config',
    'certificates',
  ]);
  const [entry] = body.certificates;
  assert.equal(entry?.identity, 'spiffe://cluster.local/ns/default/sa/sleep');
  assert.equal(entry?.state, 'Available');
  const leaf = entry?.certChain[0];
  assert.equal(leaf?.expirationTime, cert.notAfter.toISOString().replace(/\.\d{3}Z$/, 'Z'));
  assert.match(leaf?.validFrom ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.match(leaf?.serialNumber ?? '', /^\d+$/);
  assert.match(Buffer.from(leaf?.pem ?? '', 'base64').toString(), /^-----BEGIN CERTIFICATE-----/);
  assert.equal(entry?.rootCerts.length, 1);
  assert.doesNotMatch(text, /PRIVATE KEY/);
});

test('/config_dump never carries a private key, even when a provider puts one in', async () => {
  const before = dump;
  dump = () => ({
    ...before(),
    // A wiring mistake: the whole certificate object, key included, plain and base64-encoded.
    certificates: [
      { ...certsDumpOf(cert), leaked: cert, leakedB64: Buffer.from(cert.privateKey).toString('base64') },
    ],
  });
  try {
    const text = await (await fetch(`${server.url}/config_dump`)).text();
    assert.match(cert.privateKey, /-----BEGIN PRIVATE KEY-----/);
    assert.doesNotMatch(text, /PRIVATE KEY/);
    assert.doesNotMatch(text, /LS0tLS1CRUdJTiBQUklWQVRF/);
    const body = JSON.parse(text) as {
      certificates: { leaked: { privateKey: string }; leakedB64: string }[];
    };
    assert.equal(body.certificates[0]?.leaked.privateKey, '[redacted: private key]');
    assert.equal(body.certificates[0]?.leakedB64, '[redacted: private key]');
    const exp = parseExposition(await registry.metrics());
    assert.equal(sampleValue(exp, 'zt_admin_config_dump_redactions_total', {}), 2);
  } finally {
    dump = before;
  }
});

test('/logging: GET and POST list; POST ?level= changes it live; bad levels are 400 with help', async () => {
  const get = await fetch(`${server.url}/logging`);
  assert.equal(await get.text(), 'current log level is info\n');
  const list = await fetch(`${server.url}/logging`, { method: 'POST' });
  assert.equal(await list.text(), 'current log level is info\n');

  const set = await fetch(`${server.url}/logging?level=debug`, { method: 'POST' });
  assert.equal(set.status, 200);
  assert.equal(await set.text(), 'current log level is debug\n');
  assert.equal(logging.root.level, 'debug');

  const scoped = await fetch(`${server.url}/logging?level=access=warn`, { method: 'POST' });
  assert.equal(await scoped.text(), 'current log level is access=warn,debug\n');
  assert.equal(logging.access.level, 'warn');

  const bad = await fetch(`${server.url}/logging?level=loud`, { method: 'POST' });
  assert.equal(bad.status, 400);
  assert.match(
    await bad.text(),
    /^Invalid level provided: loud\n[\s\S]*usage: POST \/logging\?level=<level>/,
  );
  assert.equal(logging.level(), 'access=warn,debug', 'a bad request changes nothing');

  const reset = await fetch(`${server.url}/logging?reset`, { method: 'POST' });
  assert.equal(await reset.text(), 'current log level is info\n');
  assert.equal(logging.access.level, 'info');

  assert.equal((await fetch(`${server.url}/logging?level=debug`)).status, 405, 'GET does not change');
  assert.equal((await fetch(`${server.url}/logging`, { method: 'PUT' })).status, 405);
});

test('/quitquitquit: POST starts shutdown once and answers after drain has started; GET is 405', async () => {
  assert.equal((await fetch(`${server.url}/quitquitquit`)).status, 405);
  assert.equal(shutdowns, 0);
  let answered = false;
  const reply = fetch(`${server.url}/quitquitquit`, { method: 'POST' }).then((r) => {
    answered = true;
    return r;
  });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(shutdowns, 1, 'shutdown was called');
  assert.equal(answered, false, 'no answer before drain has started');
  drainStarted.resolve();
  const res = await reply;
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'shutdown now\n');
  await fetch(`${server.url}/quitquitquit`, { method: 'POST' });
  assert.equal(shutdowns, 1, 'a second request does not shut down twice');
  drainStarted = deferred();
});

test('/quitquitquit answers within shutdownWaitMs even when drain never starts', async () => {
  const stuck = await startAdminServer({
    port: 0,
    configDump: () => dump(),
    connections: () => [],
    logging,
    shutdown: () => new Promise<void>(() => {}),
    shutdownWaitMs: 50,
  });
  try {
    const res = await fetch(`${stuck.url}/quitquitquit`, { method: 'POST' });
    assert.equal(res.status, 200);
  } finally {
    await stuck.close();
  }
});

test('binds localhost on both families where ::1 exists, one port for both', async (t) => {
  const both = await startAdminServer({
    port: 0,
    alsoHosts: ['::1'],
    configDump: () => dump(),
    connections: () => [],
    logging,
    shutdown: () => {},
  });
  try {
    assert.equal(both.host, '127.0.0.1');
    const v4 = await fetch(`http://127.0.0.1:${both.port}/config_dump`);
    assert.equal(v4.status, 200);
    if (!both.hosts.includes('::1')) return t.skip('no IPv6 loopback on this host');
    const v6 = await fetch(`http://[::1]:${both.port}/config_dump`);
    assert.equal(v6.status, 200);
    assert.deepEqual(both.hosts, ['127.0.0.1', '::1']);
  } finally {
    await both.close();
  }
  await assert.rejects(
    startAdminServer({
      alsoHosts: ['::'],
      configDump: dump,
      connections: () => [],
      logging,
      shutdown: () => {},
    }),
    AdminNotLoopbackError,
  );
});

test('/ is a self-refreshing page under a strict CSP; /connections is the JSON it polls', async () => {
  const page = await fetch(`${server.url}/`);
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  const html = await page.text();
  assert.match(html, /<script src="dashboard.js"><\/script>/);
  assert.doesNotMatch(html, /<script>/, 'no inline script');
  const js = await fetch(`${server.url}/dashboard.js`);
  assert.match(await js.text(), /setTimeout\(poll, 1000\)/);
  // The page script renders with textContent only: no HTML sinks for data-plane strings.
  assert.doesNotMatch(ADMIN_PAGE_SCRIPT, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);

  connections = [
    {
      id: 7,
      direction: 'inbound',
      protocol: 'HBONE',
      src: { address: '10.0.0.1', port: 4000, identity: 'spiffe://cluster.local/ns/a/sa/b' },
      dst: { address: '10.0.0.2', port: 8080, workload: '<img src=x onerror=alert(1)>' },
      startedAt: Date.now() - 5000,
      bytesSent: 1,
      bytesReceived: 2,
      verdict: 'allow',
    },
  ];
  const view = (await (await fetch(`${server.url}/connections`)).json()) as {
    now: number;
    connections: ConnectionInfo[];
  };
  assert.equal(view.connections.length, 1);
  assert.equal(view.connections[0]?.dst.workload, '<img src=x onerror=alert(1)>');
  assert.ok(Math.abs(view.now - Date.now()) < 5000);
  connections = [];
});

test('unknown paths are 404', async () => {
  assert.equal((await fetch(`${server.url}/debug/pprof/profile`)).status, 404);
});
