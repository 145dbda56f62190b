// What the admin page and the profiling endpoints ask of the data plane: the closed connections
// and denials each thread remembers, and CPU profiles and heap snapshots of the worker threads.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestCa } from '@zt/identity/testing';
import { emptyMatch, makePolicy } from '@zt/xds/testing';
import type { ClosedConnection } from './conn/recent.ts';
import { takeCpuProfile } from './profile.ts';
import { type Mesh, startLoopbackMesh } from './testing/index.ts';

async function echoOnce(mesh: Mesh, text: string): Promise<string> {
  const s = await mesh.dial(mesh.echo.address);
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  s.on('error', () => {});
  s.end(text);
  await Promise.race([once(s, 'end'), once(s, 'close')]);
  s.destroy();
  return Buffer.concat(chunks).toString();
}

async function recentAt(mesh: Mesh, pred: (c: ClosedConnection) => boolean): Promise<ClosedConnection> {
  for (let i = 0; ; i++) {
    const found = (await mesh.b.recentConnections()).flatMap((d) => d.closed).find(pred);
    if (found) return found;
    assert.ok(i < 250, 'the closed connection never showed up in node B recent connections');
    await sleep(20);
  }
}

for (const workers of [0, 1]) {
  describe(`recent connections and denials, workers: ${workers}`, () => {
    let mesh: Mesh;
    before(async () => {
      mesh = await startLoopbackMesh({ ca: await TestCa.create(), workers, octet: 111 + workers });
    });
    after(() => mesh?.close());

    test('an allowed connection is listed once closed, with identities, bytes and a clean flag', async () => {
      assert.equal(await echoOnce(mesh, 'remember me'), 'remember me');
      const c = await recentAt(mesh, (x) => x.direction === 'inbound' && x.verdict === 'allow');
      assert.equal(c.src.identity, 'spiffe://cluster.local/ns/default/sa/client');
      assert.equal(c.dst.workload, 'default/echo');
      assert.equal(c.responseFlag, '-');
      assert.equal(c.bytesReceived, 'remember me'.length);
      assert.ok(c.endedAt >= c.startedAt);
      const dumps = await mesh.b.recentConnections();
      assert.equal(dumps.length, 1);
      assert.equal(dumps[0]?.capacity, 500);
    });

    test('a denial is listed with the policy and the index of the rule that matched', async () => {
      await mesh.setPolicies([
        // Matches nothing here: the denial must name the policy that did.
        makePolicy({ name: 'deny-other', action: 'Deny' }, [{ destinationPorts: [1] }]),
        {
          ...makePolicy({ name: 'deny-by-principal', action: 'Deny' }),
          rules: [
            { clauses: [{ matches: [emptyMatch({ destinationPorts: [1] })] }] },
            {
              clauses: [{ matches: [emptyMatch({ principals: [{ kind: 'suffix', value: '/sa/client' }] })] }],
            },
          ],
        },
      ]);
      assert.equal(await echoOnce(mesh, 'denied'), '');
      const d = await recentAt(mesh, (x) => x.verdict === 'deny');
      assert.equal(d.policy, 'default/deny-by-principal');
      assert.equal(d.rule, 1);
      assert.equal(d.responseFlag, 'DENY');
      assert.match(d.error ?? '', /denied by policy default\/deny-by-principal/);
      const denials = (await mesh.b.recentConnections()).flatMap((x) => x.denials);
      assert.ok(denials.some((x) => x.id === d.id));
      await mesh.setPolicies([]);
    });
  });
}

describe('profiles of the data-plane threads', () => {
  let mesh: Mesh;
  before(async () => {
    mesh = await startLoopbackMesh({ ca: await TestCa.create(), workers: 2, octet: 113 });
  });
  after(() => mesh?.close());

  test('each worker profiles itself through its own inspector session', async () => {
    assert.deepEqual(mesh.b.workerIndexes(), [0, 1]);
    // Traffic while the profiles run, so node B's workers have proxy code on their stacks.
    let traffic = true;
    const load = (async () => {
      while (traffic) await echoOnce(mesh, 'profile me');
    })();
    const all = await mesh.b.cpuProfiles(1);
    traffic = false;
    await load;
    assert.deepEqual(all.map((p) => p.worker).sort(), [0, 1]);
    const frames = all.flatMap(({ profile }) => {
      assert.ok(profile.endTime - profile.startTime >= 900_000, 'about a second of samples (µs)');
      return profile.nodes.map((n) => n.callFrame.url);
    });
    assert.ok(
      frames.some((u) => u.includes('/inbound/hbone.ts')),
      'the inbound flow shows in the workers profiles',
    );
    const one = await mesh.b.cpuProfiles(1, 1);
    assert.deepEqual(
      one.map((p) => p.worker),
      [1],
    );
    assert.deepEqual(await mesh.b.cpuProfiles(1, 7), []);
  });

  test('the main thread profiles itself the same way', async () => {
    let spinning = true;
    const spin = setInterval(function burnOnMainThread() {
      const end = performance.now() + 5;
      while (spinning && performance.now() < end) Math.sqrt(Math.random());
    }, 1);
    const p = await takeCpuProfile(1).finally(() => {
      spinning = false;
      clearInterval(spin);
    });
    assert.ok(p.nodes.some((n) => n.callFrame.functionName === 'burnOnMainThread'));
  });

  test('a worker heap snapshot streams V8 snapshot JSON; an unknown worker has none', async () => {
    const stream = await mesh.b.heapSnapshot(0);
    assert.ok(stream);
    let head = '';
    for await (const chunk of stream) {
      head += String(chunk);
      if (head.length > 64) break;
    }
    assert.match(head, /^\{"snapshot":\{/);
    assert.equal(await mesh.b.heapSnapshot(9), undefined);
  });
});
