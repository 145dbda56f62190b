import assert from 'node:assert/strict';
import { once } from 'node:events';
import { constants } from 'node:http2';
import type { Duplex } from 'node:stream';
import { after, before, test } from 'node:test';
import { HboneConnectError, StreamResetError } from './errors.ts';
import type { InboundTunnel } from './server.ts';
import { forwardTunnel, type HbonePair, startEchoServer, startHbonePair } from './testing/index.ts';

let pair: HbonePair;
let handler: (t: InboundTunnel) => void = forwardTunnel;

before(async () => {
  pair = await startHbonePair({ server: { onTunnel: (t) => handler(t) } });
});
after(() => pair.close());

function open(authority: string, headers?: Record<string, string>) {
  return pair.pool.open({
    source: pair.clientIdentity,
    destinationIdentities: [pair.serverIdentity],
    address: pair.address,
    authority,
    ...(headers ? { headers } : {}),
  });
}

async function readAll(s: Duplex): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

test('the server sees identity, authority, addresses and trace headers', async () => {
  let seen: InboundTunnel | undefined;
  handler = (t) => {
    seen = t;
    t.accept().end('ok').resume();
  };
  const s = await open('10.1.2.3:8080', {
    baggage: 'k8s.namespace.name=default',
    forwarded: 'for=10.0.0.1',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  });
  s.end();
  assert.equal(await readAll(s), 'ok');
  assert.ok(seen);
  assert.equal(String(seen.peerIdentity), 'spiffe://cluster.local/ns/default/sa/client');
  assert.equal(String(seen.localIdentity), 'spiffe://cluster.local/ns/default/sa/server');
  assert.deepEqual(seen.authority, { address: '10.1.2.3', port: 8080, family: 4 });
  assert.deepEqual(seen.local, pair.address);
  assert.equal(seen.remote.address, '127.0.0.1');
  assert.equal(seen.baggage, 'k8s.namespace.name=default');
  assert.equal(seen.forwarded, 'for=10.0.0.1');
  assert.equal(seen.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
});

test('IPv6 authorities are accepted in brackets', async () => {
  let authority: unknown;
  handler = (t) => {
    authority = t.authority;
    t.accept().end().resume();
  };
  const s = await open('[fd00::1]:443');
  s.end();
  await readAll(s);
  assert.deepEqual(authority, { address: 'fd00::1', port: 443, family: 6 });
});

test('service hostname authorities reach the handler, as upstream accepts them', async () => {
  let authority: unknown;
  handler = (t) => {
    authority = t.authority;
    t.accept().end().resume();
  };
  const s = await open('Echo.Default.svc.cluster.local:80');
  s.end();
  await readAll(s);
  assert.deepEqual(authority, { hostname: 'echo.default.svc.cluster.local', port: 80 });
});

test('a malformed hostname authority is answered 400 before the handler sees it', async () => {
  let called = false;
  handler = (t) => {
    called = true;
    t.reject(503);
  };
  await assert.rejects(open('bad_host-.example:80'), (e: unknown) => {
    assert.ok(e instanceof HboneConnectError);
    assert.equal(e.status, 400);
    return true;
  });
  assert.equal(called, false);
});

for (const status of [401, 503, 400] as const) {
  test(`a ${status} answer rejects with HboneConnectError carrying it`, async () => {
    handler = (t) => t.reject(status);
    await assert.rejects(open('10.0.0.1:80'), (e: unknown) => {
      assert.ok(e instanceof HboneConnectError);
      assert.equal(e.status, status);
      assert.equal(e.code, 'ERR_ZT_HBONE_CONNECT_STATUS');
      return true;
    });
  });
}

test('a malformed :authority gets 400 without reaching the handler', async () => {
  let called = false;
  handler = (t) => {
    called = true;
    t.accept().end().resume();
  };
  for (const bad of [
    'example.com:0',
    'ex%61mple.com:80',
    'example.com',
    '10.0.0.1',
    '10.0.0.1:0',
    '10.0.0.1:99999',
    'fd00::1:80',
    '[10.0.0.1]:80',
  ]) {
    await assert.rejects(open(bad), (e: unknown) => e instanceof HboneConnectError && e.status === 400, bad);
  }
  assert.equal(called, false);
});

test('half-close: client FIN reaches the upstream, which keeps writing, and vice versa', async () => {
  handler = (t) => {
    const s = t.accept();
    // Upstream side: read everything the client sent, then answer after its END_STREAM.
    readAll(s).then((got) => s.end(`got ${got.length} bytes: ${got}`));
  };
  const s = await open('10.0.0.1:80');
  s.write('ping ');
  s.end('pong');
  assert.equal(await readAll(s), 'got 9 bytes: ping pong');

  // Server ends first; the client can still send, and the server still receives.
  let serverGot: Promise<string> | undefined;
  handler = (t) => {
    const st = t.accept();
    st.end('bye');
    serverGot = readAll(st);
  };
  const s2 = await open('10.0.0.1:80');
  assert.equal(await readAll(s2), 'bye');
  s2.end('still here');
  assert.equal(await serverGot, 'still here');
});

test('echo through a real TCP upstream', async () => {
  const echo = await startEchoServer();
  handler = forwardTunnel;
  try {
    const s = await open(`127.0.0.1:${echo.address.port}`);
    s.end('hello through HBONE');
    assert.equal(await readAll(s), 'hello through HBONE');
  } finally {
    await echo.close();
  }
});

test('an unreachable upstream answers 503', async () => {
  handler = forwardTunnel;
  await assert.rejects(
    open('127.0.0.1:1'),
    (e: unknown) => e instanceof HboneConnectError && e.status === 503,
  );
});

test('a reset by the server destroys the client stream with an error naming the HTTP/2 code', async () => {
  handler = (t) => {
    const s = t.accept();
    s.write('partial');
    setTimeout(() => s.reset('upstream reset'), 50);
  };
  const s = await open('10.0.0.1:80');
  let got = '';
  s.on('data', (c: Buffer) => {
    got += c;
  });
  await assert.rejects(once(s, 'end'), (e: unknown) => {
    assert.ok(e instanceof StreamResetError, String(e));
    assert.equal(e.http2Code, constants.NGHTTP2_INTERNAL_ERROR);
    assert.equal(e.code, 'ERR_ZT_HBONE_STREAM_RESET');
    return true;
  });
  assert.equal(got, 'partial');
  assert.ok(s.destroyed);
});

test('a reset by the client reaches the server stream', async () => {
  let server: Duplex | undefined;
  const arrived = new Promise<void>((resolve) => {
    handler = (t) => {
      server = t.accept();
      server.once('data', () => resolve());
    };
  });
  const s = await open('10.0.0.1:80');
  s.write('x');
  await arrived;
  s.on('error', () => {});
  s.destroy(new Error('local socket reset'));
  assert.ok(server);
  await assert.rejects(readAll(server), (e: unknown) => e instanceof StreamResetError && e.http2Code === 2);
});
