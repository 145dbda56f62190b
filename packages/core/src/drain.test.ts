import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestCa } from '@zt/identity/testing';
import { startLoopbackMesh } from './testing/index.ts';

async function echoOnce(s: Socket, text: string): Promise<string> {
  s.write(text);
  const [d] = (await once(s, 'data')) as [Buffer];
  return d.toString();
}

test('drain: stops accepting, lets a connection finish within the deadline, closes the rest after it', async () => {
  const mesh = await startLoopbackMesh({ ca: await TestCa.create(), octet: 110 });
  try {
    const finishing = await mesh.dial(mesh.echo.address);
    const lingering = await mesh.dial(mesh.echo.address);
    lingering.on('error', () => {});
    assert.equal(await echoOnce(lingering, 'hi'), 'hi');
    const lingeringClosed = Promise.race([once(lingering, 'end'), once(lingering, 'close')]);
    const started = Date.now();
    const drained = mesh.a.drain(700);
    await sleep(50);
    // No new connection is accepted.
    const refused = connect({ host: mesh.socksA.address, port: mesh.socksA.port });
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNREFUSED');
    // An open connection still works and can finish on its own.
    assert.equal(await echoOnce(finishing, 'still here'), 'still here');
    finishing.end();
    await once(finishing, 'end');
    finishing.destroy();
    // The idle one is closed at the deadline, and drain resolves then.
    await lingeringClosed;
    await drained;
    const took = Date.now() - started;
    assert.ok(took >= 600 && took < 3000, `drain took ${took}ms`);
    assert.equal((await mesh.a.connections()).length, 0);
  } finally {
    await mesh.close();
  }
});

test('a killed worker is restarted and counted; connections on the other workers go on', async () => {
  const mesh = await startLoopbackMesh({ ca: await TestCa.create(), workers: 2, octet: 111 });
  try {
    const sockets: Socket[] = [];
    for (let i = 0; i < 12; i++) {
      const s = await mesh.dial(mesh.echo.address);
      s.on('error', () => {});
      assert.equal(await echoOnce(s, `n${i}`), `n${i}`);
      sockets.push(s);
    }
    const conns = (await mesh.a.connections()).filter((c) => c.direction === 'outbound');
    assert.equal(conns.length, 12);
    const onWorker0 = new Set(conns.filter((c) => c.id.startsWith('w0.')).map((c) => c.src.port));
    assert.ok(
      onWorker0.size > 0 && onWorker0.size < 12,
      `connections spread over both workers (${onWorker0.size} on worker 0)`,
    );
    const restarted = once(mesh.a, 'workerRestart');
    await mesh.a.workerThreads[0]?.terminate();
    const [ev] = (await restarted) as [{ index: number; restarts: number }];
    assert.equal(ev.index, 0);
    assert.equal(mesh.a.restarts, 1);
    for (const s of sockets) {
      if (onWorker0.has(s.localPort ?? -1)) {
        if (!s.readableEnded && !s.destroyed) await Promise.race([once(s, 'end'), once(s, 'close')]);
      } else {
        assert.equal(await echoOnce(s, 'alive'), 'alive');
      }
    }
    // The restarted worker serves new connections too: enough of them land on both workers.
    for (let i = 0; i < 6; i++) {
      const s = await mesh.dial(mesh.echo.address);
      assert.equal(await echoOnce(s, 'new'), 'new');
      s.destroy();
    }
    for (const s of sockets) s.destroy();
    assert.match(await mesh.a.metricsText(), /zt_worker_restarts_total\{reason="crash"\} 1/);
  } finally {
    await mesh.close();
  }
});
