import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket } from 'dns-packet';

// A small DNS server for tests: UDP and TCP on one port, answers from a table or a script, and the
// misbehaviours a forwarder must survive (truncation, delay, silence, garbage, stray ids).

export type TestRcode = 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED' | 'FORMERR';

/** What to do with one query; unset fields fall back to the table (NXDOMAIN when absent). */
export interface ScriptedReply {
  answers?: Answer[];
  rcode?: TestRcode;
  /** Over UDP: TC set and no records, so the client retries over TCP. */
  truncate?: boolean;
  delayMs?: number;
  /** Send these bytes instead of an answer. */
  raw?: Buffer | ((q: RecordedQuery) => Buffer);
  /** Send nothing. */
  drop?: boolean;
  /** First send an answer with another id (stray or spoofed), then the real one. */
  strayFirst?: boolean;
}

export interface RecordedQuery {
  id: number;
  /** As asked (case kept, no trailing dot). */
  name: string;
  type: string;
  protocol: 'udp' | 'tcp';
  packet: DecodedPacket;
  raw: Buffer;
}

export interface TestDnsServerOptions {
  host?: string;
  port?: number;
  /** Largest UDP answer it sends, whatever the query's EDNS size says (default 1232). */
  udpLimit?: number;
}

export class TestDnsServer {
  readonly host: string;
  readonly port: number;
  readonly queries: RecordedQuery[] = [];
  readonly #udp: UdpSocket;
  readonly #tcp: Server;
  readonly #table = new Map<string, Answer[]>();
  readonly #udpLimit: number;
  readonly #conns = new Set<Socket>();
  #script: ((q: RecordedQuery) => ScriptedReply | undefined) | undefined;

