// Bad input and the caps, over real sockets: each case is one counted rejection (a
// zt_dns_rejected_total reason), at most one warning line, no crash, and the proxy still answers.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { ztLogger } from '@zt/log';
import { registry } from '@zt/metrics';
import { parseExposition, sumOf } from '@zt/metrics/testing';
import { ProxyState, type StateSnapshot } from '@zt/xds';
import { makeService, makeWorkload } from '@zt/xds/testing';
import dnsPacket, { type DecodedPacket } from 'dns-packet';
import fc from 'fast-check';
import { SystemForwarder } from './forwarder.ts';
import type { DnsLimits } from './limits.ts';
import { type DnsMetrics, dnsMetrics } from './metrics.ts';
import { type DnsListener, DnsProxy } from './proxy.ts';
import { dnsQuery, framed, sendTcp, sendUdp, TestDnsServer } from './testing/index.ts';
import { dnsStateOf } from './xds-state.ts';

type Decoded = DecodedPacket & { rcode: string };
const decode = (b: Buffer): Decoded => dnsPacket.decode(b) as Decoded;
const rejected = async (reason: string): Promise<number> =>
  sumOf(parseExposition(await registry.metrics()), 'zt_dns_rejected_total', { reason });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function snap(): StateSnapshot {
  return {
    version: 1,
    services: [
      makeService({ name: 'echo', namespace: 'backend', vips: [{ network: '', address: '10.96.0.20' }] }),
    ],
    workloads: [makeWorkload({ name: 'sleep', namespace: 'backend', workloadIps: ['127.0.0.1'] })],
    policies: [],
  };
}

interface H {
  up: TestDnsServer;
  proxy: DnsProxy;
  l: DnsListener;
  warnings: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

async function harness(limits: Partial<DnsLimits> = {}, timeoutMs = 1000): Promise<H> {
  const up = await TestDnsServer.start();
  up.set('example.org', 'A', ['93.184.216.34']);
  const warnings: Array<Record<string, unknown>> = [];
  const logger = ztLogger('warn', 'json', {
    write: (line: string) => {
      warnings.push(JSON.parse(line));
    },
  });
  const state = new ProxyState(snap());
  const proxy = new DnsProxy({
    state: () => dnsStateOf(state),
    forwarder: new SystemForwarder({
      servers: [{ host: up.host, port: up.port }],
      timeoutMs,
      attemptTimeoutMs: timeoutMs,
    }),
    logger,
    limits,
  });
  const l = await proxy.listen({ host: '127.0.0.1', port: 0 });
  return {
    up,
    proxy,
    l,
    warnings,
    close: async () => {
      await proxy.close();
      await up.close();
    },
  };
}

async function stillAnswers(h: H): Promise<void> {
  const r = await sendUdp('127.0.0.1', h.l.udp.port, dnsQuery({ name: 'echo.backend' }));
  assert.ok(r, 'the proxy still answers');
  assert.equal(decode(r).answers?.length, 1);
}

function header(qd: number, flags = 0x0100): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(0xbeef, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  return h;
}
const typeIn = Buffer.from([0, 1, 0, 1]);
const label = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]);

