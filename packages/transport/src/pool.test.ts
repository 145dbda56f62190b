import assert from 'node:assert/strict';
import { once } from 'node:events';
import { constants, createSecureServer, type ServerHttp2Session } from 'node:http2';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Identity } from '@zt/identity';
import { TestCa } from '@zt/identity/testing';
import { HbonePool } from './pool.ts';
import { HboneServer } from './server.ts';
import { type HbonePair, startEchoServer, startHbonePair, staticCertSource } from './testing/index.ts';

function req(pair: HbonePair, authority = '10.0.0.1:80') {
  return {
    source: pair.clientIdentity,
    destinationIdentities: [pair.serverIdentity],
    address: pair.address,
    authority,
  };
}

/** A server whose tunnels stay open until the test ends them. */
function holdOpen(held: Duplex[]) {
  return {
    onTunnel: (t: import('./server.ts').InboundTunnel) => {
      const s = t.accept();
      s.resume();
      s.on('error', () => {});
      held.push(s);
    },
  };
}

test('a burst of opens for one key makes one connection', async () => {
  const held: Duplex[] = [];
  const pair = await startHbonePair({ server: holdOpen(held) });
  try {
    const tunnels = await Promise.all(Array.from({ length: 50 }, () => pair.pool.open(req(pair))));
    assert.equal(pair.pool.stats.connectionsOpened, 1);
    assert.equal(pair.server.stats.sessions, 1);
    for (const t of tunnels) t.destroy();
  } finally {
    await pair.close();
  }
});

test('maxStreamsPerConnection spreads tunnels over more connections', async () => {
  const held: Duplex[] = [];
  const pair = await startHbonePair({ server: holdOpen(held), pool: { maxStreamsPerConnection: 10 } });
  try {
    const tunnels = await Promise.all(Array.from({ length: 25 }, () => pair.pool.open(req(pair))));
    assert.equal(pair.pool.stats.connectionsOpened, 3);
    assert.equal(pair.server.stats.sessions, 3);
    for (const t of tunnels) t.destroy();
  } finally {
    await pair.close();
  }
});

test("the peer's SETTINGS_MAX_CONCURRENT_STREAMS caps a connection below our own limit", async () => {
  const held: Duplex[] = [];
  const pair = await startHbonePair({ server: { ...holdOpen(held), maxConcurrentStreams: 4 } });
  try {
    const tunnels = [];
    for (let i = 0; i < 8; i++) tunnels.push(await pair.pool.open(req(pair)));
    assert.equal(pair.pool.stats.connectionsOpened, 2);
    for (const t of tunnels) t.destroy();
  } finally {
    await pair.close();
  }
});

test('an idle connection is released after unusedReleaseTimeout; a busy one is kept', async () => {
  const pair = await startHbonePair({
    server: {
      onTunnel: (t) =>
        t
          .accept()
          .end('x')
          .resume()
          .on('error', () => {}),
    },
    pool: { unusedReleaseTimeoutMs: 150 },
  });
  try {
    const t = await pair.pool.open(req(pair));
    t.end();
    t.resume();
    await sleep(400);
    assert.equal(pair.pool.stats.connectionsLive, 0);
    assert.equal(pair.server.stats.sessions, 0);

    const busy = await pair.pool.open(req(pair));
    busy.on('error', () => {});
    await sleep(400);
    assert.equal(pair.pool.stats.connectionsLive, 1, 'a connection with an open tunnel is not released');
    busy.destroy();
  } finally {
    await pair.close();
  }
});

