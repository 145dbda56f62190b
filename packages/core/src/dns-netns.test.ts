// The DNS proxy in in-pod mode: each pod's queries to 127.0.0.1:15053 inside its own network
// namespace are answered by zt (every data-plane thread on one SO_REUSEPORT group), mesh names from
// the state for the pod's namespace, everything else forwarded from the node to the resolv.conf's
// servers: here our own test server, never the machine's resolvers.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestDnsServer } from '@zt/dns/testing';
import { TestCa } from '@zt/identity/testing';
import { Logging } from '@zt/log';
import * as native from '@zt/native';
import { netnsUnsupported, TestNetns } from '@zt/native/testing';
import type { StateSnapshot } from '@zt/xds';
import { makeService, makeWorkload } from '@zt/xds/testing';
import { DataPlane } from './dataplane.ts';
import { testCaCertSource } from './testing/index.ts';

const DIG = ['/usr/bin/dig', '/bin/dig'].find((p) => existsSync(p));
const skip = !native.available
  ? `@zt/native unavailable: ${native.unavailableReason}`
  : (netnsUnsupported() ?? false);

/**
 * Asks from inside `ns`: dig when installed (the client), else Node's resolver started in
 * the namespace. Returns the A records, or the status word (NXDOMAIN, SERVFAIL, TIMEOUT).
 */
async function resolveIn(
  ns: TestNetns,
  name: string,
  o: { tcp?: boolean; port?: number } = {},
): Promise<string> {
  const port = o.port ?? 15053;
  if (DIG) {
    const r = await ns.spawn(DIG, [
      '@127.0.0.1',
      '-p',
      String(port),
      name,
      'A',
      '+tries=1',
      '+time=2',
      ...(o.tcp ? ['+tcp'] : []),
      '+noall',
      '+answer',
      '+comments',
    ]);
    if (/connection timed out|no servers could be reached|communications error/.test(r.stdout))
      return 'TIMEOUT';
    const status = /status: ([A-Z]+)/.exec(r.stdout)?.[1] ?? `dig failed: ${r.stdout}${r.stderr}`;
    if (status !== 'NOERROR') return status;
    return r.stdout
      .split('\n')
      .filter((l) => /\sIN\s+A\s/.test(l))
      .map((l) => l.trim().split(/\s+/).pop())
      .sort()
      .join(',');
  }
  const r = await ns.spawn(process.execPath, [
    '-e',
    `const {Resolver}=require('dns').promises;const r=new Resolver({timeout:2000,tries:1});r.setServers(['127.0.0.1:${port}']);
r.resolve4(${JSON.stringify(name)}).then(a=>console.log(a.sort().join(',')),e=>console.log(e.code==='ENOTFOUND'?'NXDOMAIN':e.code==='ESERVFAIL'?'SERVFAIL':e.code==='ETIMEOUT'?'TIMEOUT':e.code))`,
  ]);
  return r.stdout.trim();
}

