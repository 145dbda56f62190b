// Faults: the control plane (xDS, CA) down, a data-plane worker killed, the destination gone
// mid-stream, the peer zt restarted. Traffic that can go on goes on; what is lost is counted; zt
// recovers by itself.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { sumOf } from '@zt/metrics/testing';
import { makeWorkload } from '@zt/xds/testing';
import { startHashEcho } from './harness/echo.ts';
import { type Mesh, ping, roundTrip, startMesh, waitReady } from './harness/mesh.ts';
import { type LogLine, messageOf, type ZtProcess } from './harness/zt.ts';

const LONG = process.env['ZT_LONG'] === '1';
const PREFIX = '127.0.32';
let mesh: Mesh;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Expiry (ms) of each certificate a node holds, by `namespace/serviceaccount`, from its admin API. */
async function certExpiries(zt: ZtProcess): Promise<Map<string, number>> {
  const dump = (await (await fetch(`${zt.ready.admin}/config_dump`)).json()) as {
    certificates: { identity: string; certChain: { expirationTime: string }[] }[];
  };
  const out = new Map<string, number>();
  for (const c of dump.certificates) {
    const m = /\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(c.identity);
    const leaf = c.certChain[0];
    if (m && leaf) out.set(`${m[1]}/${m[2]}`, Date.parse(leaf.expirationTime));
  }
  return out;
}

async function echoOk(from?: string): Promise<void> {
  const s = await mesh.dial({ host: mesh.ip.echo, port: mesh.echo.port }, from);
  const r = await roundTrip(s, 64 * 1024);
  assert.equal(r.got, r.sent, 'echoed bytes differ');
}

before(async () => {
  // Certificates live 20 s (refreshed at 10 s), so a CA outage of 20 s spans a refresh and an expiry.
  mesh = await startMesh({
    prefix: PREFIX,
    faultProxies: true,
    env: { SECRET_TTL: '20s', RUST_LOG: 'info' },
    envA: { ZTUNNEL_WORKER_THREADS: '2' },
  });
});
after(() => mesh?.close());

