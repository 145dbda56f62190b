import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Readiness, startReadinessServer } from './index.ts';

const readiness = new Readiness();
const server = await startReadinessServer({ readiness, port: 0, host: '127.0.0.1' });
after(() => server.close());

async function probe(): Promise<[number, string]> {
  const res = await fetch(`${server.url}/healthz/ready`);
  return [res.status, await res.text()];
}

test('start -> sync -> ready -> drain', async () => {
  // start: the app registers its tasks before anything is up
  const proxyDone = readiness.register('proxy');
  const stateDone = readiness.register('state manager');
  assert.deepEqual(await probe(), [500, 'not ready, pending: proxy, state manager\n']);
  assert.equal(readiness.ready, false);

  // sync: the first xDS push has arrived
  stateDone();
  stateDone(); // a second call is harmless
  assert.deepEqual(await probe(), [500, 'not ready, pending: proxy\n']);

  // ready: listeners bound
  proxyDone();
  assert.deepEqual(await probe(), [200, 'ready\n']);
  assert.equal(readiness.ready, true);

  // drain: SIGTERM; never ready again, even if a late task completes
  const late = readiness.register('workload proxy manager');
  readiness.setDraining();
  late();
  assert.deepEqual(await probe(), [500, 'not ready, draining\n']);
  assert.equal(readiness.ready, false);
});

test('a name registered twice stays pending until both are done', () => {
  const r = new Readiness();
  const a = r.register('proxy');
  const b = r.register('proxy');
  a();
  assert.deepEqual(r.pending(), ['proxy']);
  b();
  assert.equal(r.ready, true);
});

test('only GET /healthz/ready', async () => {
  assert.equal((await fetch(`${server.url}/healthz/live`)).status, 404);
  assert.equal((await fetch(`${server.url}/healthz/ready`, { method: 'POST' })).status, 405);
});
