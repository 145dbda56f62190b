import dnsPacket, { type Answer, type DecodedPacket, type Question } from 'dns-packet';

// DNS messages in and out, through dns-packet (decode, encode, every field and record). What is
// ours: sorting decode failures into reasons, the response header, truncation to the client's
// size, and one kind of name compression dns-packet's encoder lacks (owner names equal to the
// question name become a pointer to it, so answers are as compact as upstream's).

/** The parts of dns-packet its type definitions leave out. */
interface RecordCodec {
  encode(record: Answer, buf?: Buffer, offset?: number): Buffer;
  encodingLength(record: Answer): number;
}
interface QuestionCodec {
  decode: ((buf: Buffer, offset?: number) => Question) & { bytes: number };
}
interface NameCodec {
  encode(name: string, buf?: Buffer, offset?: number): Buffer;
  decode: ((buf: Buffer, offset?: number) => string) & { bytes: number };
}
const codec = dnsPacket as unknown as typeof dnsPacket & {
  answer: RecordCodec;
  name: NameCodec;
  question: QuestionCodec;
};

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type Rcode = (typeof RCODE)[keyof typeof RCODE];

const QR = 0x8000;
const OPCODE_MASK = 0x7800;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
const RA = 0x0080;
const CD = 0x0010;

const HEADER = 12;
/** RFC 1035's UDP limit, and the floor of an EDNS client's advertised size (RFC 6891). */
export const MIN_UDP_PAYLOAD = 512;
/** Pointer to the question name, which always starts right after the header. */
const QUESTION_POINTER = Buffer.from([0xc0, HEADER]);

/** Why a message was not answered normally; each is a `reason` of zt_dns_rejected_total. */
export type RejectReason =
  | 'truncated'
  | 'malformed'
  | 'not_query'
  | 'opcode'
  | 'question_count'
  | 'bad_label'
  | 'name_too_long'
  | 'bad_pointer'
  | 'rate_limited'
  | 'forward_cap'
  | 'source_cap'
  | 'tcp_conn_cap'
  | 'tcp_timeout'
  | 'tcp_length'
  | 'upstream_malformed';

export interface EdnsInfo {
  udpPayloadSize: number;
  version: number;
  dnssecOk: boolean;
}

/** A query the proxy can answer or forward. */
export interface Query {
  id: number;
  /** The header's flag bits (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode). */
  flags: number;
  question: Question;
  /**
   * The question as it came, echoed in every response: re-encoding the decoded one would not
   * always give it back (dns-packet writes unknown classes as 0).
   */
  questionWire: Buffer;
  /** Lower case, no trailing dot ('' for the root). */
  name: string;
  edns?: EdnsInfo;
  /**
   * The question name re-encodes to the bytes that were sent: plain labels, no compression, no
   * dot or invalid UTF-8 inside a label. Only such names are looked up in the mesh (and echoed in
   * our answers); anything else is forwarded as it came.
   */
  plainName: boolean;
}

export interface Rejection {
  reason: RejectReason;
  detail: string;
  /** What to send back: a header-only error with the query's id, or nothing. */
  reply?: Buffer;
}

export type Parsed = { query: Query; rejection?: undefined } | { query?: undefined; rejection: Rejection };