describe('faults', { concurrency: false }, () => {
  test(`xDS down for ${LONG ? 60 : 5} s: traffic goes on, zt reconnects and applies what changed meanwhile`, async () => {
    const xp = mesh.xdsProxy!;
    const long = await mesh.dial({ host: mesh.ip.echo, port: mesh.echo.port });
    const from = mesh.b.lines.length;
    const termsBefore = sumOf(await mesh.b.metrics(), 'istio_xds_connection_terminations_total');
    await xp.down();
    // A new pod on node-b appears while zt cannot hear about it.
    const late = await startHashEcho(`${PREFIX}.22`);
    mesh.xds.set({
      workloads: [
        makeWorkload({
          name: 'late',
          namespace: 'backend',
          serviceAccount: 'late',
          workloadIps: [`${PREFIX}.22`],
          node: 'node-b',
        }),
      ],
    });
    const outageMs = LONG ? 60_000 : 5000;
    const t0 = Date.now();
    let during = 0;
    while (Date.now() - t0 < outageMs) {
      await echoOk();
      assert.equal(await ping(long, `x${during}`), `x${during}`);
      during++;
      await sleep(500);
    }
    await mesh.b.waitLog(
      (l) => l['scope'] === 'xds' && (l.level === 'warn' || l.level === 'error'),
      from,
      10_000,
      'an xDS warning',
    );
    await xp.up();
    // Backoff may be at a few seconds by now.
    const deadline = Date.now() + 40_000;
    let reached = false;
    while (!reached && Date.now() < deadline) {
      try {
        const s = await mesh.dial({ host: `${PREFIX}.22`, port: late.port });
        const r = await roundTrip(s, 1000, 3000);
        reached = r.got === r.sent;
      } catch {
        await sleep(500);
      }
    }
    await late.close();
    long.destroy();
    assert.ok(during >= 5, `only ${during} exchanges during the outage`);
    assert.ok(reached, 'the pod added during the outage never became reachable after reconnect');
    assert.ok(sumOf(await mesh.b.metrics(), 'istio_xds_connection_terminations_total') > termsBefore);
  });

  test('CA down past a refresh and past expiry: kept certificates serve until they expire, then zt recovers', async (t) => {
    const cp = mesh.caProxy!;
    const isClientCert = (l: LogLine) =>
      l['scope'] === 'cert' && String(l['identity']).endsWith('/sa/client');
    // Place the outage against the lifetime of node A's client certificate: just renewed, it is
    // refreshed at 10 s and expires at 20 s.
    const renewal = await mesh.a.waitLog(
      (l) => isClientCert(l) && /renewed/.test(messageOf(l)),
      mesh.a.lines.length,
      15_000,
      'a renewal of the client certificate',
    );
    assert.ok(
      Date.parse(String(renewal['notAfter'])) - Date.now() > 15_000,
      'the renewed certificate is not fresh',
    );
    const failuresBefore = sumOf(await mesh.a.metrics(), 'zt_identity_csr_failures_total');
    const long = await mesh.dial({ host: mesh.ip.echo, port: mesh.echo.port });
    const fromA = mesh.a.lines.length;
    const fromB = mesh.b.lines.length;
    await cp.down();
    // Back up however the case ends, so a failure here does not take the CA from the cases after.
    t.after(() => cp.up());
    // Node B's certificates (the server side of every handshake) have their own phase, up to a
    // refresh interval (10 s) away from node A's.
    const expA = (await certExpiries(mesh.a)).get('frontend/client') as number;
    const b0 = await certExpiries(mesh.b);
    const expiry = Math.min(expA, b0.get('backend/echo') as number, b0.get('backend/spare') as number);
    // The new HBONE connection must come after node A's refresh failed (at expA - 10 s) and while
    // node B can still serve it; phases that leave no such second are reported, not failed.
    const freshFrom = expA - 8500;
    const freshWindow = expiry - 1500 - freshFrom > 1000;
    if (!freshWindow)
      t.diagnostic(
        `node B's certificates expire ${expA - expiry} ms before node A's: no new-connection check`,
      );

    // Until just before expiry new connections open, over the pool or over new HBONE connections
    // made with the kept certificate after its refresh failed (the spare pod is one zt has not
    // dialled yet).
    const spare = await startHashEcho(mesh.ip.spare);
    let ok = 0;
    let fresh = false;
    try {
      while (Date.now() < expiry - 1500) {
        await echoOk();
        assert.equal(await ping(long, `ca${ok}`), `ca${ok}`);
        ok++;
        if (freshWindow && !fresh && Date.now() > freshFrom) {
          const s = await mesh.dial({ host: mesh.ip.spare, port: spare.port });
          const r = await roundTrip(s, 4096);
          assert.equal(r.got, r.sent, 'a new HBONE connection after the failed refresh');
          fresh = true;
        }
        await sleep(1000);
      }
    } finally {
      await spare.close();
    }
    await mesh.a.waitLog(
      (l) => isClientCert(l) && /keeping the current certificate/.test(messageOf(l)),
      fromA,
      1000,
      'the failed refresh, logged',
    );
    // Expired, and the CA still down: the certificate is unavailable, but established connections
    // are not cut.
    await mesh.a.waitLog(
      (l) => isClientCert(l) && l.level === 'warn' && /no valid certificate/.test(messageOf(l)),
      fromA,
      10_000,
      'the certificate unavailable after expiry',
    );
    assert.equal(await ping(long, 'expired'), 'expired');
    await mesh.b.waitLog(
      (l) => l['scope'] === 'cert' && l.level === 'warn',
      fromB,
      10_000,
      'node B logging its failed refreshes',
    );

    await cp.up();
    const up = Date.now();
    const [a, b] = [mesh.a.lines.length, mesh.b.lines.length];
    const renewed = (l: LogLine) => l['scope'] === 'cert' && /renewed/.test(messageOf(l));
    // The CA channel reconnects at once; the next CSR waits for the identity's backoff. Up to six
    // failures fit before expiry (refresh at 10 s, retries after 0.5-1, 1-2, 2-4 and 4-8 s, each
    // cut short at expiry), so the retry after expiry is 8-16 s or 16-32 s away, as upstream's
    // per-identity backoff would have it.
    await mesh.a.waitLog((l) => isClientCert(l) && renewed(l), a, 45_000, 'node A recovering');
    // Node B serves both pods the next cases dial, each with its own certificate and backoff.
    for (const sa of ['echo', 'spare']) {
      await mesh.b.waitLog(
        (l) => renewed(l) && String(l['identity']).endsWith(`/sa/${sa}`),
        b,
        45_000,
        `node B recovering the ${sa} certificate`,
      );
    }
    const recoveredMs = Date.now() - up;
    t.diagnostic(`both nodes renewed ${recoveredMs} ms after the CA came back`);
    // Several connections, so both of node A's workers (and new HBONE connections) are exercised.
    for (let i = 0; i < 6; i++) await echoOk();
    assert.equal(await ping(long, 'after'), 'after');
    long.destroy();
    assert.ok(ok >= 5, `only ${ok} exchanges while the CA was down`);
    if (freshWindow) assert.ok(fresh, 'no new HBONE connection was tried with the kept certificate');
    assert.ok(recoveredMs < 40_000, `recovery took ${recoveredMs} ms after the CA came back`);
    assert.ok(
      sumOf(await mesh.a.metrics(), 'zt_identity_csr_failures_total') > failuresBefore,
      'CSR failures not counted',
    );
  });

  test('the destination workload gone mid-stream: a clean close, counted', async (t) => {
    const held = new Set<Socket>();
    const server = createServer((s) => {
      held.add(s);
      s.on('data', (d) => s.write(d));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, mesh.ip.spare, r));
    const port = (server.address() as { port: number }).port;
    const closedBefore = sumOf(await mesh.b.metrics(), 'istio_tcp_connections_closed_total', {
      reporter: 'destination',
    });
    // Closed however the case ends: a listening server left behind keeps the test process alive.
    t.after(() => server.close());
    const s = await mesh.dial({ host: mesh.ip.spare, port });
    s.on('error', () => undefined);
    assert.equal(await ping(s, 'before'), 'before');
    const closedAt = new Promise<number>((r) => s.once('close', () => r(Date.now())));
    const t0 = Date.now();
    for (const h of held) h.destroy();
    server.close();
    assert.ok((await closedAt) - t0 < 5000, 'the client side was not closed');
    await mesh.b.until(
      () =>
        mesh.b.lines.some(
          (l) => l['scope'] === 'access' && String(l['dst.addr'] ?? '').startsWith(mesh.ip.spare),
        ),
      10_000,
      'the access log of the cut connection',
    );
    let closedAfter = closedBefore;
    for (let i = 0; i < 20 && closedAfter <= closedBefore; i++) {
      await sleep(200);
      closedAfter = sumOf(await mesh.b.metrics(), 'istio_tcp_connections_closed_total', {
        reporter: 'destination',
      });
    }
    assert.ok(closedAfter > closedBefore, 'the closed connection was not counted');
  });

  test('the peer zt restarted: the pool evicts its connection, new streams succeed', async () => {
    await echoOk();
    const s = await mesh.dial({ host: mesh.ip.echo, port: mesh.echo.port });
    s.on('error', () => undefined);
    const cut = new Promise<void>((r) => s.once('close', () => r()));
    await mesh.restart('b');
    await cut;
    await waitReady(mesh.b);
    await echoOk();
    await echoOk();
  });

  test('a worker thread killed: restarted, the other worker keeps its connections', async () => {
    const socks: Socket[] = [];
    for (let i = 0; i < 24; i++) {
      const s = await mesh.dial({ host: mesh.ip.echo, port: mesh.echo.port });
      s.on('error', () => undefined);
      socks.push(s);
      assert.equal(await ping(s, `c${i}`), `c${i}`);
    }
    const closed = new Set<Socket>();
    for (const s of socks) s.once('close', () => closed.add(s));
    const restartsBefore = sumOf(await mesh.a.metrics(), 'zt_worker_restarts_total');
    const from = mesh.a.lines.length;
    mesh.a.send({ t: 'kill-worker', index: 0 });
    await mesh.a.until(
      () => mesh.a.events.some((e) => e['t'] === 'worker-restart'),
      30_000,
      'the worker restart',
    );
    await mesh.a.waitLog((l) => /worker died/.test(messageOf(l)), from, 5000, 'the worker death log');
    await sleep(500);
    const survivors = socks.filter((s) => !closed.has(s));
    assert.ok(closed.size > 0, 'no connection belonged to the killed worker (SO_REUSEPORT put all on one?)');
    assert.ok(survivors.length > 0, 'every connection died with one worker');
    for (const [i, s] of survivors.entries()) assert.equal(await ping(s, `s${i}`), `s${i}`);
    for (const s of socks) s.destroy();
    await echoOk();
    assert.ok(sumOf(await mesh.a.metrics(), 'zt_worker_restarts_total') > restartsBefore);
  });
});
