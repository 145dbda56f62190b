import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, isIPv6, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { parseIp } from '@zt/xds';
import fc from 'fast-check';
import { negotiateSocks5, parseGreeting, parseRequest, SOCKS_REPLY } from './socks5.ts';

function encodeRequest(address: string, port: number): Buffer {
  const ip = parseIp(address);
  if (!ip) throw new Error('bad ip');
  const bytes = ip.family === 4 ? 4 : 16;
  const addr = Buffer.alloc(bytes);
  let v = ip.value;
  for (let i = bytes - 1; i >= 0; i--) {
    addr[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return Buffer.concat([
    Buffer.from([5, 1, 0, ip.family === 4 ? 1 : 4]),
    addr,
    Buffer.from([port >> 8, port & 0xff]),
  ]);
}

// ZT_LONG=1 (the reliability suite's long variant) runs 10^5 cases per property.
const RUNS = process.env['ZT_LONG'] === '1' ? 100_000 : 200;
describe('SOCKS5 parser', () => {
  test('greeting: no-auth accepted, others refused', () => {
    assert.deepEqual(parseGreeting(Buffer.from([5, 2, 2, 0])), {
      kind: 'ok',
      value: { methods: [2, 0] },
      consumed: 4,
    });
    assert.equal(parseGreeting(Buffer.from([5, 1, 2])).kind, 'error');
    assert.equal(parseGreeting(Buffer.from([4, 1, 0])).kind, 'error');
    assert.equal(parseGreeting(Buffer.from([5, 0])).kind, 'error');
    assert.equal(parseGreeting(Buffer.from([5, 3, 0])).kind, 'need-more');
  });
  test('request: BIND, UDP and domain names are refused with command-not-supported', () => {
    const bind = parseRequest(Buffer.from([5, 2, 0, 1, 1, 2, 3, 4, 0, 80]));
    assert.deepEqual(bind.kind === 'error' && bind.reply, SOCKS_REPLY.commandNotSupported);
    const dom = parseRequest(Buffer.from([5, 1, 0, 3, 3, 97, 98, 99, 0, 80]));
    assert.equal(dom.kind, 'error');
    assert.equal(parseRequest(Buffer.from([5, 1, 0, 9, 0, 0])).kind, 'error');
  });
  test('property: IPv4/IPv6 requests round-trip in canonical form; every prefix needs more', () => {
    const arbAddr = fc.oneof(
      fc.ipV4(),
      fc.ipV6().map((a) => a.toLowerCase()),
    );
    fc.assert(
      fc.property(
        arbAddr,
        fc.integer({ min: 0, max: 65535 }),
        fc.uint8Array({ maxLength: 8 }),
        (address, port, trailing) => {
          const req = encodeRequest(address, port);
          const r = parseRequest(Buffer.concat([req, trailing]));
          assert.equal(r.kind, 'ok');
          if (r.kind !== 'ok') return;
          assert.equal(r.consumed, req.length);
          assert.equal(r.value.port, port);
          assert.equal(parseIp(r.value.address)?.value, parseIp(address)?.value);
          if (isIPv6(r.value.address)) assert.doesNotMatch(r.value.address, /(^|:)0+[0-9a-f]/);
          for (let i = 0; i < req.length; i++)
            assert.equal(parseRequest(req.subarray(0, i)).kind, 'need-more');
        },
      ),
      { numRuns: RUNS },
    );
  });
  test('property: arbitrary bytes never throw and never over-consume', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        for (const r of [parseGreeting(bytes), parseRequest(bytes)]) {
          if (r.kind === 'ok') assert.ok(r.consumed <= bytes.length);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('negotiateSocks5 over a socket', () => {
  async function pair(): Promise<{ client: Socket; server: Socket; close: () => void }> {
    const srv = createServer();
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const addr = srv.address() as { port: number };
    const client = connect(addr.port, '127.0.0.1');
    const [server] = (await once(srv, 'connection')) as [Socket];
    return {
      client,
      server,
      close: () => {
        client.destroy();
        server.destroy();
        srv.close();
      },
    };
  }
  test('handshake in byte-sized pieces, pipelined data preserved', async () => {
    const { client, server, close } = await pair();
    const got = negotiateSocks5(server);
    const all = Buffer.concat([
      Buffer.from([5, 1, 0]),
      encodeRequest('10.1.2.3', 8080),
      Buffer.from('hello'),
    ]);
    for (const b of all) client.write(Buffer.from([b]));
    assert.deepEqual(await got, { address: '10.1.2.3', port: 8080 });
    server.resume();
    const [data] = (await once(server, 'data')) as [Buffer];
    assert.match(data.toString(), /^h/);
    close();
  });
  test('bad version: error reply written, promise rejects', async () => {
    const { client, server, close } = await pair();
    const got = negotiateSocks5(server);
    const replyP = once(client, 'data');
    client.write(Buffer.from([5, 1, 0]));
    client.write(Buffer.from([5, 3, 0, 1, 1, 2, 3, 4, 0, 80]));
    await assert.rejects(got, { code: 'ERR_ZT_PROXY_SOCKS5' });
    const chunks: Buffer[] = [((await replyP) as [Buffer])[0]];
    const all = Buffer.concat(chunks);
    assert.deepEqual([...all.subarray(0, 2)], [5, 0]);
    close();
  });
});

describe('SOCKS5 failures name a stable reason', () => {
  const cases: Array<[string, Buffer, string, 'greeting' | 'request']> = [
    ['SOCKS4 greeting', Buffer.from([4, 1, 0]), 'socks5-version', 'greeting'],
    ['zero methods', Buffer.from([5, 0]), 'socks5-auth', 'greeting'],
    ['no no-auth method', Buffer.from([5, 1, 2]), 'socks5-auth', 'greeting'],
    ['BIND', Buffer.from([5, 2, 0, 1, 1, 2, 3, 4, 0, 80]), 'socks5-command', 'request'],
    ['UDP ASSOCIATE', Buffer.from([5, 3, 0, 1, 1, 2, 3, 4, 0, 80]), 'socks5-command', 'request'],
    ['request version 4', Buffer.from([4, 1, 0, 1, 1, 2, 3, 4, 0, 80]), 'socks5-version', 'request'],
    ['zero-length domain', Buffer.from([5, 1, 0, 3, 0, 0, 80]), 'socks5-address', 'request'],
    ['address type 9', Buffer.from([5, 1, 0, 9, 0, 0]), 'socks5-address', 'request'],
  ];
  for (const [label, bytes, reason, stage] of cases)
    test(label, () => {
      const r = stage === 'greeting' ? parseGreeting(bytes) : parseRequest(bytes);
      assert.equal(r.kind, 'error');
      if (r.kind !== 'error') return;
      assert.equal(r.reason, reason);
      assert.equal(r.reply, SOCKS_REPLY.commandNotSupported, 'upstream answers 7 to every protocol error');
    });

  test('a truncated handshake rejects with socks5-truncated', async () => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const client = connect((srv.address() as { port: number }).port, '127.0.0.1');
    const [server] = (await once(srv, 'connection')) as [Socket];
    const got = negotiateSocks5(server);
    client.end(Buffer.from([5, 1, 0, 5, 1]));
    await assert.rejects(got, { code: 'ERR_ZT_PROXY_SOCKS5', reason: 'socks5-truncated' });
    client.destroy();
    server.destroy();
    srv.close();
  });
});