/** Decodes a message from a client; bad input comes back as a Rejection, never as a throw. */
export function parseQuery(msg: Buffer): Parsed {
  if (msg.length < HEADER) {
    return { rejection: { reason: 'truncated', detail: `${msg.length} bytes, shorter than a DNS header` } };
  }
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  // A response sent to us is dropped: answering it could start a loop between two servers.
  if (flags & QR) return { rejection: { reason: 'not_query', detail: 'a response, not a query' } };
  const opcode = (flags & OPCODE_MASK) >> 11;
  if (opcode !== 0) {
    return {
      rejection: { reason: 'opcode', detail: `opcode ${opcode}`, reply: headerOnly(id, flags, RCODE.NOTIMP) },
    };
  }
  const qdcount = msg.readUInt16BE(4);
  if (qdcount !== 1) {
    return {
      rejection: {
        reason: 'question_count',
        detail: `${qdcount} questions`,
        reply: headerOnly(id, flags, RCODE.FORMERR),
      },
    };
  }
  let packet: DecodedPacket;
  try {
    packet = dnsPacket.decode(msg);
  } catch (e) {
    const { reason, detail } = classifyDecodeError(e);
    return { rejection: { reason, detail, reply: headerOnly(id, flags, RCODE.FORMERR) } };
  }
  const question = packet.questions?.[0];
  if (!question) {
    return {
      rejection: { reason: 'malformed', detail: 'no question', reply: headerOnly(id, flags, RCODE.FORMERR) },
    };
  }
  let edns: EdnsInfo | undefined;
  for (const r of packet.additionals ?? []) {
    if (r.type !== 'OPT') continue;
    if (edns) {
      return {
        rejection: {
          reason: 'malformed',
          detail: 'more than one OPT record',
          reply: headerOnly(id, flags, RCODE.FORMERR),
        },
      };
    }
    edns = { udpPayloadSize: r.udpPayloadSize, version: r.ednsVersion, dnssecOk: r.flag_do };
  }
  return {
    query: {
      id,
      flags,
      question,
      questionWire: questionWire(msg),
      name: normalize(question.name),
      ...(edns ? { edns } : {}),
      plainName: isPlainQuestionName(msg, question.name),
    },
  };
}

/** The bytes of the first question (it decoded, so dns-packet can measure it again). */
function questionWire(msg: Buffer): Buffer {
  codec.question.decode(msg, HEADER);
  return Buffer.from(msg.subarray(HEADER, HEADER + codec.question.decode.bytes));
}

function normalize(name: string): string {
  if (name === '.') return '';
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
}

function isPlainQuestionName(msg: Buffer, name: string): boolean {
  if (name === '.' || name.length === 0) return false;
  let encoded: Buffer;
  try {
    encoded = codec.name.encode(name);
  } catch {
    return false;
  }
  return (
    msg.length >= HEADER + encoded.length && encoded.equals(msg.subarray(HEADER, HEADER + encoded.length))
  );
}

/** dns-packet (pinned) reports bad names by message; each maps to one rejection reason. */
function classifyDecodeError(e: unknown): { reason: RejectReason; detail: string } {
  const detail = e instanceof Error ? e.message : String(e);
  if (detail.includes('name too long')) return { reason: 'name_too_long', detail };
  if (detail.includes('bad label')) return { reason: 'bad_label', detail };
  if (detail.includes('bad pointer')) return { reason: 'bad_pointer', detail };
  if (
    detail.includes('overflow') ||
    (e as { code?: string }).code === 'ERR_OUT_OF_RANGE' ||
    e instanceof RangeError
  )
    return { reason: 'truncated', detail };
  return { reason: 'malformed', detail };
}

/** A reply with only a header: the query's id, opcode and RD, the given rcode. */
export function headerOnly(id: number, queryFlags: number, rcode: Rcode): Buffer {
  const b = Buffer.alloc(HEADER);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(QR | (queryFlags & (OPCODE_MASK | RD | CD)) | RA | rcode, 2);
  return b;
}

/** The most a response to `q` may take over UDP: 512, or its EDNS size up to `cap`. */
export function udpLimit(q: Query, cap: number): number {
  if (!q.edns) return MIN_UDP_PAYLOAD;
  return Math.max(MIN_UDP_PAYLOAD, Math.min(q.edns.udpPayloadSize, Math.max(cap, MIN_UDP_PAYLOAD)));
}

export interface ResponseBody {
  rcode: Rcode;
  authoritative: boolean;
  answers: Answer[];
}