  private constructor(host: string, port: number, udp: UdpSocket, tcp: Server, udpLimit: number) {
    this.host = host;
    this.port = port;
    this.#udp = udp;
    this.#tcp = tcp;
    this.#udpLimit = udpLimit;
    udp.on('message', (msg, rinfo) => {
      void this.#respond(msg, 'udp', (out) => {
        try {
          udp.send(out, rinfo.port, rinfo.address);
        } catch {
          // Closed meanwhile.
        }
      });
    });
    tcp.on('connection', (sock) => this.#serveTcp(sock));
  }

  /** Binds UDP and TCP on the same port (127.0.0.1 and a free port by default). */
  static async start(o: TestDnsServerOptions = {}): Promise<TestDnsServer> {
    const host = o.host ?? '127.0.0.1';
    for (let i = 0; ; i++) {
      const udp = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind({ address: host, port: o.port ?? 0 }, () => resolve());
      });
      const port = udp.address().port;
      const tcp = createServer({ allowHalfOpen: false });
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ host, port }, () => resolve());
        });
      } catch (e) {
        udp.close();
        if (i < 8 && o.port === undefined) continue;
        throw e;
      }
      return new TestDnsServer(host, port, udp, tcp, o.udpLimit ?? 1232);
    }
  }

  /** Answers `name`/`type` with these records (strings: addresses or names, TTL 60). */
  set(name: string, type: string, records: Array<string | Answer>): void {
    const key = `${name.replace(/\.$/, '').toLowerCase()}/${type}`;
    this.#table.set(
      key,
      records.map((r) =>
        typeof r === 'string'
          ? ({ name: name.replace(/\.$/, ''), type, ttl: 60, class: 'IN', data: r } as Answer)
          : r,
      ),
    );
  }

  /** Decides per query; return undefined to use the table. Replaces the previous script. */
  script(fn: ((q: RecordedQuery) => ScriptedReply | undefined) | undefined): void {
    this.#script = fn;
  }

  /** Number of recorded queries for `name` (case-insensitive), optionally of one protocol. */
  count(name: string, protocol?: 'udp' | 'tcp'): number {
    const n = name.replace(/\.$/, '').toLowerCase();
    return this.queries.filter((q) => q.name.toLowerCase() === n && (!protocol || q.protocol === protocol))
      .length;
  }

  async close(): Promise<void> {
    for (const s of this.#conns) s.destroy();
    await Promise.all([
      new Promise<void>((r) => this.#udp.close(() => r())),
      new Promise<void>((r) => this.#tcp.close(() => r())),
    ]);
  }

  #serveTcp(sock: Socket): void {
    this.#conns.add(sock);
    sock.on('close', () => this.#conns.delete(sock));
    sock.on('error', () => {});
    let buf: Buffer = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        void this.#respond(Buffer.from(msg), 'tcp', (out) => {
          if (!sock.writable) return;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(out.length);
          sock.write(Buffer.concat([len, out]));
        });
      }
    });
  }

  async #respond(msg: Buffer, protocol: 'udp' | 'tcp', send: (b: Buffer) => void): Promise<void> {
    try {
      await this.#answer(msg, protocol, send);
    } catch {
      // What dns-packet cannot encode back (unknown classes, odd records): SERVFAIL, never silence.
      if (msg.length >= 12) send(headerOnly(msg, 2));
    }
  }

  async #answer(msg: Buffer, protocol: 'udp' | 'tcp', send: (b: Buffer) => void): Promise<void> {
    let packet: DecodedPacket;
    try {
      packet = dnsPacket.decode(msg);
    } catch {
      // As a real server: FORMERR when there is a header to answer, silence otherwise.
      if (msg.length >= 12 && !(msg.readUInt16BE(2) & 0x8000)) send(headerOnly(msg, 1));
      return;
    }
    const question = packet.questions?.[0];
    if (!question) return;
    const q: RecordedQuery = {
      id: packet.id ?? 0,
      name: question.name.replace(/\.$/, ''),
      type: question.type,
      protocol,
      packet,
      raw: msg,
    };
    this.queries.push(q);
    const s = this.#script?.(q) ?? {};
    if (s.delayMs) await new Promise((r) => setTimeout(r, s.delayMs));
    if (s.drop) return;
    if (s.raw) {
      send(typeof s.raw === 'function' ? s.raw(q) : s.raw);
      return;
    }
    const answers = s.answers ?? this.#table.get(`${q.name.toLowerCase()}/${q.type}`);
    const rcode = s.rcode ?? (answers || this.#hasName(q.name) ? 'NOERROR' : 'NXDOMAIN');
    const opt = packet.additionals?.find((r) => r.type === 'OPT');
    const clientLimit = opt && opt.type === 'OPT' ? Math.max(512, opt.udpPayloadSize) : 512;
    const limit = Math.min(clientLimit, this.#udpLimit);
    // The question goes back as it came (a real server echoes it; dns-packet would re-encode it).
    const codec = dnsPacket as unknown as {
      question: { decode: ((b: Buffer, o: number) => unknown) & { bytes: number } };
    };
    codec.question.decode(msg, 12);
    const rawQuestion = msg.subarray(12, 12 + codec.question.decode.bytes);
    const build = (records: Answer[], tc: boolean): Buffer => {
      const out = dnsPacket.encode({
        id: q.id,
        type: 'response',
        flags:
          dnsPacket.RECURSION_AVAILABLE |
          (packet.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) |
          (tc ? dnsPacket.TRUNCATED_RESPONSE : 0) |
          RCODES[rcode],
        questions: [],
        answers: records,
        additionals: opt ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0 } as Answer] : [],
      });
      const withQuestion = Buffer.concat([out.subarray(0, 12), rawQuestion, out.subarray(12)]);
      withQuestion.writeUInt16BE(1, 4);
      return withQuestion;
    };
    let out = build(answers ?? [], false);
    if (protocol === 'udp' && (s.truncate || out.length > limit)) out = build([], true);
    if (s.strayFirst) {
      const stray = Buffer.from(out);
      stray.writeUInt16BE((q.id + 1) & 0xffff, 0);
      send(stray);
    }
    send(out);
  }

  #hasName(name: string): boolean {
    const prefix = `${name.toLowerCase()}/`;
    for (const k of this.#table.keys()) if (k.startsWith(prefix)) return true;
    return false;
  }
}

function headerOnly(query: Buffer, rcode: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(query.readUInt16BE(0), 0);
  b.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x7900) | rcode, 2);
  return b;
}

const RCODES: Record<TestRcode, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 };
