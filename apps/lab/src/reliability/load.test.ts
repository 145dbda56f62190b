// Load and drain: many concurrent long-lived connections through two zt, every byte checked
// (sha256 at both ends), memory bounded; SIGTERM under load loses nothing that finishes within
// CONNECTION_TERMINATION_DEADLINE and closes the rest at the deadline.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { sumOf } from '@zt/metrics/testing';
import { type Mesh, startMesh } from './harness/mesh.ts';
import { MiB, RssSampler } from './harness/rss.ts';
import { messageOf } from './harness/zt.ts';

const LONG = process.env['ZT_LONG'] === '1';
const CONNECTIONS = LONG ? 10_000 : 1000;
const PREFIX = '127.0.33';
let mesh: Mesh;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A long-lived connection: `rounds` chunks over time, then half-close and read the rest. */
async function session(sock: Socket, rounds: number, chunk: number, gapMs: number) {
  const sent = createHash('sha256');
  const got = createHash('sha256');
  let gotBytes = 0;
  sock.on('data', (d: Buffer) => {
    got.update(d);
    gotBytes += d.length;
  });
  const ended = new Promise<void>((resolve, reject) => {
    sock.once('end', resolve);
    sock.on('error', reject);
    sock.once('close', () => resolve());
  });
  for (let i = 0; i < rounds; i++) {
    const b = randomBytes(chunk);
    sent.update(b);
    sock.write(b);
    await sleep(gapMs);
  }
  sock.end();
  await ended;
  return { sent: sent.digest('hex'), got: got.digest('hex'), gotBytes };
}

before(async () => {
  mesh = await startMesh({
    prefix: PREFIX,
    // Access lines for 1,000 connections would only slow the run; the drain messages are wanted.
    env: { RUST_LOG: 'warn,ztunnel=info', POOL_MAX_STREAMS_PER_CONNECTION: '100' },
    envA: { CONNECTION_TERMINATION_DEADLINE: '4s' },
  });
});
after(() => mesh?.close());

describe('load and drain', { concurrency: false }, () => {
  test(`${CONNECTIONS} concurrent long-lived connections: every byte arrives, memory bounded`, async () => {
    const rss = new RssSampler([mesh.a.child.pid!, mesh.b.child.pid!], 500);
    const t0 = Date.now();
    const socks: Socket[] = [];
    // Open in batches so the SOCKS listener's backlog is not the thing under test.
    for (let i = 0; i < CONNECTIONS; i += 100) {
      socks.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(100, CONNECTIONS - i) }, () =>
            mesh.dial({ host: mesh.ip.echo, port: mesh.echo.port }),
          ),
        )),
      );
    }
    const openedMs = Date.now() - t0;
    const echoBefore = mesh.echo.received.size;
    const results = await Promise.all(socks.map((s) => session(s, 4, 4096, 1000)));
    rss.stop();
    const bad = results.filter((r) => r.got !== r.sent || r.gotBytes !== 4 * 4096);
    assert.equal(bad.length, 0, `${bad.length} of ${CONNECTIONS} connections lost or corrupted bytes`);
    // The workload side saw exactly the bytes each client sent.
    for (const r of results) assert.ok(mesh.echo.received.has(r.sent), 'the server received different bytes');
    assert.ok(mesh.echo.received.size - echoBefore >= CONNECTIONS - 1);
    const growthA = (rss.max(0) - rss.first(0)) / MiB;
    const growthB = (rss.max(1) - rss.first(1)) / MiB;
    console.log(
      `load: ${CONNECTIONS} connections opened in ${openedMs} ms, all done in ${Date.now() - t0} ms; ` +
        `RSS node-a ${(rss.first(0) / MiB).toFixed(0)} -> max ${(rss.max(0) / MiB).toFixed(0)} MiB, ` +
        `node-b ${(rss.first(1) / MiB).toFixed(0)} -> max ${(rss.max(1) / MiB).toFixed(0)} MiB`,
    );
    // ~100 KiB per proxied connection per node is generous; more is a leak or unbounded buffering.
    const budget = (CONNECTIONS * 100 * 1024) / MiB + 64;
    assert.ok(
      growthA < budget && growthB < budget,
      `RSS grew ${growthA.toFixed(0)}/${growthB.toFixed(0)} MiB (budget ${budget.toFixed(0)})`,
    );
    const opened = sumOf(await mesh.b.metrics(), 'istio_tcp_connections_opened_total', {
      reporter: 'destination',
    });
    assert.ok(opened >= CONNECTIONS, `node-b counted ${opened} inbound connections`);
  });

  test('SIGTERM under load: connections that finish within the deadline lose nothing; the rest close at it', async () => {
    const quick: Socket[] = [];
    const slow: Socket[] = [];
    for (let i = 0; i < 100; i++) quick.push(await mesh.dial({ host: mesh.ip.echo, port: mesh.echo.port }));
    for (let i = 0; i < 20; i++) slow.push(await mesh.dial({ host: mesh.ip.echo, port: mesh.echo.port }));
    const from = mesh.a.lines.length;
    const slowClosed = slow.map((s) => new Promise<number>((r) => s.once('close', () => r(Date.now()))));
    for (const s of slow) s.on('error', () => undefined);
    // Quick ones run ~2 s (inside the 4 s deadline); slow ones would run 30 s.
    const quickDone = Promise.all(quick.map((s) => session(s, 4, 8192, 500)));
    const slowDone = Promise.allSettled(slow.map((s) => session(s, 60, 1024, 500)));
    await sleep(300);
    const t0 = Date.now();
    mesh.a.child.kill('SIGTERM');
    const results = await quickDone;
    const bad = results.filter((r) => r.got !== r.sent || r.gotBytes !== 4 * 8192);
    assert.equal(
      bad.length,
      0,
      `${bad.length} of 100 connections that finished inside the deadline lost bytes`,
    );
    const closedAt = await Promise.all(slowClosed);
    await slowDone;
    const lastClose = Math.max(...closedAt) - t0;
    const firstClose = Math.min(...closedAt) - t0;
    console.log(
      `drain: slow connections closed between ${firstClose} and ${lastClose} ms after SIGTERM (deadline 4000 ms)`,
    );
    assert.ok(firstClose >= 3000, `a connection past the deadline was closed early (${firstClose} ms)`);
    assert.ok(lastClose <= 9000, `connections were not closed at the deadline (${lastClose} ms)`);
    const exit = await mesh.a.exited;
    assert.equal(exit.code, 0);
    assert.ok(
      mesh.a.lines.slice(from).some((l) => /draining/.test(messageOf(l))),
      'no drain log line',
    );
  });
});
