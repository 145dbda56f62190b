import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as h2connect } from 'node:http2';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { after, before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { Identity, type WorkloadCertificate } from '@zt/identity';
import { TestCa } from '@zt/identity/testing';
import { HboneConnection } from './client.ts';
import { HboneConnectionError, PeerIdentityMismatchError } from './errors.ts';
import { metrics } from './metrics.ts';
import { HbonePool } from './pool.ts';
import { HboneServer } from './server.ts';
import { type HbonePair, startHbonePair } from './testing/index.ts';

let pair: HbonePair;
const errors: Error[] = [];

before(async () => {
  pair = await startHbonePair({
    server: {
      onError: (e) => errors.push(e),
      onTunnel: (t) => t.accept().end('served').resume(),
    },
  });
});
after(() => pair.close());

function dial(certificate: WorkloadCertificate, expected = [pair.serverIdentity]) {
  return HboneConnection.dial({ certificate, expectedIdentities: expected, address: pair.address });
}

/** Dials with `cert` and tries one tunnel; resolves with what the server answered or the error. */
async function tryTunnel(certificate: WorkloadCertificate): Promise<string> {
  const conn = await dial(certificate);
  try {
    const t = await conn.open({ authority: '10.0.0.1:80' });
    t.end();
    let got = '';
    for await (const c of t) got += c;
    return got;
  } finally {
    conn.destroy();
  }
}

test('a client with a valid certificate in our trust domain is served', async () => {
  assert.equal(await tryTunnel(pair.clientCert), 'served');
});

test('client side: a server identity other than the expected ones is refused', async () => {
  const other = new Identity('cluster.local', 'default', 'someone-else');
  await assert.rejects(dial(pair.clientCert, [other]), (e: unknown) => {
    assert.ok(e instanceof PeerIdentityMismatchError, String(e));
    assert.equal(e.code, 'ERR_ZT_HBONE_PEER_IDENTITY');
    assert.match(e.message, /someone-else/);
    return true;
  });
});

test('server side: a client identity from a foreign trust domain is refused', async () => {
  const foreign = await pair.ca.issue('spiffe://cluster.local/ns/x/sa/y', {
    uris: ['spiffe://evil.example/ns/default/sa/client'],
  });
  const before = errors.length;
  const failed = async () =>
    (await metrics.connectionsFailed.get()).values.find(
      (v) => v.labels.side === 'server' && v.labels.reason === 'identity',
    )?.value ?? 0;
  const countBefore = await failed();
  await assert.rejects(tryTunnel(foreign));
  assert.ok(errors.slice(before).some((e) => /trust domain "cluster.local"/.test(e.message)));
  assert.equal(await failed(), countBefore + 1, 'counted in zt_hbone_connections_failed_total');
});

test('server side: a client certificate from an untrusted root is refused', async () => {
  const otherCa = await TestCa.create();
  const untrusted = await otherCa.issue(pair.clientIdentity);
  await assert.rejects(tryTunnel(untrusted));
});

test('client side: a server certificate from an untrusted root is refused', async () => {
  const otherCa = await TestCa.create();
  const mine = await otherCa.issue(pair.clientIdentity);
  // Our trust bundle is the other root: the real server's chain does not verify.
  await assert.rejects(dial(mine), HboneConnectionError);
});

test('server side: an expired client certificate is refused', async () => {
  const expired = await pair.ca.issue(pair.clientIdentity, {
    notBefore: new Date(Date.now() - 7200_000),
    notAfter: new Date(Date.now() - 3600_000),
  });
  await assert.rejects(tryTunnel(expired));
});

test('server side: a client without a certificate is refused', async () => {
  const s = tlsConnect({
    host: pair.address.address,
    port: pair.address.port,
    ca: pair.ca.rootPem,
    ALPNProtocols: ['h2'],
    checkServerIdentity: () => undefined,
  });
  // TLS 1.3: the client finishes its handshake first; the server's refusal arrives right after.
  const [err] = (await once(s, 'error')) as [Error];
  assert.match(err.message, /certificate required/);
});

test('plaintext HTTP/2 (h2c) is refused', async () => {
  const session = h2connect(`http://${pair.address.address}:${pair.address.port}`);
  session.on('error', () => {});
  const req = session.request({ ':method': 'CONNECT', ':authority': '10.0.0.1:80' });
  req.on('error', () => {});
  let answered = false;
  req.on('response', () => {
    answered = true;
  });
  await once(session, 'close');
  assert.equal(answered, false);
});

test('HTTP/1.1 over TLS (ALPN http/1.1) is refused', async () => {
  const s = tlsConnect({
    host: pair.address.address,
    port: pair.address.port,
    ca: pair.ca.rootPem,
    cert: pair.clientCert.certChain.join('\n'),
    key: pair.clientCert.privateKey,
    ALPNProtocols: ['http/1.1'],
    checkServerIdentity: () => undefined,
  });
  const [err] = (await once(s, 'error').catch((e: unknown) => [e])) as [NodeJS.ErrnoException];
  assert.match(String(err.code ?? err.message), /ALPN|NO_APPLICATION_PROTOCOL|ECONNRESET/i);
});

test('TLS 1.2 is refused by default and accepted with tls12Enabled', async () => {
  const t12 = { host: pair.address.address, maxVersion: 'TLSv1.2' as const };
  const attempt = (port: number) =>
    new Promise<string>((resolve, reject) => {
      const s = tlsConnect({
        ...t12,
        port,
        ca: pair.ca.rootPem,
        cert: pair.clientCert.certChain.join('\n'),
        key: pair.clientCert.privateKey,
        ALPNProtocols: ['h2'],
        checkServerIdentity: () => undefined,
      });
      s.once('secureConnect', () => {
        resolve(String(s.getProtocol()));
        s.destroy();
      });
      s.once('error', reject);
    });
  await assert.rejects(attempt(pair.address.port), /version|protocol/i);
  const server12 = new HboneServer({
    certificateFor: async () => pair.serverCert,
    onTunnel: (t) => t.reject(503),
    tls12Enabled: true,
  });
  const addr = await server12.listen();
  try {
    assert.equal(await attempt(addr.port), 'TLSv1.2');
  } finally {
    await server12.close(100);
  }
});

test('the certificate is chosen by the local address the client dialed', async () => {
  const a = new Identity('cluster.local', 'ns-a', 'sa-a');
  const b = new Identity('cluster.local', 'ns-b', 'sa-b');
  const [certA, certB] = await Promise.all([pair.ca.issue(a), pair.ca.issue(b)]);
  const seen: string[] = [];
  const server = new HboneServer({
    certificateFor: async (local) => {
      seen.push(local.address);
      return local.address === '127.0.0.2' ? certB : certA;
    },
    onTunnel: (t) => t.accept().end(String(t.localIdentity)).resume(),
  });
  // One listener on all loopback addresses; 127.0.0.1 and 127.0.0.2 reach it with no SNI.
  const { port } = await server.listen(0, '0.0.0.0');
  try {
    for (const [ip, id] of [
      ['127.0.0.1', a],
      ['127.0.0.2', b],
    ] as const) {
      const conn = await HboneConnection.dial({
        certificate: pair.clientCert,
        expectedIdentities: [id],
        address: { address: ip, port },
      });
      assert.equal(String(conn.peerIdentity), String(id));
      const t = await conn.open({ authority: '10.0.0.1:80' });
      t.end();
      let got = '';
      for await (const c of t) got += c;
      assert.equal(got, String(id));
      conn.destroy();
    }
    assert.deepEqual(seen, ['127.0.0.1', '127.0.0.2']);
  } finally {
    await server.close(100);
  }
});

test('attach() serves a listener the caller owns; non-CONNECT methods get 405', async () => {
  const { createServer } = await import('node:net');
  const listener = createServer();
  const server = new HboneServer({
    certificateFor: async () => pair.serverCert,
    onTunnel: (t) => t.accept().end('attached').resume(),
  });
  server.attach(listener);
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const port = (listener.address() as { port: number }).port;
  try {
    const session = h2connect(`https://127.0.0.1:${port}`, {
      ca: pair.ca.rootPem,
      cert: pair.clientCert.certChain.join('\n'),
      key: pair.clientCert.privateKey,
      checkServerIdentity: () => undefined,
    });
    const req = session.request({ ':method': 'GET', ':path': '/' });
    const [headers] = await once(req, 'response');
    assert.equal(headers[':status'], 405);
    req.resume();
    session.destroy();
  } finally {
    await server.close(100);
    listener.close();
  }
});

test('close() sends GOAWAY and lets an open tunnel finish within the deadline', async () => {
  let serverSide: import('node:stream').Duplex | undefined;
  const server = new HboneServer({
    certificateFor: async () => pair.serverCert,
    onTunnel: (t) => {
      serverSide = t.accept();
      serverSide.resume();
    },
  });
  const address = await server.listen();
  const conn = await HboneConnection.dial({
    certificate: pair.clientCert,
    expectedIdentities: [pair.serverIdentity],
    address,
  });
  const t = await conn.open({ authority: '10.0.0.1:80' });
  const closed = server.close(5000);
  await once(conn, 'state');
  assert.equal(conn.state.t, 'draining');
  // The open tunnel still works both ways after GOAWAY.
  serverSide?.end('after goaway');
  t.end();
  let got = '';
  for await (const c of t) got += c;
  assert.equal(got, 'after goaway');
  await closed;
  assert.equal(server.stats.sessions, 0);
  // The listener is closed: new connections are refused.
  await assert.rejects(
    HboneConnection.dial({
      certificate: pair.clientCert,
      expectedIdentities: [pair.serverIdentity],
      address,
    }),
  );
});

// A rolling update: the old zt's server drains while a client's TLS handshake with it is under
// way, and the next zt's server takes the same listener. The client must not lose its connection:
// its handshake completes, the GOAWAY that follows refuses its CONNECT unprocessed, and the pool
// sends it again, to the next server.
test('a handshake under way when close() begins ends in a refusal the pool retries, not a reset', async () => {
  const listener = createNetServer();
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const address = { address: '127.0.0.1', port: (listener.address() as AddressInfo).port };
  let releaseCert: () => void = () => {};
  const certHeld = new Promise<void>((r) => {
    releaseCert = r;
  });
  let handshaking: () => void = () => {};
  const arrived = new Promise<void>((r) => {
    handshaking = r;
  });
  const old = new HboneServer({
    certificateFor: async () => {
      handshaking();
      await certHeld;
      return pair.serverCert;
    },
    onTunnel: (t) => t.accept().end('from the old server').resume(),
  });
  const next = new HboneServer({
    certificateFor: async () => pair.serverCert,
    onTunnel: (t) => t.accept().end('from the next server').resume(),
  });
  old.attach(listener);
  const pool = new HbonePool({ certs: pair.certs });
  try {
    const opened = pool.open({
      source: pair.clientIdentity,
      destinationIdentities: [pair.serverIdentity],
      address,
      authority: '10.0.0.1:80',
    });
    await arrived;
    const closed = old.close(2000);
    next.attach(listener);
    releaseCert();
    const t = await opened;
    t.end();
    let got = '';
    for await (const c of t) got += c;
    assert.equal(got, 'from the next server');
    await closed;
  } finally {
    await pool.close(100);
    await next.close(100);
    listener.close();
  }
});
