import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import dnsPacket, { type Answer, type DecodedPacket } from 'dns-packet';
import fc from 'fast-check';
import {
  encodeResponse,
  errorResponse,
  MIN_UDP_PAYLOAD,
  parseQuery,
  type Query,
  RCODE,
  truncatedHeader,
  udpLimit,
} from './message.ts';
import { dnsQuery } from './testing/index.ts';

type Decoded = DecodedPacket & { rcode: string };
const decode = (b: Buffer): Decoded => dnsPacket.decode(b) as Decoded;

/** A header: id 0xabcd, RD, the given counts. */
function header(qd: number, an = 0, ns = 0, ar = 0, flags = 0x0100): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(0xabcd, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  h.writeUInt16BE(ns, 8);
  h.writeUInt16BE(ar, 10);
  return h;
}
const typeIn = Buffer.from([0, 1, 0, 1]);
const label = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]);

function query(msg: Buffer): Query {
  const p = parseQuery(msg);
  assert.ok(p.query, `parsed: ${p.rejection?.reason} ${p.rejection?.detail}`);
  return p.query;
}

describe('parseQuery: bad input is a rejection with a reason, never a throw', () => {
  const cases: Array<{ name: string; msg: Buffer; reason: string; reply?: 'FORMERR' | 'NOTIMP' }> = [
    { name: 'empty', msg: Buffer.alloc(0), reason: 'truncated' },
    { name: 'shorter than a header', msg: Buffer.from([1, 2, 3, 4, 5]), reason: 'truncated' },
    {
      name: 'a question cut short',
      msg: Buffer.concat([header(1), label('example'), Buffer.from([3, 99])]),
      reason: 'truncated',
      reply: 'FORMERR',
    },
    {
      name: 'a question without type and class',
      msg: Buffer.concat([header(1), label('example'), Buffer.from([0])]),
      reason: 'truncated',
      reply: 'FORMERR',
    },
    { name: 'no question', msg: header(0), reason: 'question_count', reply: 'FORMERR' },
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
      reply: 'FORMERR',
    },
    {
      name: 'a label over 63 bytes',
      msg: Buffer.concat([header(1), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0]), typeIn]),
      reason: 'bad_label',
      reply: 'FORMERR',
    },
    {
      name: 'a name over 255 bytes',
      msg: Buffer.concat([
        header(1),
        ...Array.from({ length: 5 }, () => label('x'.repeat(60))),
        Buffer.from([0]),
        typeIn,
      ]),
      reason: 'name_too_long',
      reply: 'FORMERR',
    },
    {
      name: 'a compression pointer to itself',
      msg: Buffer.concat([header(1), Buffer.from([0xc0, 12]), typeIn]),
      reason: 'bad_pointer',
      reply: 'FORMERR',
    },
    {
      name: 'a compression loop through a label',
      msg: Buffer.concat([header(1), label('a'), Buffer.from([0xc0, 12]), typeIn]),
      reason: 'bad_pointer',
      reply: 'FORMERR',
    },
    {
      name: 'a forward compression pointer',
      msg: Buffer.concat([header(1), Buffer.from([0xc0, 40]), typeIn, Buffer.alloc(40)]),
      reason: 'bad_pointer',
      reply: 'FORMERR',
    },
    {
      name: 'a response',
      msg: Buffer.concat([header(1, 0, 0, 0, 0x8100), label('a'), Buffer.from([0]), typeIn]),
      reason: 'not_query',
    },
    {
      name: 'an UPDATE (opcode 5)',
      msg: Buffer.concat([header(1, 0, 0, 0, 5 << 11), label('a'), Buffer.from([0]), typeIn]),
      reason: 'opcode',
      reply: 'NOTIMP',
    },
    {
      name: 'two OPT records',
      msg: Buffer.concat([
        header(1, 0, 0, 2),
        label('a'),
        Buffer.from([0]),
        typeIn,
        Buffer.from([0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]),
        Buffer.from([0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]),
      ]),
      reason: 'malformed',
      reply: 'FORMERR',
    },
    {
      name: 'an additional record cut short',
      msg: Buffer.concat([header(1, 0, 0, 1), label('a'), Buffer.from([0]), typeIn, Buffer.from([0, 0, 41])]),
      reason: 'truncated',
      reply: 'FORMERR',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const p = parseQuery(c.msg);
      assert.equal(p.query, undefined);
      assert.equal(p.rejection?.reason, c.reason, p.rejection?.detail);
      if (!c.reply) {
        assert.equal(p.rejection?.reply, undefined, 'nothing is sent back');
        return;
      }
      const reply = p.rejection?.reply;
      assert.ok(reply);
      const r = decode(reply);
      assert.equal(r.id, 0xabcd, 'the reply carries the query id');
      assert.equal(r.type, 'response');
      assert.equal(r.rcode, c.reply);
      assert.equal(r.flag_rd, (c.msg.readUInt16BE(2) & 0x0100) !== 0, 'RD echoed');
      assert.equal(r.questions?.length, 0);
    });
  }
});

