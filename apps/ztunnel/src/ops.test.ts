// The admin port's operator endpoints on a running zt (two worker threads): /status, the traffic
// view of /connections?recent=1, and the profiling endpoints with their limits.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ZtStatus } from './servers/status.ts';
import type { TrafficView } from './servers/traffic.ts';
import { type Lab, startLab } from './testing/lab.ts';

let lab: Lab;
before(async () => {
  lab = await startLab({ prefix: '127.0.63', workers: 2 });
});
after(() => lab?.close());

const get = (path: string, init?: RequestInit) => fetch(`${lab.b.admin}${path}`, init);

test('/status: the process, its listeners and servers, the xDS stream', async () => {
  const res = await get('/status');
  assert.equal(res.status, 200);
  const s = (await res.json()) as ZtStatus;
  assert.equal(s.pid, lab.b.pid);
  assert.equal(s.nodeName, 'node-b');
  assert.equal(s.ready, true);
  assert.equal(s.workers, 2);
  assert.deepEqual(s.listeners.map((l) => `${l.kind}@${l.address}:${l.port}`).sort(), [
    'inbound@127.0.63.2:15008',
    'inboundPlaintext@127.0.63.2:15006',
    'outbound@127.0.63.2:15001',
    'socks5@127.0.63.2:15080',
  ]);
  assert.deepEqual(s.servers.admin, { host: '127.0.63.2', port: 15000 });
  assert.equal(s.servers.metrics?.port, 15020);
  assert.equal(s.xds.mode, 'istiod');
  if (s.xds.mode === 'istiod') {
    assert.equal(s.xds.connected, true);
    assert.equal(s.xds.synced, true);
    assert.equal(s.xds.address, lab.xds.address);
  }
  assert.deepEqual(s.inpod, { enabled: false });
});

test('/connections?recent=1: closed connections of both workers, the denial and why, pairs, filters', async () => {
  for (let i = 0; i < 4; i++) assert.equal(await lab.exchange(lab.ip.client, `hello ${i}`), `hello ${i}`);
  assert.equal(await lab.exchange(lab.ip.intruder, 'let me in'), undefined);
  let view: TrafficView | undefined;
  for (let i = 0; i < 100; i++) {
    view = (await (await get('/connections?recent=1')).json()) as TrafficView;
    if (view.recent.length >= 5) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(view);
  assert.equal(view.capacity, 500);
  assert.deepEqual(view.recent.map((c) => c.verdict).sort(), ['allow', 'allow', 'allow', 'allow', 'deny']);
  const [denial] = view.denials;
  assert.equal(denial?.src.identity, 'spiffe://cluster.local/ns/untrusted/sa/intruder');
  assert.equal(denial?.why, 'policy backend/deny-untrusted, rule 0: namespaces=untrusted');
  const pair = view.pairs.find((p) => p.source === 'spiffe://cluster.local/ns/frontend/sa/sleep');
  assert.equal(pair?.connections, 4);
  assert.equal(pair?.destination, 'spiffe://cluster.local/ns/backend/sa/echo');
  assert.equal(pair?.denials, 0);

  const untrusted = (await (await get('/connections?recent=1&namespace=untrusted')).json()) as TrafficView;
  assert.deepEqual(
    untrusted.recent.map((c) => c.verdict),
    ['deny'],
  );
  const bySleep = (await (await get('/connections?recent=1&identity=sa/sleep')).json()) as TrafficView;
  assert.equal(bySleep.recent.length, 4);
  assert.equal(bySleep.denials.length, 0);
  // Without recent=1, the live list as before.
  const live = (await (await get('/connections')).json()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(live).sort(), ['connections', 'now']);
});

test('/debug/cpuprofile: one .cpuprofile per thread, one at a time, bounded', async () => {
  const first = get('/debug/cpuprofile?seconds=1');
  await new Promise((r) => setTimeout(r, 200));
  const busy = await get('/debug/heapsnapshot?thread=0');
  assert.equal(busy.status, 409);
  assert.match(
    await busy.text(),
    /^busy: a CPU profile of all threads started \d+ s ago; one profile at a time/,
  );
  const res = await first;
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-disposition') ?? '', /filename="zt-cpuprofiles\.json"/);
  const body = (await res.json()) as Record<string, { nodes: unknown[]; startTime: number; endTime: number }>;
  assert.deepEqual(Object.keys(body).sort(), [
    'main.cpuprofile',
    'worker-0.cpuprofile',
    'worker-1.cpuprofile',
  ]);
  for (const p of Object.values(body)) {
    assert.ok(p.nodes.length > 0);
    assert.ok(p.endTime - p.startTime >= 900_000, 'a second of samples, in µs');
  }
  const one = await get('/debug/cpuprofile?seconds=1&thread=1');
  assert.match(one.headers.get('content-disposition') ?? '', /filename="worker-1\.cpuprofile"/);
  assert.ok(((await one.json()) as { nodes: unknown[] }).nodes.length > 0);

  const bad = async (q: string, why: RegExp) => {
    const r = await get(`/debug/cpuprofile?${q}`);
    assert.equal(r.status, 400, q);
    assert.match(await r.text(), why);
  };
  await bad('seconds=0', /^invalid seconds "0": expected a whole number from 1 to 300/);
  await bad('seconds=301', /from 1 to 300/);
  await bad('thread=7', /^invalid thread "7": expected all, main or a worker index \(0, 1\)/);
  assert.equal((await get('/debug/cpuprofile', { method: 'POST' })).status, 405);
});

test('/debug/heapsnapshot: a V8 heap snapshot of the main thread or of one worker', async () => {
  for (const [q, file] of [
    ['', 'main.heapsnapshot'],
    ['?thread=1', 'worker-1.heapsnapshot'],
  ] as const) {
    const res = await get(`/debug/heapsnapshot${q}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-disposition') ?? '', new RegExp(`filename="${file}"`));
    const text = await res.text();
    assert.match(text.slice(0, 20), /^\{"snapshot":\{/);
    assert.ok(text.length > 100_000);
  }
  const all = await get('/debug/heapsnapshot?thread=all');
  assert.equal(all.status, 400);
  assert.match(await all.text(), /covers one thread/);
});