describe('in-pod DNS proxy inside pod network namespaces', { skip }, () => {
  const logging = new Logging({ filter: 'off' });
  let up: TestDnsServer;
  let dir: string;
  let client: TestNetns;
  let other: TestNetns;
  let dp: DataPlane;
  const vip = '10.96.0.20';
  const w = makeWorkload({
    name: 'sleep',
    namespace: 'backend',
    workloadIps: ['10.244.0.5'],
    node: 'node-a',
  });
  const w2 = makeWorkload({
    name: 'web',
    namespace: 'frontend',
    workloadIps: ['10.244.0.6'],
    node: 'node-a',
  });
  const snapshot = (version: number, workloads = [w, w2]): StateSnapshot => ({
    version,
    workloads,
    services: [
      makeService({ name: 'echo', namespace: 'backend', vips: [vip] }),
      {
        ...makeService({ name: 'secret', namespace: 'restricted', vips: ['10.96.0.30'] }),
        visibility: 'Namespace',
      },
    ],
    policies: [],
  });

  before(async () => {
    up = await TestDnsServer.start();
    up.set('example.org', 'A', ['93.184.216.34']);
    // The forward target's own answer for the restricted name: seen only when zt forwards it.
    up.set('secret.restricted.svc.cluster.local', 'A', ['198.51.100.30']);
    dir = mkdtempSync(join(tmpdir(), 'zt-dns-'));
    const resolvConf = join(dir, 'resolv.conf');
    writeFileSync(resolvConf, `nameserver ${up.host}\noptions timeout:1 attempts:1\n`);
    client = new TestNetns('dnsp');
    other = new TestNetns('dnsq');
    const ca = await TestCa.create();
    dp = new DataPlane({
      workers: 2,
      nodeName: 'node-a',
      network: '',
      trustDomain: 'cluster.local',
      certs: testCaCertSource(ca),
      logging,
      socketMark: 1337,
      drainDeadlineMs: 200,
      listeners: { workloads: { mode: 'netns', inbound: -1, inboundPlaintext: -1 } },
      dnsProxy: { resolvConf, forwardPort: up.port },
    });
    await dp.setState(snapshot(1));
    dp.setPods([
      {
        uid: w.uid,
        name: w.name,
        namespace: w.namespace,
        serviceAccount: w.serviceAccount,
        netns: client.path,
      },
      {
        uid: w2.uid,
        name: w2.name,
        namespace: w2.namespace,
        serviceAccount: w2.serviceAccount,
        netns: other.path,
      },
    ]);
    await dp.start();
  });

  after(async () => {
    await dp?.close();
    await up?.close();
    client?.destroy();
    other?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a pod resolves echo, echo.backend and echo.backend.svc.cluster.local to the VIP', async () => {
    for (const name of ['echo', 'echo.backend', 'echo.backend.svc.cluster.local'])
      assert.equal(await resolveIn(client, name), vip, name);
    assert.equal(up.count('echo.backend.svc.cluster.local'), 0, 'answered from memory, not forwarded');
    // Over TCP as well (the same port in the pod).
    assert.equal(await resolveIn(client, 'echo.backend', { tcp: true }), vip);
  });

  test('the short name is the pod’s own namespace: from frontend, `echo` is not the backend service', async () => {
    assert.equal(await resolveIn(other, 'echo.backend'), vip);
    assert.equal(await resolveIn(other, 'echo'), 'NXDOMAIN');
    assert.ok(up.count('echo') >= 1, 'forwarded');
  });

  test('a name of another namespace with restricted visibility is forwarded', async () => {
    const before = up.count('secret.restricted.svc.cluster.local');
    assert.equal(await resolveIn(client, 'secret.restricted.svc.cluster.local'), '198.51.100.30');
    assert.equal(up.count('secret.restricted.svc.cluster.local'), before + 1);
  });

  test('an unknown name comes back with the forward target’s answer', async () => {
    assert.equal(await resolveIn(client, 'example.org'), '93.184.216.34');
    assert.equal(await resolveIn(client, 'nothing.example'), 'NXDOMAIN');
    assert.equal(up.count('example.org'), 1);
  });

  test('config_dump part: the pod listeners (netns, pinned client) and the resolver config', async () => {
    const dump = await dp.dnsDump();
    assert.ok(dump);
    assert.equal(dump.dnsProxy, true);
    const pods = new Set(dump.listeners.map((l) => l.client));
    assert.deepEqual([...pods].sort(), [w.uid, w2.uid].sort());
    assert.ok(dump.listeners.every((l) => l.netns === client.path || l.netns === other.path));
    assert.ok(dump.listeners.some((l) => l.udp === '127.0.0.1:15053'));
  });

  test('a restarted worker binds every pod again', async () => {
    // The DNS proxy's TCP sockets in each pod: every worker thread has its own (SO_REUSEPORT).
    const listeners = (ns: TestNetns) =>
      ns
        .exec('ss', ['-Hltn', 'sport = :15053'])
        .stdout.split('\n')
        .filter((l) => l.trim() !== '').length;
    const before = [listeners(client), listeners(other)];
    assert.ok(
      before.every((n) => n >= 2 && n % 2 === 0),
      `${before}`,
    );
    const restarted = once(dp, 'workerRestart');
    await dp.workerThreads[0]?.terminate();
    await restarted;
    assert.deepEqual([listeners(client), listeners(other)], before);
    assert.equal(await resolveIn(client, 'echo'), vip);
  });

  test('a pod that leaves the node loses its DNS listener; the others keep theirs', async () => {
    await dp.setState(snapshot(2, [w]));
    // In-pod listeners follow the pods istio-cni gives, not the state: the pod's removal closes them.
    await dp.removePod(w2.uid);
    assert.equal(await resolveIn(other, 'echo.backend'), 'TIMEOUT');
    assert.equal(await resolveIn(client, 'echo'), vip);
  });
});