describe('parseQuery: good queries', () => {
  test('fields, EDNS and the normalized name', () => {
    const q = query(dnsQuery({ name: 'Echo.Backend.', type: 'AAAA', id: 7, edns: 4096, dnssecOk: true }));
    assert.equal(q.id, 7);
    assert.equal(q.name, 'echo.backend');
    assert.equal(q.question.name, 'Echo.Backend');
    assert.equal(q.question.type, 'AAAA');
    assert.deepEqual(q.edns, { udpPayloadSize: 4096, version: 0, dnssecOk: true });
    assert.equal(q.plainName, true);
  });
  test('a name whose labels hold a dot or invalid UTF-8 is not plain (never answered from the mesh)', () => {
    const dotted = Buffer.concat([header(1), label('echo.backend'), Buffer.from([0]), typeIn]);
    const q = query(dotted);
    assert.equal(q.name, 'echo.backend', 'dns-packet reads it like the two-label name');
    assert.equal(q.plainName, false, 'but it is one label');
    const binary = Buffer.concat([header(1), Buffer.from([2, 0xff, 0xfe]), Buffer.from([0]), typeIn]);
    assert.equal(query(binary).plainName, false);
    const compressed = Buffer.concat([header(1), label('a'), Buffer.from([0xc0, 2]), typeIn]);
    // A pointer into the header decodes (to whatever it spells) but is no plain name either.
    const p = parseQuery(compressed);
    assert.ok(p.query ? p.query.plainName === false : p.rejection !== undefined);
  });
  test('the root name', () => {
    const q = query(dnsQuery({ name: '.', type: 'NS' }));
    assert.equal(q.name, '');
    assert.equal(q.plainName, false);
  });
  test('udpLimit: 512 without EDNS, the advertised size otherwise, within [512, cap]', () => {
    assert.equal(udpLimit(query(dnsQuery({ name: 'a' })), 4096), 512);
    assert.equal(udpLimit(query(dnsQuery({ name: 'a', edns: 1232 })), 4096), 1232);
    assert.equal(udpLimit(query(dnsQuery({ name: 'a', edns: 100 })), 4096), 512);
    assert.equal(udpLimit(query(dnsQuery({ name: 'a', edns: 65000 })), 4096), 4096);
  });
});

describe('encodeResponse', () => {
  const many = (name: string, n: number): Answer[] =>
    Array.from({ length: n }, (_, i) => ({
      type: 'A',
      name,
      ttl: 30,
      class: 'IN',
      data: `240.0.${i >> 8}.${i & 255}`,
    }));

  test("upstream's large response: 256 A records, 74 fit an EDNS client's 1232 bytes, TC set; all over TCP", () => {
    const q = query(dnsQuery({ name: 'large.com.', edns: 1232 }));
    const udp = encodeResponse(
      q,
      { rcode: RCODE.NOERROR, authoritative: true, answers: many('large.com', 256) },
      udpLimit(q, 4096),
    );
    const r = decode(udp);
    assert.equal(r.flag_tc, true);
    assert.equal(r.answers?.length, 74);
    assert.ok(udp.length <= 1232);
    assert.equal(r.additionals?.[0]?.type, 'OPT', 'the OPT record is kept when truncating');
    const tcp = decode(
      encodeResponse(
        q,
        { rcode: RCODE.NOERROR, authoritative: true, answers: many('large.com', 256) },
        0xffff,
      ),
    );
    assert.equal(tcp.flag_tc, false);
    assert.equal(tcp.answers?.length, 256);
  });
  test('without EDNS the limit is 512 bytes', () => {
    const q = query(dnsQuery({ name: 'large.com.' }));
    const out = encodeResponse(
      q,
      { rcode: 0, authoritative: true, answers: many('large.com', 256) },
      udpLimit(q, 4096),
    );
    assert.ok(out.length <= MIN_UDP_PAYLOAD);
    assert.equal(decode(out).answers?.length, Math.floor((512 - 12 - 15) / 16));
  });
  test('records named like the question point to it (compression); others are written out', () => {
    const q = query(dnsQuery({ name: 'a.b.ns1.svc.cluster.local' }));
    const out = encodeResponse(
      q,
      {
        rcode: 0,
        authoritative: true,
        answers: [
          { type: 'CNAME', name: 'a.b.ns1.svc.cluster.local', ttl: 30, class: 'IN', data: 'a.b' },
          { type: 'A', name: 'a.b', ttl: 30, class: 'IN', data: '10.0.0.1' },
        ],
      },
      512,
    );
    const r = decode(out);
    assert.deepEqual(
      r.answers?.map((a) => [a.type, a.name, (a as { data: string }).data]),
      [
        ['CNAME', 'a.b.ns1.svc.cluster.local', 'a.b'],
        ['A', 'a.b', '10.0.0.1'],
      ],
    );
    // Question at 12; the CNAME's owner is the 2-byte pointer right after the question.
    const afterQuestion = 12 + 27 + 4;
    assert.deepEqual([...out.subarray(afterQuestion, afterQuestion + 2)], [0xc0, 12]);
  });
  test('flags: QR, AA when authoritative, RD echoed, RA set; rcode as given', () => {
    const q = query(dnsQuery({ name: 'x', rd: false, id: 99 }));
    const r = decode(encodeResponse(q, { rcode: RCODE.NOERROR, authoritative: true, answers: [] }, 512));
    assert.deepEqual(
      [r.id, r.type, r.flag_aa, r.flag_rd, r.flag_ra, r.rcode],
      [99, 'response', true, false, true, 'NOERROR'],
    );
    const e = decode(errorResponse(q, RCODE.SERVFAIL));
    assert.deepEqual([e.flag_aa, e.rcode, e.questions?.[0]?.name], [false, 'SERVFAIL', 'x']);
  });
  test('the question is echoed as sent, even where dns-packet would re-encode it otherwise', () => {
    // Class 0x0f71 decodes as UNKNOWN_3953, which dns-packet's encoder writes as 0.
    const msg = Buffer.concat([header(1), label('odd'), Buffer.from([0]), Buffer.from([0, 1, 0x0f, 0x71])]);
    const q = query(msg);
    const out = errorResponse(q, RCODE.SERVFAIL);
    assert.deepEqual(out.subarray(12), msg.subarray(12));
    assert.equal(decode(out).questions?.[0]?.class, 'UNKNOWN_3953');
  });
  test('truncatedHeader keeps the id, rcode and question, drops the records, sets TC', () => {
    const answer = dnsPacket.encode({
      id: 5,
      type: 'response',
      flags: 3,
      questions: [{ name: 'big.example', type: 'TXT', class: 'IN' }],
      answers: [{ type: 'TXT', name: 'big.example', ttl: 1, class: 'IN', data: 'x'.repeat(200) }],
    });
    const r = decode(truncatedHeader(answer));
    assert.deepEqual(
      [r.id, r.flag_tc, r.rcode, r.answers?.length, r.questions?.[0]?.name],
      [5, true, 'NXDOMAIN', 0, 'big.example'],
    );
  });
});