describe('bad UDP input', () => {
  // A proxy per case: its warning throttle starts fresh, so each case shows its own line.
  let h: H;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(() => h.close());

  const cases: Array<{ name: string; msg: Buffer; reason: string; rcode?: string }> = [
    {
      name: 'a truncated packet (shorter than a header)',
      msg: Buffer.from([0xbe, 0xef, 1]),
      reason: 'truncated',
    },
    {
      name: 'a packet cut inside the question',
      msg: Buffer.concat([header(1), label('exam')]).subarray(0, 15),
      reason: 'truncated',
      rcode: 'FORMERR',
    },
    // A plausible header, then text: 'G' (0x47) is no label length dns-packet accepts.
    {
      name: 'garbage',
      msg: Buffer.concat([header(1), Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]),
      reason: 'bad_label',
      rcode: 'FORMERR',
    },
    {
      name: 'garbage with an opcode',
      msg: Buffer.from('\u0000\u0001GET / HTTP/1.1\r\n'),
      reason: 'opcode',
      rcode: 'NOTIMP',
    },
    { name: 'no question', msg: header(0), reason: 'question_count', rcode: 'FORMERR' },
    {
      name: 'two questions',
      msg: Buffer.concat([
        header(2),
        label('a'),
        Buffer.from([0]),
        typeIn,
        label('b'),
        Buffer.from([0]),
        typeIn,
      ]),
      reason: 'question_count',
      rcode: 'FORMERR',
    },
    {
      name: 'a 64-byte label',
      msg: Buffer.concat([header(1), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0]), typeIn]),
      reason: 'bad_label',
      rcode: 'FORMERR',
    },
    {
      name: 'a 305-byte name',
      msg: Buffer.concat([
        header(1),
        ...Array.from({ length: 5 }, () => label('y'.repeat(60))),
        Buffer.from([0]),
        typeIn,
      ]),
      reason: 'name_too_long',
      rcode: 'FORMERR',
    },
    {
      name: 'a compression pointer loop',
      msg: Buffer.concat([header(1), label('loop'), Buffer.from([0xc0, 12]), typeIn]),
      reason: 'bad_pointer',
      rcode: 'FORMERR',
    },
    {
      name: 'a response sent as a query',
      msg: Buffer.concat([header(1, 0x8180), label('a'), Buffer.from([0]), typeIn]),
      reason: 'not_query',
    },
    {
      name: 'an opcode other than QUERY',
      msg: Buffer.concat([header(1, 2 << 11), label('a'), Buffer.from([0]), typeIn]),
      reason: 'opcode',
      rcode: 'NOTIMP',
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const n0 = await rejected(c.reason);
      const w0 = h.warnings.length;
      const reply = await sendUdp('127.0.0.1', h.l.udp.port, c.msg, c.rcode ? 2000 : 200);
      if (c.rcode) {
        assert.ok(reply);
        const r = decode(reply);
        assert.equal(r.rcode, c.rcode);
        assert.equal(r.id, c.msg.readUInt16BE(0));
      } else {
        assert.equal(reply, undefined, 'nothing is sent back');
      }
      assert.equal(await rejected(c.reason), n0 + 1, `zt_dns_rejected_total{reason="${c.reason}"}`);
      const line = h.warnings.slice(w0).find((w) => w['reason'] === c.reason);
      assert.ok(line, 'a warning line');
      assert.equal(line['message'], 'DNS message rejected');
      assert.equal(h.up.queries.length, 0, 'nothing reached the upstream');
      await stillAnswers(h);
    });
  }

  test('a repeated rejection is counted every time but logged once per window', async () => {
    const n0 = await rejected('question_count');
    for (let i = 0; i < 20; i++) await sendUdp('127.0.0.1', h.l.udp.port, header(0));
    assert.equal(await rejected('question_count'), n0 + 20);
    const lines = h.warnings.filter((w) => w['reason'] === 'question_count');
    assert.equal(lines.length, 1, 'one line within the 5 s window');
    assert.equal(lines[0]?.['count'], 1);
  });

  test('property: arbitrary datagrams never crash the proxy; any reply carries the id (socket level)', async () => {
    const samples = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 200 }), { numRuns: 300, seed: 42 });
    const replies = await Promise.all(
      samples.map((b) => sendUdp('127.0.0.1', h.l.udp.port, Buffer.from(b), 300)),
    );
    replies.forEach((r, i) => {
      const sent = Buffer.from(samples[i] as Uint8Array);
      if (r) assert.equal(r.readUInt16BE(0), sent.readUInt16BE(0));
    });
    await stillAnswers(h);
  });
});

/** A raw TCP client that keeps the socket for the test to drive. */
function rawTcp(port: number): Promise<{ sock: Socket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    const t0 = Date.now();
    const closed = new Promise<number>((r) => sock.on('close', () => r(Date.now() - t0)));
    sock.on('error', () => {});
    // Read (and drop) answers, so the server's FIN is seen.
    sock.resume();
    sock.once('connect', () => resolve({ sock, closed }));
    sock.once('error', reject);
  });
}