test('GOAWAY evicts: the next open dials a new connection, the open tunnel finishes', async () => {
  const pair = await startHbonePair();
  const listener = createServer();
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const address = { address: '127.0.0.1', port: (listener.address() as { port: number }).port };
  const served: string[] = [];
  const first = new HboneServer({
    certificateFor: async () => pair.serverCert,
    onTunnel: (t) => {
      served.push('first');
      const s = t.accept();
      s.pipe(s);
    },
  });
  const second = new HboneServer({
    certificateFor: async () => pair.serverCert,
    onTunnel: (t) => {
      served.push('second');
      const s = t.accept();
      s.pipe(s);
    },
  });
  first.attach(listener);
  try {
    const r = { ...req(pair), address };
    const t1 = await pair.pool.open(r);
    const drained = first.close(5000);
    second.attach(listener);
    await sleep(50);
    const t2 = await pair.pool.open(r);
    assert.equal(pair.pool.stats.connectionsOpened, 2);
    assert.deepEqual(served, ['first', 'second']);
    for (const t of [t1, t2]) {
      t.end('still works');
      let got = '';
      for await (const c of t) got += c;
      assert.equal(got, 'still works');
    }
    await drained;
  } finally {
    await second.close(100);
    listener.close();
    await pair.close();
  }
});

test('a rotated certificate is used by new connections; open ones are kept', async () => {
  const held: Duplex[] = [];
  const pair = await startHbonePair({ server: holdOpen(held), pool: { maxStreamsPerConnection: 1 } });
  try {
    const t1 = await pair.pool.open(req(pair));
    // Rotate to a certificate from a CA the server does not trust: only a new connection shows it.
    const otherCa = await TestCa.create();
    pair.certs.rotate(await otherCa.issue(pair.clientIdentity));
    await assert.rejects(pair.pool.open(req(pair)));
    // The first tunnel, on the old certificate, still carries data.
    t1.write('alive');
    await sleep(50);
    const [serverSide] = held;
    assert.ok(serverSide);
    let got = '';
    serverSide.removeAllListeners('data');
    serverSide.on('data', (c: Buffer) => {
      got += c;
    });
    t1.write('still');
    await sleep(100);
    assert.equal(got, 'still');
    // And rotating back to a trusted certificate works again for new connections.
    pair.certs.rotate(await pair.ca.issue(pair.clientIdentity));
    const t2 = await pair.pool.open(req(pair));
    assert.equal(pair.pool.stats.connectionsOpened, 2);
    t1.destroy();
    t2.destroy();
  } finally {
    await pair.close();
  }
});

test('1,000 concurrent tunnels over the pool, each echoed intact', async () => {
  const echo = await startEchoServer();
  const pair = await startHbonePair();
  try {
    const results = await Promise.all(
      Array.from({ length: 1000 }, async (_, i) => {
        const t = await pair.pool.open(req(pair, `127.0.0.1:${echo.address.port}`));
        const msg = `tunnel ${i} `.repeat(50);
        t.end(msg);
        let got = '';
        for await (const c of t) got += c;
        return got === msg;
      }),
    );
    assert.equal(results.filter(Boolean).length, 1000);
    assert.equal(echo.accepted, 1000);
    assert.equal(pair.pool.stats.connectionsOpened, 10, 'default limit: 100 tunnels per connection');
  } finally {
    await pair.close();
    await echo.close();
  }
});

test('a closed pool refuses new tunnels', async () => {
  const pair = await startHbonePair();
  await pair.pool.close();
  await assert.rejects(pair.pool.open(req(pair)), { code: 'ERR_ZT_HBONE_POOL_CLOSED' });
  await pair.close();
});

test('a dial timeout says to check NetworkPolicy for port 15008', async () => {
  const pair = await startHbonePair();
  // A listener that accepts TCP but never answers TLS.
  const silent = createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const pool = new HbonePool({ certs: pair.certs, connectTimeoutMs: 200 });
  try {
    await assert.rejects(
      pool.open({
        ...req(pair),
        address: { address: '127.0.0.1', port: (silent.address() as { port: number }).port },
      }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_ZT_HBONE_CONNECT_TIMEOUT');
        assert.match(e.message, /NetworkPolicy is blocking HBONE port 15008/);
        return true;
      },
    );
  } finally {
    silent.close();
    await pool.close();
    await pair.close();
  }
});

