import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

// A DNS server on loopback for tests: answers A and AAAA questions from a table, NXDOMAIN for
// names it does not know, no answers (NODATA) for a known name without records of the asked type.
// Enough for Node's resolver (c-ares) over UDP; nothing else of DNS is served.

export interface DnsAnswer {
  A?: string[];
  AAAA?: string[];
  /** Seconds; default 30. */
  ttl?: number;
  /** Answer SERVFAIL instead. */
  servfail?: boolean;
}

export interface TestDnsServer {
  /** `127.0.0.1:<port>`, for a resolver's setServers. */
  readonly server: string;
  /** The questions received, in order, as `TYPE name`. */
  readonly queries: string[];
  set(name: string, answer: DnsAnswer | undefined): void;
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;

function ipv6Bytes(ip: string): Buffer {
  const [head = '', tail] = ip.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => {
    out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  });
  return out;
}

function readName(msg: Buffer, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let i = start;
  while (i < msg.length) {
    const len = msg[i] ?? 0;
    if (len === 0) return { name: labels.join('.'), end: i + 1 };
    labels.push(msg.toString('latin1', i + 1, i + 1 + len));
    i += 1 + len;
  }
  throw new Error('truncated question');
}

function answer(query: Buffer, table: Map<string, DnsAnswer>, queries: string[]): Buffer | undefined {
  if (query.length < 12 || query.readUInt16BE(4) < 1) return undefined;
  const { name, end } = readName(query, 12);
  const qtype = query.readUInt16BE(end);
  const question = query.subarray(12, end + 4);
  queries.push(`${qtype === TYPE_A ? 'A' : qtype === TYPE_AAAA ? 'AAAA' : qtype} ${name}`);
  const entry = table.get(name.toLowerCase().replace(/\.$/, ''));
  let rcode = 0;
  const records: Buffer[] = [];
  if (!entry) rcode = 3;
  else if (entry.servfail) rcode = 2;
  else {
    const ips = qtype === TYPE_A ? (entry.A ?? []) : qtype === TYPE_AAAA ? (entry.AAAA ?? []) : [];
    for (const ip of ips) {
      const data = isIPv6(ip) ? ipv6Bytes(ip) : Buffer.from(ip.split('.').map(Number));
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      rr.writeUInt16BE(qtype, 2);
      rr.writeUInt16BE(1, 4); // class IN
      rr.writeUInt32BE(entry.ttl ?? 30, 6);
      rr.writeUInt16BE(data.length, 10);
      records.push(rr, data);
    }
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // QR, the query's opcode and RD, RA, and the rcode.
  header.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x7900) | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length / 2, 6);
  return Buffer.concat([header, question, ...records]);
}

export async function startDnsServer(
  records: Record<string, DnsAnswer> = {},
  host = '127.0.0.1',
): Promise<TestDnsServer> {
  const table = new Map(Object.entries(records).map(([k, v]) => [k.toLowerCase().replace(/\.$/, ''), v]));
  const queries: string[] = [];
  const sock: Socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  sock.on('message', (msg, rinfo) => {
    let reply: Buffer | undefined;
    try {
      reply = answer(msg, table, queries);
    } catch {
      reply = undefined;
    }
    if (reply) sock.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, host, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  const { port } = sock.address();
  return {
    server: isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`,
    queries,
    set(name, a) {
      const key = name.toLowerCase().replace(/\.$/, '');
      if (a) table.set(key, a);
      else table.delete(key);
    },
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}