/**
 * A response to `q`: its question, `answers` in order while they fit in `maxSize` (TC set when
 * some did not), and an OPT record when the query had one (its size and DO bit echoed, as
 * upstream). Records named like the question point to it instead of repeating the name.
 */
export function encodeResponse(q: Query, body: ResponseBody, maxSize: number): Buffer {
  let flags = QR | (q.flags & (OPCODE_MASK | RD | CD)) | RA | body.rcode;
  if (body.authoritative) flags |= AA;
  const head = Buffer.concat([Buffer.alloc(HEADER), q.questionWire]);
  head.writeUInt16BE(q.id, 0);
  head.writeUInt16BE(1, 4);
  const opt = q.edns ? codec.answer.encode(optRecord(q.edns)) : undefined;
  const budget = maxSize - head.length - (opt?.length ?? 0);
  const parts: Buffer[] = [head];
  let used = 0;
  let count = 0;
  for (const r of body.answers) {
    const enc = encodeRecord(r, q.question.name);
    if (used + enc.length > budget) {
      flags |= TC;
      break;
    }
    parts.push(enc);
    used += enc.length;
    count++;
  }
  if (opt) parts.push(opt);
  const out = Buffer.concat(parts);
  out.writeUInt16BE(flags, 2);
  out.writeUInt16BE(count, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(opt ? 1 : 0, 10);
  return out;
}

/** An error response that keeps the question (SERVFAIL, REFUSED). */
export function errorResponse(q: Query, rcode: Rcode): Buffer {
  return encodeResponse(q, { rcode, authoritative: false, answers: [] }, Number.MAX_SAFE_INTEGER);
}

function optRecord(edns: EdnsInfo): Answer {
  return {
    type: 'OPT',
    name: '.',
    udpPayloadSize: Math.max(MIN_UDP_PAYLOAD, edns.udpPayloadSize),
    extendedRcode: 0,
    ednsVersion: 0,
    flags: edns.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
    flag_do: edns.dnssecOk,
    options: [],
  };
}

function encodeRecord(r: Answer, questionName: string): Buffer {
  if (r.name !== questionName) return codec.answer.encode(r);
  // Encoded under the root name (one zero byte), which is then replaced by the 2-byte pointer.
  const rooted = codec.answer.encode({ ...r, name: '.' } as Answer);
  return Buffer.concat([QUESTION_POINTER, rooted.subarray(1)]);
}

/** A copy of `msg` with another id. */
export function withId(msg: Buffer, id: number): Buffer {
  const out = Buffer.from(msg);
  out.writeUInt16BE(id, 0);
  return out;
}

export function isTruncated(msg: Buffer): boolean {
  return msg.length >= HEADER && (msg.readUInt16BE(2) & TC) !== 0;
}

/** Decodes without throwing; undefined for anything dns-packet cannot read. */
export function tryDecode(msg: Buffer): DecodedPacket | undefined {
  try {
    return dnsPacket.decode(msg);
  } catch {
    return undefined;
  }
}

export { dnsPacket };

/**
 * An answer cut to its header and question with TC set: what a client gets over UDP when even the
 * upstream's truncated answer exceeds its size. It retries over TCP.
 */
export function truncatedHeader(answer: Buffer): Buffer {
  const qdcount = answer.readUInt16BE(4);
  let question: Buffer = Buffer.alloc(0);
  if (qdcount > 0) {
    try {
      question = questionWire(answer);
    } catch {
      // An answer reaching here was decoded before; an unreadable question leaves the header only.
    }
  }
  const out = Buffer.concat([answer.subarray(0, HEADER), question]);
  out.writeUInt16BE(answer.readUInt16BE(2) | TC, 2);
  out.writeUInt16BE(question.length > 0 ? 1 : 0, 4);
  out.fill(0, 6, 12);
  // A question is at most 259 bytes and every UDP limit at least 512: this always fits.
  return out;
}