test('outgoing sockets bind to localAddress when asked', async () => {
  const held: Duplex[] = [];
  let remote = '';
  const pair = await startHbonePair({
    server: {
      onTunnel: (t) => {
        remote = t.remote.address;
        holdOpen(held).onTunnel(t);
      },
    },
    pool: { localAddress: '127.0.0.2' },
  });
  try {
    const t = await pair.pool.open(req(pair));
    assert.equal(remote, '127.0.0.2');
    t.destroy();
  } finally {
    await pair.close();
  }
});

test('a dialer opens the TCP connection; tunnels share a connection only with the same dialer key', async () => {
  const remotes: string[] = [];
  const pair = await startHbonePair({
    server: {
      onTunnel: (t) => {
        remotes.push(t.remote.address);
        t.accept()
          .end('x')
          .resume()
          .on('error', () => {});
      },
    },
  });
  // Dialers that connect from a chosen loopback source address, as an in-pod dialer connects
  // from inside the pod's namespace: the server must see that address as the peer.
  const dials: string[] = [];
  const dialerFrom = (localAddress: string) => ({
    key: `from:${localAddress}`,
    connect: (to: { address: string; port: number }) =>
      new Promise<Socket>((resolve, reject) => {
        dials.push(localAddress);
        const s = connect({ host: to.address, port: to.port, localAddress });
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      }),
  });
  const one = dialerFrom('127.0.0.21');
  /** Reads the server's reply to its end, then ends our side: the tunnel closes cleanly. */
  const finish = async (t: Duplex) => {
    t.resume();
    await once(t, 'end');
    t.end();
    await once(t, 'close');
  };
  try {
    for (const dialer of [one, dialerFrom('127.0.0.21'), dialerFrom('127.0.0.22')]) {
      await finish(await pair.pool.open({ ...req(pair), dialer }));
    }
    assert.deepEqual(dials, ['127.0.0.21', '127.0.0.22']);
    assert.equal(pair.pool.stats.connectionsOpened, 2);
    assert.deepEqual(remotes, ['127.0.0.21', '127.0.0.21', '127.0.0.22']);
    // A dialer that fails fails the open with its own error, and the pool stays usable.
    const failing = { key: 'broken', connect: () => Promise.reject(new Error('no such namespace')) };
    await assert.rejects(pair.pool.open({ ...req(pair), dialer: failing }), /no such namespace/);
    await finish(await pair.pool.open({ ...req(pair), dialer: one }));
  } finally {
    await pair.close();
  }
});

// A draining peer (the old zt of a rolling update) sends GOAWAY; a CONNECT sent before the client
// read it is refused unprocessed (REFUSED_STREAM) and is safe to send again on a new connection.
test('a CONNECT refused by a GOAWAY is sent again on a new connection', async () => {
  const ca = await TestCa.create();
  const client = new Identity(ca.trustDomain, 'default', 'client');
  const serverId = new Identity(ca.trustDomain, 'default', 'server');
  const [clientCert, serverCert] = await Promise.all([ca.issue(client), ca.issue(serverId)]);
  const sessions: ServerHttp2Session[] = [];
  const server = createSecureServer({
    cert: serverCert.certChain.join('\n'),
    key: serverCert.privateKey,
    ca: [...serverCert.roots],
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
  });
  server.on('session', (session) => {
    sessions.push(session);
    session.on('error', () => {});
    // The first connection refuses every stream, as a peer that started draining before it saw
    // them: GOAWAY with last-stream-id 0.
    if (sessions.length === 1) session.goaway(constants.NGHTTP2_NO_ERROR, 0);
  });
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.respond({ ':status': 200 });
    stream.pipe(stream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const pool = new HbonePool({ certs: staticCertSource(clientCert) });
  try {
    const t = await pool.open({
      source: client,
      destinationIdentities: [serverId],
      address: { address: '127.0.0.1', port },
      authority: '10.0.0.1:80',
    });
    assert.equal(sessions.length, 2, 'refused on the first connection, opened on a second');
    t.end('ping');
    const echoed: Buffer[] = [];
    for await (const c of t) echoed.push(c as Buffer);
    assert.equal(Buffer.concat(echoed).toString(), 'ping');
  } finally {
    for (const s of sessions) s.destroy();
    await pool.close(100);
    server.close();
  }
});
