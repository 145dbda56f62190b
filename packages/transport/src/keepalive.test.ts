import assert from 'node:assert/strict';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HbonePool } from './pool.ts';
import { startHbonePair } from './testing/index.ts';

test('a peer that stops answering PING is dropped and evicted from the pool', async () => {
  const pair = await startHbonePair({
    server: {
      onTunnel: (t) =>
        t
          .accept()
          .resume()
          .on('error', () => {}),
    },
  });
  // A TCP relay in front of the server that can go silent, like a dead node or a dropped route.
  const sockets: Socket[] = [];
  const relay = createServer((down) => {
    const up = netConnect(pair.address.port, pair.address.address);
    sockets.push(down, up);
    down.on('error', () => {});
    up.on('error', () => {});
    down.pipe(up).pipe(down);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const address = { address: '127.0.0.1', port: (relay.address() as { port: number }).port };
  const pool = new HbonePool({ certs: pair.certs, pingIntervalMs: 100, pingTimeoutMs: 1000 });
  try {
    const t = await pool.open({
      source: pair.clientIdentity,
      destinationIdentities: [pair.serverIdentity],
      address,
      authority: '10.0.0.1:80',
    });
    const failed = new Promise<Error>((resolve) => t.once('error', resolve));
    await sleep(500);
    assert.equal(pool.stats.connectionsLive, 1, 'answered PINGs keep the connection');
    for (const s of sockets) {
      s.unpipe();
      s.pause();
    }
    const err = await failed;
    assert.equal(err.name, 'StreamResetError');
    await sleep(50);
    assert.equal(pool.stats.connectionsLive, 0);
  } finally {
    for (const s of sockets) s.destroy();
    relay.close();
    await pool.close(100);
    await pair.close();
  }
});
