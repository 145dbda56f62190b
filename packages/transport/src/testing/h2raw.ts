// A tiny HTTP/2 frame writer and reader over TLS, for the bad input node:http2 refuses to send:
// malformed pseudo-headers, rapid resets, SETTINGS and PING floods, more streams than allowed.
// HPACK is the literal-without-indexing form only (no Huffman), which every decoder must accept.
import { connect, type TLSSocket } from 'node:tls';
import type { WorkloadCertificate } from '@zt/identity';

export const FRAME = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;
export const FLAG = { END_STREAM: 1, ACK: 1, END_HEADERS: 4 } as const;
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

export function frame(
  type: number,
  flags: number,
  stream: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** HPACK integer with an n-bit prefix. */
function hpackInt(value: number, prefixBits: number, first: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

function hpackString(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
  return Buffer.concat([hpackInt(b.length, 7, 0), b]);
}

/** A header block of literal fields without indexing (new names). */
export function headerBlock(headers: Array<[string, string | Buffer]>): Buffer {
  return Buffer.concat(headers.flatMap(([n, v]) => [Buffer.from([0]), hpackString(n), hpackString(v)]));
}

export function settings(entries: Array<[number, number]> = []): Buffer {
  const p = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, v], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(v, i * 6 + 2);
  });
  return frame(FRAME.SETTINGS, 0, 0, p);
}

export function rstStream(stream: number, code = 8 /* CANCEL */): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, stream, p);
}

export function pingFrame(n: number): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(n >>> 0, 4);
  return frame(FRAME.PING, 0, 0, p);
}

export function connectHeaders(authority: string, extra: Array<[string, string | Buffer]> = []): Buffer {
  return headerBlock([[':method', 'CONNECT'], [':authority', authority], ...extra]);
}

/** A TLS + h2 connection that speaks frames; `frames` collects what the server sent. */
export class RawH2 {
  readonly socket: TLSSocket;
  readonly frames: Frame[] = [];
  #buf: Buffer = Buffer.alloc(0);
  #prefaceSent = false;
  closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(socket: TLSSocket) {
    this.socket = socket;
    this.closedPromise = new Promise((r) => socket.once('close', () => r()));
    socket.once('close', () => {
      this.closed = true;
    });
    // A raw test peer: the tests assert on what the server does (`closed`, frames), not on resets.
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      while (this.#buf.length >= 9) {
        const len = this.#buf.readUIntBE(0, 3);
        if (this.#buf.length < 9 + len) break;
        this.frames.push({
          type: this.#buf[3] ?? 0,
          flags: this.#buf[4] ?? 0,
          stream: this.#buf.readUInt32BE(5) & 0x7fffffff,
          payload: this.#buf.subarray(9, 9 + len),
        });
        this.#buf = this.#buf.subarray(9 + len);
      }
    });
  }

  static async open(opts: {
    host: string;
    port: number;
    cert?: WorkloadCertificate;
    localAddress?: string;
    alpn?: string[];
    minVersion?: 'TLSv1.2' | 'TLSv1.3';
    maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  }): Promise<RawH2> {
    const socket = connect({
      host: opts.host,
      port: opts.port,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      ALPNProtocols: opts.alpn ?? ['h2'],
      ...(opts.cert
        ? { cert: opts.cert.certChain.join('\n'), key: opts.cert.privateKey, ca: [...opts.cert.roots] }
        : {}),
      rejectUnauthorized: false,
      ...(opts.minVersion ? { minVersion: opts.minVersion } : {}),
      ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('closed during the TLS handshake')));
    });
    return new RawH2(socket);
  }

  /** Sends the preface and an empty SETTINGS (once), then `frames`. */
  send(...frames: Buffer[]): boolean {
    if (this.closed) return false;
    const parts = this.#prefaceSent ? frames : [PREFACE, settings(), ...frames];
    this.#prefaceSent = true;
    return this.socket.write(Buffer.concat(parts));
  }

  has(type: number, stream?: number): boolean {
    return this.frames.some((f) => f.type === type && (stream === undefined || f.stream === stream));
  }

  /** GOAWAY's error code, if the server sent one. */
  goawayCode(): number | undefined {
    const g = this.frames.find((f) => f.type === FRAME.GOAWAY);
    return g ? g.payload.readUInt32BE(4) : undefined;
  }

  rstCode(stream: number): number | undefined {
    const r = this.frames.find((f) => f.type === FRAME.RST_STREAM && f.stream === stream);
    return r ? r.payload.readUInt32BE(0) : undefined;
  }

  /**
   * The :status of `stream`'s response. Decodes what servers send for a status: an indexed static
   * entry (8..14) or a literal with the :status name index and a plain or Huffman-coded 3-digit
   * value (Huffman: digits are 5-bit codes 0..9 = 0x00..0x09 prefix 0b000 + digit... decoded below).
   */
  status(stream: number): number | undefined {
    const h = this.frames.find((f) => f.type === FRAME.HEADERS && f.stream === stream);
    if (!h) return undefined;
    const b = h.payload;
    const first = b[0] ?? 0;
    const STATIC: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };
    if (first & 0x80) return STATIC[first & 0x7f];
    // literal with indexed name (:status is static index 8..14), any of the three literal forms
    const lenByte = b[1] ?? 0;
    const huff = (lenByte & 0x80) !== 0;
    const len = lenByte & 0x7f;
    const val = b.subarray(2, 2 + len);
    if (!huff) return Number(val.toString('latin1'));
    return Number(huffmanDigits(val));
  }

  async waitFor(pred: () => boolean, timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** HPACK Huffman for digit-only strings: '0','1','2' are 5-bit codes 0..2, '3'..'9' 6-bit 0x19..0x1f. */
function huffmanDigits(b: Buffer): string {
  let bits = '';
  for (const byte of b) bits += byte.toString(2).padStart(8, '0');
  let out = '';
  let i = 0;
  while (i + 5 <= bits.length) {
    const five = Number.parseInt(bits.slice(i, i + 5), 2);
    if (five <= 2) {
      out += String(five);
      i += 5;
      continue;
    }
    if (i + 6 > bits.length) break;
    const six = Number.parseInt(bits.slice(i, i + 6), 2);
    if (six >= 0x19 && six <= 0x1f) {
      out += String(six - 0x19 + 3);
      i += 6;
      continue;
    }
    break; // padding (all ones) or a non-digit
  }
  return out;
}
