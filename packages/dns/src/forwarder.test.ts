import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import dnsPacket, { type DecodedPacket } from 'dns-packet';
import { DnsForwardError } from './errors.ts';
import { type ForwardRequest, SystemForwarder } from './forwarder.ts';
import { parseQuery } from './message.ts';
import { dnsQuery, TestDnsServer } from './testing/index.ts';

type Decoded = DecodedPacket & { rcode: string };
const decode = (b: Buffer): Decoded => dnsPacket.decode(b) as Decoded;

function request(
  name: string,
  type = 'A',
  o: { id?: number; edns?: number; maxSize?: number } = {},
): ForwardRequest {
  const query = dnsQuery({ name, type, id: o.id ?? 4242, ...(o.edns !== undefined ? { edns: o.edns } : {}) });
  const p = parseQuery(query);
  assert.ok(p.query);
  return { query, id: p.query.id, question: p.query.question, maxSize: o.maxSize ?? 512 };
}

/** A UDP port with nothing behind it (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('SystemForwarder', () => {
  let up: TestDnsServer;
  before(async () => {
    up = await TestDnsServer.start();
  });
  after(() => up.close());
  const fwd = (o: Partial<ConstructorParameters<typeof SystemForwarder>[0]> = {}) =>
    new SystemForwarder({ servers: [{ host: up.host, port: up.port }], ...o });

  test('UDP: the answer comes back with the client id; the upstream saw the query as sent, its id aside', async () => {
    up.set('fwd.example', 'A', ['192.0.2.1']);
    up.script(undefined);
    const before = up.queries.length;
    const req = request('fwd.example', 'A', { id: 777, edns: 1232 });
    const answer = await fwd().forward(req);
    const r = decode(answer);
    assert.equal(r.id, 777);
    assert.deepEqual(
      r.answers?.map((a) => (a as { data: string }).data),
      ['192.0.2.1'],
    );
    const seen = up.queries.slice(before);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.protocol, 'udp');
    // Byte for byte the client's query, apart from the id.
    assert.deepEqual(seen[0]?.raw.subarray(2), req.query.subarray(2));
  });

  test('the upstream answer is relayed unchanged apart from the id (MX, TXT, SRV, NXDOMAIN)', async () => {
    up.set('mail.example', 'MX', [
      {
        type: 'MX',
        name: 'mail.example',
        ttl: 5,
        class: 'IN',
        data: { preference: 10, exchange: 'mx1.example' },
      },
    ]);
    up.set('txt.example', 'TXT', [
      { type: 'TXT', name: 'txt.example', ttl: 5, class: 'IN', data: ['hello'] },
    ]);
    up.set('_x._tcp.example', 'SRV', [
      {
        type: 'SRV',
        name: '_x._tcp.example',
        ttl: 5,
        class: 'IN',
        data: { priority: 1, weight: 2, port: 3, target: 't.example' },
      },
    ]);
    up.script(undefined);
    for (const [name, type] of [
      ['mail.example', 'MX'],
      ['txt.example', 'TXT'],
      ['_x._tcp.example', 'SRV'],
      ['nothing.example', 'A'],
    ] as const) {
      const req = request(name, type, { id: 31 });
      const answer = await fwd().forward(req);
      const r = decode(answer);
      assert.equal(r.id, 31);
      assert.equal(r.questions?.[0]?.type, type);
      if (name === 'nothing.example') assert.equal(r.rcode, 'NXDOMAIN');
      else assert.equal(r.answers?.[0]?.type, type);
    }
  });

  test('byte for byte: the answer is exactly what the upstream sent, with the id restored', async () => {
    const crafted = (q: { id: number }) => {
      const b = dnsPacket.encode({
        id: q.id,
        type: 'response',
        flags: dnsPacket.RECURSION_AVAILABLE | dnsPacket.AUTHENTIC_DATA,
        questions: [{ name: 'exact.example', type: 'A', class: 'IN' }],
        answers: [{ type: 'A', name: 'exact.example', ttl: 1234, class: 'IN', data: '198.51.100.7' }],
        authorities: [{ type: 'NS', name: 'example', ttl: 99, class: 'IN', data: 'ns.example' }],
      });
      return b;
    };
    let sent: Buffer | undefined;
    up.script(() => ({
      raw: (rq) => {
        sent = crafted(rq);
        return sent;
      },
    }));
    const answer = await fwd().forward(request('exact.example', 'A', { id: 9 }));
    up.script(undefined);
    assert.ok(sent);
    assert.deepEqual(answer.subarray(2), sent.subarray(2));
    assert.equal(answer.readUInt16BE(0), 9);
  });

  test('truncated over UDP: asked again over TCP, and the whole answer returned when it fits', async () => {
    const ips = Array.from({ length: 100 }, (_, i) => `10.1.0.${i}`);
    up.set('many.example', 'A', ips);
    // The upstream caps UDP at 1232 (flag-day default); the client takes 4096.
    const answer = await fwd().forward(request('many.example', 'A', { edns: 4096, maxSize: 4096 }));
    const r = decode(answer);
    assert.equal(r.flag_tc, false);
    assert.equal(r.answers?.length, 100);
    assert.equal(up.count('many.example', 'tcp'), 1);
    assert.ok(up.count('many.example', 'udp') >= 1);
  });

  test("truncated, and the whole answer exceeds the client's size: the upstream's TC answer (the client retries over TCP)", async () => {
    const answer = await fwd().forward(request('many.example', 'A', { maxSize: 512 }));
    const r = decode(answer);
    assert.equal(r.flag_tc, true);
    assert.ok(answer.length <= 512);
  });

  test('a TCP client gets the whole answer after TC', async () => {
    const answer = await fwd().forward(request('many.example', 'A', { maxSize: 0xffff }));
    assert.equal(decode(answer).answers?.length, 100);
  });

  test('stray answers (another id) are ignored; the real one is taken', async () => {
    up.set('stray.example', 'A', ['192.0.2.9']);
    up.script((q) => (q.name === 'stray.example' ? { strayFirst: true } : undefined));
    const answer = await fwd().forward(request('stray.example', 'A', { id: 55 }));
    up.script(undefined);
    assert.equal(decode(answer).answers?.[0]?.type, 'A');
  });

  test('deadline: a silent upstream fails with a timeout within the deadline', async () => {
    up.script(() => ({ drop: true }));
    const t0 = Date.now();
    await assert.rejects(
      fwd({ timeoutMs: 300, attemptTimeoutMs: 100 }).forward(request('silent.example')),
      (e: unknown) => {
        assert.ok(e instanceof DnsForwardError);
        assert.equal(e.reason, 'timeout');
        assert.equal(e.code, 'ERR_ZT_DNS_FORWARD_TIMEOUT');
        return true;
      },
    );
    const took = Date.now() - t0;
    assert.ok(took >= 190 && took < 1000, `took ${took} ms`);
    // A lost datagram is retried: two attempts (attempts: 2 per server).
    assert.equal(up.count('silent.example'), 2);
    up.script(undefined);
  });

  test('a slow upstream answering within the deadline is fine', async () => {
    up.set('slow.example', 'A', ['192.0.2.3']);
    up.script((q) => (q.name === 'slow.example' ? { delayMs: 150 } : undefined));
    const answer = await fwd({ timeoutMs: 1000, attemptTimeoutMs: 1000 }).forward(request('slow.example'));
    up.script(undefined);
    assert.equal(decode(answer).answers?.length, 1);
  });

  test('a malformed upstream answer (right id, garbage after) fails as malformed, at once', async () => {
    up.script(() => ({
      raw: (rq) =>
        Buffer.concat([
          Buffer.from([rq.id >> 8, rq.id & 255, 0x81, 0x80, 0, 1, 0, 1]),
          Buffer.from('garbage!'),
        ]),
    }));
    const t0 = Date.now();
    await assert.rejects(fwd({ timeoutMs: 3000 }).forward(request('garbage.example')), (e: unknown) => {
      assert.ok(e instanceof DnsForwardError);
      assert.equal(e.reason, 'malformed');
      return true;
    });
    assert.ok(Date.now() - t0 < 1000, 'no waiting for the deadline');
    up.script(undefined);
  });

  test('an unreachable server is skipped for the next one', async () => {
    const dead = await deadPort();
    up.set('second.example', 'A', ['192.0.2.2']);
    const f = new SystemForwarder({
      servers: [
        { host: '127.0.0.1', port: dead },
        { host: up.host, port: up.port },
      ],
    });
    const answer = await f.forward(request('second.example'));
    assert.equal(decode(answer).answers?.length, 1);
  });

  test('every server unreachable: an unreachable error without waiting for the deadline', async () => {
    const f = new SystemForwarder({
      servers: [{ host: '127.0.0.1', port: await deadPort() }],
      timeoutMs: 5000,
    });
    const t0 = Date.now();
    await assert.rejects(
      f.forward(request('x.example')),
      (e: unknown) => e instanceof DnsForwardError && e.reason === 'unreachable',
    );
    assert.ok(Date.now() - t0 < 1000);
  });

  test('TCP: a server that closes without answering', async () => {
    const srv = createServer((s) => s.end());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    const f = new SystemForwarder({ servers: [{ host: '127.0.0.1', port }], tcpOnly: true });
    await assert.rejects(
      f.forward(request('x.example')),
      (e: unknown) => e instanceof DnsForwardError && e.reason === 'unreachable',
    );
    srv.close();
  });

  test('tcpOnly (options use-vc) goes straight to TCP', async () => {
    up.set('vc.example', 'A', ['192.0.2.4']);
    await fwd({ tcpOnly: true }).forward(request('vc.example'));
    assert.equal(up.count('vc.example', 'tcp'), 1);
    assert.equal(up.count('vc.example', 'udp'), 0);
  });

  test('abort: a closing proxy ends forwards at once', async () => {
    up.script(() => ({ drop: true }));
    const ac = new AbortController();
    const p = fwd({ timeoutMs: 5000 }).forward({ ...request('abort.example'), signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(p, (e: unknown) => e instanceof DnsForwardError && e.reason === 'closed');
    up.script(undefined);
  });

  test('fromResolvConf: nameservers, search, options; per-client Kubernetes search by default', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zt-dns-fwd-'));
    const path = join(dir, 'resolv.conf');
    writeFileSync(
      path,
      'nameserver 127.0.0.1\nnameserver ::1\nsearch corp.example\noptions timeout:3 attempts:1\n',
    );
    const f = SystemForwarder.fromResolvConf({ path, port: 5353, clusterDomain: 'cluster.local' });
    const client = { name: 'c', namespace: 'team', network: '', canonicalName: 'c', canonicalRevision: 'v1' };
    assert.deepEqual(f.searchDomains(client), [
      'team.svc.cluster.local',
      'svc.cluster.local',
      'cluster.local',
    ]);
    const d = f.dump();
    assert.deepEqual(d.dnsResolverCfg.name_servers, [
      { socket_addr: '127.0.0.1:5353', protocol: 'udp' },
      { socket_addr: '127.0.0.1:5353', protocol: 'tcp' },
      { socket_addr: '[::1]:5353', protocol: 'udp' },
      { socket_addr: '[::1]:5353', protocol: 'tcp' },
    ]);
    // timeout:3, but at most half the 5 s deadline, so a lost datagram gets a second try.
    assert.deepEqual(d.dnsResolverOpts, { timeout: 2.5, attempts: 1, ndots: 1, use_tcp: false });
    assert.equal(d.source, path);
    const dedicated = SystemForwarder.fromResolvConf({ path, perClientSearch: false });
    assert.deepEqual(dedicated.searchDomains(client), ['corp.example']);
  });
});