// Decoder properties. Counts: 2500 + 2500 + 1500 = 6500 cases (10^5 each under ZT_LONG=1).
const LONG = process.env['ZT_LONG'] === '1';
const RUNS = LONG ? 100_000 : 2500;
const dnsLabel = fc.stringMatching(/^[A-Za-z0-9_]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?$/);
const dnsName = fc.array(dnsLabel, { minLength: 1, maxLength: 6 }).map((l) => l.join('.'));
const qtype = fc.constantFrom('A', 'AAAA', 'MX', 'TXT', 'SRV', 'NS', 'PTR', 'CNAME', 'SOA', 'CAA');

describe('decoder properties', () => {
  test('arbitrary bytes never throw: a query, or a rejection whose reply (if any) carries the id', () => {
    fc.assert(
      // Half fully random (mostly rejected by the header), half a query header with a random body
      // (through dns-packet's name and record decoding).
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, withHeader) => {
        const msg = withHeader ? Buffer.concat([header(1, 0, 0, 1), Buffer.from(bytes)]) : Buffer.from(bytes);
        const p = parseQuery(msg);
        if (p.rejection?.reply) {
          const r = decode(p.rejection.reply);
          assert.equal(r.id, msg.readUInt16BE(0));
          assert.equal(r.type, 'response');
        }
        if (p.query) assert.equal(p.query.id, msg.readUInt16BE(0));
      }),
      { numRuns: RUNS },
    );
  });
  test('a valid query with bytes flipped never throws either', () => {
    fc.assert(
      fc.property(
        dnsName,
        qtype,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (name, type, flips) => {
          const msg = dnsQuery({ name, type, edns: 1232 });
          for (const [at, v] of flips) msg[at % msg.length] = v;
          const p = parseQuery(msg);
          assert.ok(p.query || p.rejection);
        },
      ),
      { numRuns: RUNS },
    );
  });
  test('decoded queries re-encode: question, id and EDNS survive a response round trip', () => {
    fc.assert(
      fc.property(
        dnsName,
        qtype,
        fc.integer({ min: 0, max: 0xffff }),
        fc.option(fc.integer({ min: 512, max: 65535 }), { nil: undefined }),
        (name, type, id, edns) => {
          const msg = dnsQuery({ name, type, id, ...(edns !== undefined ? { edns } : {}) });
          const q = query(msg);
          assert.equal(q.plainName, true);
          assert.equal(q.name, name.toLowerCase());
          const again = dnsQuery({
            name: q.question.name,
            type: q.question.type,
            id: q.id,
            ...(q.edns ? { edns: q.edns.udpPayloadSize } : {}),
          });
          assert.deepEqual(again, msg, 'the decoded query encodes to the same bytes');
          const r = decode(errorResponse(q, RCODE.SERVFAIL));
          assert.equal(r.id, id);
          assert.deepEqual(r.questions, [{ name, type, class: 'IN' }]);
        },
      ),
      { numRuns: LONG ? 100_000 : 1500 },
    );
  });
});
