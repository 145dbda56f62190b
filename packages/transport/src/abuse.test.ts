// HTTP/2 abuse against the HBONE server: each session ends (GOAWAY or close) within a bound, is
// counted under a stable reason and reported once, and a healthy tunnel on another connection
// keeps working.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { SocketAddress } from './authority.ts';
import { metrics } from './metrics.ts';
import {
  connectHeaders,
  type EchoServer,
  FLAG,
  FRAME,
  frame,
  type HbonePair,
  headerBlock,
  pingFrame,
  RawH2,
  rstStream,
  startEchoServer,
  startHbonePair,
} from './testing/index.ts';

let pair: HbonePair;
let echo: EchoServer;
const reports: { err: Error; remote: SocketAddress | undefined; reason: string }[] = [];

before(async () => {
  echo = await startEchoServer();
  pair = await startHbonePair({
    server: { onError: (err, remote, reason) => reports.push({ err, remote, reason }) },
  });
});
after(async () => {
  await pair.close();
  await echo.close();
});

function tunnelTo(port: number) {
  return {
    source: pair.clientIdentity,
    destinationIdentities: [pair.serverIdentity],
    address: pair.address,
    authority: `127.0.0.1:${port}`,
  };
}

async function counted(metric: 'connectionsFailed' | 'tunnelsFailed', reason: string): Promise<number> {
  const v = (await metrics[metric].get()).values.find(
    (s) => s.labels.side === 'server' && s.labels.reason === reason,
  );
  return v?.value ?? 0;
}

async function waitUntil(pred: () => Promise<boolean> | boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** Opens a raw connection, runs `act`, and checks the session ended and was counted under `reason`. */
async function abuse(
  reason: string,
  act: (c: RawH2) => void,
  metric: 'connectionsFailed' | 'tunnelsFailed' = 'connectionsFailed',
  mustClose = true,
): Promise<RawH2> {
  // A tunnel opened before the abuse must still echo after it.
  const healthy = await pair.pool.open(tunnelTo(echo.address.port));
  const before = await counted(metric, reason);
  const from = reports.length;
  const c = await RawH2.open({ host: '127.0.0.1', port: pair.address.port, cert: pair.clientCert });
  const t0 = Date.now();
  act(c);
  if (mustClose) {
    // A client that stopped reading learns of the close only once it reads again.
    setTimeout(() => c.socket.resume(), 300);
    assert.ok(await c.waitFor(() => c.closed, 5000), `${reason}: the session is still open`);
    assert.ok(Date.now() - t0 < 5000);
  }
  assert.ok(await waitUntil(async () => (await counted(metric, reason)) > before), `${reason}: not counted`);
  const mine = reports.slice(from).filter((r) => r.reason === reason);
  assert.equal(mine.length, 1, `${reason}: reported once (${mine.map((r) => r.err.message).join('; ')})`);
  assert.equal(mine[0]?.remote?.address, '127.0.0.1', 'the report names the peer');
  healthy.write('still there');
  const [got] = (await new Promise((r) => healthy.once('data', (d) => r([String(d)])))) as [string];
  assert.equal(got, 'still there');
  healthy.destroy();
  return c;
}

test('DATA on stream 0 is a protocol error: GOAWAY PROTOCOL_ERROR, counted as protocol', async () => {
  const c = await abuse('protocol', (c) => c.send(frame(FRAME.DATA, 0, 0, Buffer.from('x'))));
  assert.equal(c.goawayCode(), 1);
});

test('a PING flood from a client that does not read ends the session, counted as flood', async () => {
  await abuse('flood', (c) => {
    c.socket.pause();
    const frames: Buffer[] = [];
    for (let i = 0; i < 20_000; i++) frames.push(pingFrame(i));
    c.send(...frames);
  });
});

test('a CONTINUATION flood ends the session, counted as flood', async () => {
  await abuse('flood', (c) => {
    c.send(frame(FRAME.HEADERS, 0, 1, connectHeaders('127.0.0.1:1')));
    for (let i = 0; i < 2000; i++)
      c.send(frame(FRAME.CONTINUATION, 0, 1, headerBlock([[`x-${i}`, 'y'.repeat(64)]])));
  });
});

test('hundreds of streams over the concurrency limit end the session, counted as flood', async () => {
  await abuse('flood', (c) => {
    const frames: Buffer[] = [];
    for (let i = 0; i < 400; i++)
      frames.push(frame(FRAME.HEADERS, FLAG.END_HEADERS, 1 + 2 * i, connectHeaders('127.0.0.1:9')));
    c.send(...frames);
  });
});

test('rapid reset (streams opened and cancelled at once) ends the session, counted as rapid_reset', async () => {
  await abuse('rapid_reset', (c) => {
    const frames: Buffer[] = [frame(FRAME.SETTINGS, FLAG.ACK, 0)];
    for (let i = 0; i < 2000; i++) {
      const id = 1 + 2 * i;
      frames.push(frame(FRAME.HEADERS, FLAG.END_HEADERS, id, connectHeaders('127.0.0.1:1')), rstStream(id));
    }
    c.send(...frames);
  });
});

test('a CONNECT without :authority, reset by nghttp2 before the server sees it, is counted as malformed', async () => {
  const c = await abuse(
    'malformed',
    (c) => c.send(frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, headerBlock([[':method', 'CONNECT']]))),
    'tunnelsFailed',
    false,
  );
  assert.equal(c.rstCode(1), 1, 'the stream was reset with PROTOCOL_ERROR');
  assert.equal(c.closed, false, 'a malformed stream does not end the connection');
  c.destroy();
});

test('well-formed tunnels are not counted as malformed', async () => {
  const before = await counted('tunnelsFailed', 'malformed');
  for (let i = 0; i < 20; i++) {
    const t = await pair.pool.open(tunnelTo(echo.address.port));
    t.end();
    t.resume();
    await new Promise((r) => t.once('close', r));
  }
  await new Promise((r) => setTimeout(r, 2200)); // two audit sweeps
  assert.equal(await counted('tunnelsFailed', 'malformed'), before);
});
