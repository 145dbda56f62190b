// The load generators against the real target server, direct: they move the bytes they claim.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startServer } from '../server.ts';
import { connectRequest } from '../socks5.ts';
import { directTarget, type Target } from '../targets.ts';
import { runBulk } from './bulk.ts';
import { openIdle } from './idle.ts';
import { runLatency } from './latency.ts';
import { runConnRate } from './rate.ts';

describe('load generators, direct', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let target: Target;
  before(async () => {
    server = await startServer('127.0.0.1');
    target = directTarget({ host: '127.0.0.1', port: (server.address() as AddressInfo).port }, '127.0.0.1');
  });
  after(() => server.close());

  it('bulk one way and both ways move every byte (both directions summed)', async () => {
    const up = await runBulk(target, {
      connections: 2,
      bytesPerConnection: 3 * 2 ** 20 + 7,
      bidirectional: false,
    });
    assert.equal(up.bytes, 2 * (3 * 2 ** 20 + 7));
    const both = await runBulk(target, { connections: 2, bytesPerConnection: 2 ** 20, bidirectional: true });
    assert.equal(both.bytes, 4 * 2 ** 20);
    assert.ok(both.gbps > 0);
  });

  it('connection rate counts full exchanges', async () => {
    const r = await runConnRate(target, { concurrency: 4, durationMs: 300 });
    assert.equal(r.errors, 0);
    assert.ok(r.connections > 10, `${r.connections}`);
  });

  it('latency at a fixed rate over persistent connections', async () => {
    const r = await runLatency(target, { ratePerSec: 500, durationMs: 300, connections: 2 });
    assert.equal(r.errors, 0);
    assert.equal(r.count, 150);
    assert.ok(r.p50 <= r.p99 && r.p99 <= r.max);
  });

  it('idle connections are proven and closed', async () => {
    const h = await openIdle(target, 50, 8);
    assert.equal(h.opened, 50);
    await h.close();
  });

  it('SOCKS5 CONNECT request encoding', () => {
    assert.deepEqual([...connectRequest('127.0.2.10', 8080)], [5, 1, 0, 1, 127, 0, 2, 10, 0x1f, 0x90]);
    assert.throws(() => connectRequest('::1', 1), /IPv4 only/);
  });
});