describe('bad TCP input', () => {
  let h: H;
  before(async () => {
    h = await harness({ tcpIdleTimeoutMs: 300, maxTcpConnectionsPerSource: 3, maxTcpConnections: 5 });
  });
  after(() => h.close());

  test('pipelined queries on one connection are all answered', async () => {
    const qs = [1, 2, 3].map((id) =>
      framed(dnsQuery({ name: id === 2 ? 'example.org' : 'echo.backend', id })),
    );
    const r = await sendTcp('127.0.0.1', h.l.tcp.port, Buffer.concat(qs), { count: 3 });
    assert.deepEqual(r.messages.map((m) => m.readUInt16BE(0)).sort(), [1, 2, 3]);
  });
  test('a length prefix longer than the message, then the end: tcp_length', async () => {
    const n0 = await rejected('tcp_length');
    const q = dnsQuery({ name: 'echo.backend' });
    const r = await sendTcp('127.0.0.1', h.l.tcp.port, framed(q, q.length + 50), { end: true });
    assert.equal(r.messages.length, 0);
    assert.equal(r.closedByServer, true);
    assert.equal(await rejected('tcp_length'), n0 + 1);
  });
  test('a length prefix shorter than the message: the cut message is FORMERR, the rest a lying prefix', async () => {
    const q = dnsQuery({ name: 'echo.backend', id: 0x4444 });
    const r = await sendTcp('127.0.0.1', h.l.tcp.port, framed(q, 20), { end: true });
    assert.equal(decode(r.messages[0] as Buffer).rcode, 'FORMERR');
    assert.equal(decode(r.messages[0] as Buffer).id, 0x4444);
  });
  test('a zero length prefix closes the connection', async () => {
    const n0 = await rejected('tcp_length');
    const r = await sendTcp('127.0.0.1', h.l.tcp.port, Buffer.from([0, 0, 1, 2, 3]));
    assert.equal(r.closedByServer, true);
    assert.equal(await rejected('tcp_length'), n0 + 1);
  });
  test('slowloris: bytes trickling in do not extend the read deadline', async () => {
    const n0 = await rejected('tcp_timeout');
    const { sock, closed } = await rawTcp(h.l.tcp.port);
    const q = framed(dnsQuery({ name: 'echo.backend' }));
    let i = 0;
    const drip = setInterval(() => {
      if (i < q.length - 1 && !sock.destroyed) sock.write(q.subarray(i, ++i));
    }, 50);
    const took = await closed;
    clearInterval(drip);
    assert.ok(took >= 250 && took < 1500, `closed after ${took} ms`);
    assert.equal(await rejected('tcp_timeout'), n0 + 1);
  });
  test('a connection that never sends is closed at the deadline (counted); one that did its queries is closed quietly', async () => {
    const n0 = await rejected('tcp_timeout');
    const silent = await rawTcp(h.l.tcp.port);
    const t1 = await silent.closed;
    assert.ok(t1 >= 250 && t1 < 1500, `closed after ${t1} ms`);
    assert.equal(await rejected('tcp_timeout'), n0 + 1);
    const used = await rawTcp(h.l.tcp.port);
    used.sock.write(framed(dnsQuery({ name: 'echo.backend' })));
    await used.closed;
    assert.equal(await rejected('tcp_timeout'), n0 + 1, 'an idle client after its queries is no rejection');
  });
  test('connections per source are capped; the one past the cap is closed at once', async () => {
    const n0 = await rejected('tcp_conn_cap');
    const held = await Promise.all([1, 2, 3].map(() => rawTcp(h.l.tcp.port)));
    await sleep(30);
    const extra = await rawTcp(h.l.tcp.port);
    const took = await extra.closed;
    assert.ok(took < 250, `closed after ${took} ms, before any deadline`);
    assert.equal(await rejected('tcp_conn_cap'), n0 + 1);
    assert.equal(h.proxy.dump().inFlight.tcpConnections, 3);
    for (const c of held) c.sock.destroy();
    await Promise.all(held.map((c) => c.closed));
    await sleep(30);
    assert.equal(h.proxy.dump().inFlight.tcpConnections, 0);
  });
});

