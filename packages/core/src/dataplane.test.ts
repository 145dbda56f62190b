import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Identity } from '@zt/identity';
import { TestCa } from '@zt/identity/testing';
import { HbonePool } from '@zt/transport';
import { makePolicy } from '@zt/xds/testing';
import { type Mesh, startLoopbackMesh, testCaCertSource } from './testing/index.ts';

async function roundTrip(s: Socket, payload: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  s.end(payload);
  await once(s, 'end');
  s.destroy();
  return Buffer.concat(chunks);
}

async function until(what: string, f: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

for (const workers of [0, 2]) {
  describe(`two-node loopback mesh, workers: ${workers}`, () => {
    let mesh: Mesh;
    before(async () => {
      mesh = await startLoopbackMesh({ ca: await TestCa.create(), workers, octet: 101 + workers });
    });
    after(async () => {
      await mesh?.close();
    });

    test('client -> SOCKS5 on A -> HBONE -> B -> echo: bytes intact, B saw the client identity', async () => {
      const s = await mesh.dial(mesh.echo.address);
      const payload = Buffer.alloc(256 * 1024, 7);
      payload.write('hello through the mesh');
      const open = await mesh.b.connections();
      const back = await roundTrip(s, payload);
      assert.equal(back.length, payload.length);
      assert.ok(back.equals(payload));
      assert.ok(open.length <= 1);
    });

    test('the inbound connection at B carries the source identity and counts bytes while open', async () => {
      const s = await mesh.dial(mesh.echo.address);
      s.write('ping');
      await once(s, 'data');
      let inbound: Awaited<ReturnType<typeof mesh.b.connections>> = [];
      await until('inbound connection at B', async () => {
        inbound = (await mesh.b.connections()).filter((c) => c.direction === 'inbound');
        return inbound.length === 1 && (inbound[0]?.bytesSent ?? 0) >= 4;
      });
      const c = inbound[0];
      assert.equal(c?.src.identity, 'spiffe://cluster.local/ns/default/sa/client');
      assert.equal(c?.src.workload, 'default/client');
      assert.equal(c?.src.address, mesh.client.workloadIps[0]);
      assert.equal(c?.dst.workload, 'default/echo');
      assert.equal(c?.protocol, 'HBONE');
      assert.equal(c?.verdict, 'allow');
      const outbound = (await mesh.a.connections()).filter((x) => x.direction === 'outbound');
      assert.equal(outbound.length, 1);
      assert.equal(outbound[0]?.dst.identity, 'spiffe://cluster.local/ns/default/sa/echo');
      s.destroy();
    });

    test('HBONE answers as upstream: 400 for a tunnel naming another pod, 503 when the pod port is closed', async () => {
      const certs = testCaCertSource(mesh.ca);
      const pool = new HbonePool({ certs });
      const base = {
        source: Identity.parse('spiffe://cluster.local/ns/default/sa/client'),
        destinationIdentities: [Identity.parse('spiffe://cluster.local/ns/default/sa/echo')],
        address: { address: mesh.server.workloadIps[0] ?? '', port: 15008 },
      };
      try {
        await assert.rejects(pool.open({ ...base, authority: `${mesh.client.workloadIps[0]}:80` }), {
          status: 400,
        });
        await assert.rejects(pool.open({ ...base, authority: `${mesh.server.workloadIps[0]}:1` }), {
          status: 503,
        });
      } finally {
        await pool.close();
      }
    });

    test('service VIP -> endpoint with port mapping', async () => {
      const s = await mesh.dial({ address: mesh.vip, port: 80 });
      const back = await roundTrip(s, Buffer.from('via the service'));
      assert.equal(back.toString(), 'via the service');
    });

    test('deny policy at B: connection closed, counted as failed with DENY', async () => {
      await mesh.setPolicies([
        makePolicy({ name: 'deny-client', action: 'Deny' }, [
          { principals: [{ kind: 'suffix', value: '/sa/client' }] },
        ]),
      ]);
      const s = await mesh.dial(mesh.echo.address);
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('error', () => {});
      const ended = Promise.race([once(s, 'end'), once(s, 'close')]);
      s.write('should not arrive');
      await ended;
      assert.equal(Buffer.concat(chunks).length, 0);
      const text = await mesh.b.metricsText();
      assert.match(
        text,
        /istio_tcp_connections_failed_total\{[^}]*reporter="destination"[^}]*response_flags="DENY"[^}]*\} [1-9]/,
      );
      await mesh.setPolicies([]);
    });

    if (workers > 0) {
      test('a state change resolves once every worker applied it, also when a worker dies meanwhile', async () => {
        const restarted = once(mesh.b, 'workerRestart');
        const applied = mesh.setPolicies([]);
        await mesh.b.workerThreads[0]?.terminate();
        const outcome = await Promise.race([applied.then(() => 'applied'), sleep(15_000, 'still waiting')]);
        assert.equal(
          outcome,
          'applied',
          'the replacement worker applies the state and answers for the dead one',
        );
        await restarted;
        // The restarted worker serves with the state it started from.
        const s = await mesh.dial(mesh.echo.address);
        assert.equal((await roundTrip(s, Buffer.from('after a restart'))).toString(), 'after a restart');
      });
    }

    test('a policy change closes an open connection that is now denied', async () => {
      const s = await mesh.dial(mesh.echo.address);
      s.write('x');
      await once(s, 'data');
      s.on('error', () => {});
      const closed = Promise.race([once(s, 'end'), once(s, 'close')]);
      const applied = mesh.setPolicies([
        makePolicy({ name: 'allow-nobody', action: 'Allow' }, [
          { namespaces: [{ kind: 'exact', value: 'nobody' }] },
        ]),
      ]);
      await applied;
      await closed;
      await until('B has no connection', async () => (await mesh.b.connections()).length === 0);
      await mesh.setPolicies([]);
    });
  });
}
