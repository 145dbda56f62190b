import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEchoServer, startHbonePair } from './testing/index.ts';

test('smoke', async () => {
  const echo = await startEchoServer();
  const pair = await startHbonePair();
  const s = await pair.pool.open({
    source: pair.clientIdentity,
    destinationIdentities: [pair.serverIdentity],
    address: pair.address,
    authority: `127.0.0.1:${echo.address.port}`,
  });
  s.end('hello');
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), 'hello');
  console.log(pair.pool.stats, pair.tunnels[0]?.peerIdentity.toString());
  await pair.close();
  await echo.close();
});