describe('caps on work and floods', () => {
  test('a flood from one source is rate limited (dropped over UDP, REFUSED over TCP); others are not', async () => {
    const h = await harness({ queriesPerSecondPerSource: 50 });
    const n0 = await rejected('rate_limited');
    const flood = Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        sendUdp('127.0.0.1', h.l.udp.port, dnsQuery({ name: 'echo.backend', id: i }), 500),
      ),
    );
    // Over TCP, while the bucket is still empty.
    const tcp = await sendTcp('127.0.0.1', h.l.tcp.port, framed(dnsQuery({ name: 'echo.backend', id: 77 })));
    assert.equal(decode(tcp.messages[0] as Buffer).rcode, 'REFUSED');
    const replies = await flood;
    const answered = replies.filter((r) => r !== undefined).length;
    assert.ok(answered >= 50 && answered <= 60, `${answered} of 200 answered`);
    assert.equal(await rejected('rate_limited'), n0 + (200 - answered) + 1);
    // Another source (::1 is not 127.0.0.1) is untouched.
    const v6 = await h.proxy.listen({ host: '::1', port: 0 }).catch(() => undefined);
    if (v6) {
      const r = await sendUdp('::1', v6.udp.port, dnsQuery({ name: 'echo.backend' }));
      assert.ok(r, 'another source is answered');
    }
    // The bucket refills.
    await sleep(300);
    assert.ok(await sendUdp('127.0.0.1', h.l.udp.port, dnsQuery({ name: 'echo.backend' })));
    await h.close();
  });
  test('per-pod listeners are limited per workload, not per source address (pods share 127.0.0.1)', async () => {
    const h = await harness({ queriesPerSecondPerSource: 10 });
    const a = await h.proxy.listen({
      host: '127.0.0.1',
      port: 0,
      client: 'Kubernetes//Pod/backend/sleep',
    });
    const b = await h.proxy.listen({
      host: '127.0.0.1',
      port: 0,
      client: 'Kubernetes//Pod/backend/other',
    });
    const flood = await Promise.all(
      Array.from({ length: 30 }, (_, id) =>
        sendUdp('127.0.0.1', a.udp.port, dnsQuery({ name: 'echo.backend', id }), 300),
      ),
    );
    assert.ok(flood.filter(Boolean).length <= 12);
    assert.ok(
      await sendUdp('127.0.0.1', b.udp.port, dnsQuery({ name: 'echo.backend' })),
      "the other pod's listener answers",
    );
    assert.ok(
      await sendUdp('127.0.0.1', h.l.udp.port, dnsQuery({ name: 'echo.backend' })),
      'and so does the node-level one',
    );
    await h.close();
  });
  test('forwards in flight are capped: past it, SERVFAIL at once', async () => {
    const h = await harness({ maxForwardsInFlight: 2 }, 2000);
    h.up.script(() => ({ delayMs: 300 }));
    const n0 = await rejected('forward_cap');
    const t0 = Date.now();
    const replies = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        sendUdp('127.0.0.1', h.l.udp.port, dnsQuery({ name: 'example.org', id: i }), 2000),
      ),
    );
    const codes = replies.map((r) => decode(r as Buffer).rcode).sort();
    assert.deepEqual(codes, ['NOERROR', 'NOERROR', 'SERVFAIL', 'SERVFAIL', 'SERVFAIL']);
    assert.equal(await rejected('forward_cap'), n0 + 3);
    assert.equal(h.up.queries.length, 2);
    assert.ok(Date.now() - t0 < 1500);
    // Mesh names need no forwarding and are still answered meanwhile.
    await stillAnswers(h);
    await h.close();
  });
  test('forwards in flight per source are capped too', async () => {
    const h = await harness({ maxForwardsPerSource: 1 }, 2000);
    h.up.script(() => ({ delayMs: 200 }));
    const n0 = await rejected('source_cap');
    const replies = await Promise.all(
      [1, 2, 3].map((id) => sendUdp('127.0.0.1', h.l.udp.port, dnsQuery({ name: 'example.org', id }), 2000)),
    );
    assert.deepEqual(replies.map((r) => decode(r as Buffer).rcode).sort(), [
      'NOERROR',
      'SERVFAIL',
      'SERVFAIL',
    ]);
    assert.equal(await rejected('source_cap'), n0 + 2);
    await h.close();
  });
});

describe('upstream failures reach the client as SERVFAIL', () => {
  let h: H;
  before(async () => {
    h = await harness({}, 300);
  });
  after(() => h.close());

  test('deadline: a silent upstream is SERVFAIL within the deadline, id kept', async () => {
    h.up.script(() => ({ drop: true }));
    const t0 = Date.now();
    const r = await sendUdp('127.0.0.1', h.l.udp.port, dnsQuery({ name: 'silent.example', id: 321 }), 3000);
    h.up.script(undefined);
    assert.ok(r);
    const d = decode(r);
    assert.deepEqual([d.rcode, d.id, d.questions?.[0]?.name], ['SERVFAIL', 321, 'silent.example']);
    assert.ok(Date.now() - t0 < 1500);
  });
  test('a malformed upstream answer: SERVFAIL, counted as upstream_malformed and as an upstream failure', async () => {
    const n0 = await rejected('upstream_malformed');
    h.up.script(() => ({
      raw: (q) => Buffer.from([q.id >> 8, q.id & 255, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xff]),
    }));
    const r = await sendUdp('127.0.0.1', h.l.udp.port, dnsQuery({ name: 'bad.example', id: 5 }));
    h.up.script(undefined);
    assert.equal(decode(r as Buffer).rcode, 'SERVFAIL');
    assert.equal(await rejected('upstream_malformed'), n0 + 1);
  });
  test('an upstream answering garbage over TCP after TC: the UDP client gets the truncated answer, a TCP client SERVFAIL', async () => {
    h.up.script((q) => (q.protocol === 'udp' ? { truncate: true } : { raw: Buffer.from('not dns at all') }));
    const udp = decode(
      (await sendUdp('127.0.0.1', h.l.udp.port, dnsQuery({ name: 'tc.example' }))) as Buffer,
    );
    assert.equal(udp.flag_tc, true);
    const tcp = await sendTcp('127.0.0.1', h.l.tcp.port, framed(dnsQuery({ name: 'tc.example' })), {
      timeoutMs: 3000,
    });
    assert.equal(decode(tcp.messages[0] as Buffer).rcode, 'SERVFAIL');
    h.up.script(undefined);
  });
});

describe('defects below the proxy', () => {
  test('a forwarder returning 3 bytes: SERVFAIL, never relayed', async () => {
    const state = new ProxyState(snap());
    const proxy = new DnsProxy({
      state: () => dnsStateOf(state),
      forwarder: {
        searchDomains: () => [],
        forward: async () => Buffer.from([1, 2, 3]),
        dump: () => new SystemForwarder({ servers: [{ host: '127.0.0.1', port: 53 }] }).dump(),
      },
      logger: ztLogger('silent', 'json', { write: () => {} }),
    });
    const l = await proxy.listen({ host: '127.0.0.1', port: 0 });
    try {
      const r = await sendUdp('127.0.0.1', l.udp.port, dnsQuery({ name: 'example.org' }));
      assert.equal(decode(r as Buffer).rcode, 'SERVFAIL');
    } finally {
      await proxy.close();
    }
  });
  test('anything else that throws (here: the metrics): logged as an error, nothing sent, no crash', async () => {
    const errors: Array<Record<string, unknown>> = [];
    const state = new ProxyState(snap());
    const up = await TestDnsServer.start();
    const proxy = new DnsProxy({
      state: () => dnsStateOf(state),
      forwarder: new SystemForwarder({ servers: [{ host: up.host, port: up.port }] }),
      metrics: {
        ...dnsMetrics(),
        requests: {
          inc: () => {
            throw new Error('broken counter');
          },
        } as unknown as DnsMetrics['requests'],
      },
      logger: ztLogger('error', 'json', { write: (l: string) => void errors.push(JSON.parse(l)) }),
    });
    const l = await proxy.listen({ host: '127.0.0.1', port: 0 });
    try {
      assert.equal(
        await sendUdp('127.0.0.1', l.udp.port, dnsQuery({ name: 'echo.backend' }), 300),
        undefined,
      );
      assert.ok(errors.some((w) => w['message'] === 'DNS query failed'));
      // Bad input does not touch that counter: still answered.
      assert.ok(await sendUdp('127.0.0.1', l.udp.port, header(0)));
    } finally {
      await proxy.close();
      await up.close();
    }
  });
});

describe('handle() properties', () => {
  // 3000 cases (10^5 under ZT_LONG=1) straight through the proxy's message path, forwarding included.
  const RUNS = process.env['ZT_LONG'] === '1' ? 100_000 : 3000;
  let h: H;
  before(async () => {
    h = await harness({ queriesPerSecondPerSource: 1e9 }, 500);
  });
  after(() => h.close());
  const ctx = { protocol: 'udp' as const, source: { address: '127.0.0.1', port: 5353 } };

  test('arbitrary bytes, and valid queries with bytes flipped, never throw; replies are responses with the id', async () => {
    const valid = fc
      .tuple(
        fc.constantFrom('echo', 'echo.backend', 'example.org', 'nope.example', 'a.b.c.d.e'),
        fc.constantFrom('A', 'AAAA', 'MX', 'TXT'),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
      )
      .map(([name, type, flips]) => {
        const m = dnsQuery({ name, type, edns: 1232 });
        for (const [at, v] of flips) m[at % m.length] = v;
        return m;
      });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b)),
          valid,
        ),
        async (msg) => {
          const reply = await h.proxy.handle(msg, ctx);
          if (!reply) return;
          assert.equal(reply.readUInt16BE(0), msg.readUInt16BE(0));
          assert.ok(reply.readUInt16BE(2) & 0x8000, 'QR set');
          assert.ok(reply.length <= 4096);
        },
      ),
      { numRuns: RUNS },
    );
    await stillAnswers(h);
  });
});
