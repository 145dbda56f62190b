import type { Server, Socket } from 'node:net';
import type { DnsLimits } from './limits.ts';
import { PerSourceCount } from './limits.ts';
import type { RejectReason } from './message.ts';

// DNS over TCP (RFC 1035 4.2.2, RFC 7766): 2-byte length-prefixed messages, several per connection
// and pipelined; answers may go back out of order (the ids match them). Guarded against clients
// that hold connections open (slowloris), lie about lengths, or stop reading.

/** What the TCP side needs of the proxy. */
export interface TcpHandler {
  answer(msg: Buffer, source: { address: string; port: number }): Promise<Buffer | undefined>;
  reject(reason: RejectReason, detail: string, source: string, protocol: 'tcp'): void;
}

/** Connection counts shared by every TCP listener of one proxy (the caps are proxy-wide). */
export class TcpConnections {
  total = 0;
  readonly perSource = new PerSourceCount();
  /** Each open connection and the listener that accepted it. */
  readonly open = new Map<Socket, Server>();
}

export function unmapIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** `pinned`: the workload uid of a per-pod listener, which the per-source cap counts against. */
export function serveTcp(
  server: Server,
  handler: TcpHandler,
  limits: DnsLimits,
  conns: TcpConnections,
  pinned?: string,
): void {
  server.on('connection', (sock: Socket) => {
    const address = unmapIp(sock.remoteAddress ?? '');
    const source = pinned !== undefined ? `workload:${pinned}` : address;
    if (conns.total >= limits.maxTcpConnections) {
      handler.reject('tcp_conn_cap', `${conns.total} TCP connections open`, address, 'tcp');
      sock.destroy();
      return;
    }
    if (conns.perSource.get(source) >= limits.maxTcpConnectionsPerSource) {
      handler.reject(
        'tcp_conn_cap',
        `${conns.perSource.get(source)} TCP connections open from ${source}`,
        address,
        'tcp',
      );
      sock.destroy();
      return;
    }
    conns.total++;
    conns.perSource.inc(source);
    conns.open.set(sock, server);
    new TcpSession(sock, address, handler, limits).start(() => {
      conns.total--;
      conns.perSource.dec(source);
      conns.open.delete(sock);
    });
  });
}

class TcpSession {
  readonly #sock: Socket;
  readonly #source: string;
  readonly #handler: TcpHandler;
  readonly #limits: DnsLimits;
  #buf: Buffer = Buffer.alloc(0);
  #pending = 0;
  #served = 0;
  #ended = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(sock: Socket, source: string, handler: TcpHandler, limits: DnsLimits) {
    this.#sock = sock;
    this.#source = source;
    this.#handler = handler;
    this.#limits = limits;
  }

  start(onClose: () => void): void {
    const sock = this.#sock;
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => this.#onData(d));
    sock.on('end', () => this.#onEnd());
    sock.on('drain', () => sock.resume());
    // Resets and the like: the connection is gone, which 'close' handles.
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(this.#timer);
      onClose();
    });
    this.#arm();
  }

  /**
   * The read deadline: a whole message must arrive within the idle timeout of the connection's
   * start or of the previous answer. Partial bytes do not extend it, so trickling one byte at a
   * time (slowloris) does not hold a connection.
   */
  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#onIdle(), this.#limits.tcpIdleTimeoutMs);
  }

  #onIdle(): void {
    if (this.#pending > 0) {
      // Still answering (a forward within its own deadline): the clock restarts at the answer.
      return;
    }
    // A client that finished its queries and went quiet is closed without complaint; one that
    // never completed a message is the slowloris case.
    if (this.#served === 0 || this.#buf.length > 0) {
      this.#handler.reject(
        'tcp_timeout',
        `no complete message within ${this.#limits.tcpIdleTimeoutMs} ms (${this.#buf.length} bytes of a partial one)`,
        this.#source,
        'tcp',
      );
    }
    this.#sock.destroy();
  }

  #onData(d: Buffer): void {
    this.#buf = this.#buf.length === 0 ? d : Buffer.concat([this.#buf, d]);
    while (this.#buf.length >= 2) {
      const n = this.#buf.readUInt16BE(0);
      if (n === 0) {
        this.#handler.reject('tcp_length', 'a zero length prefix', this.#source, 'tcp');
        this.#sock.destroy();
        return;
      }
      if (this.#buf.length < 2 + n) return;
      const msg = this.#buf.subarray(2, 2 + n);
      this.#buf = this.#buf.subarray(2 + n);
      this.#served++;
      this.#pending++;
      this.#arm();
      this.#handler
        .answer(Buffer.from(msg), { address: this.#source, port: this.#sock.remotePort ?? 0 })
        .then(
          (reply) => this.#reply(reply),
          () => this.#reply(undefined),
        );
    }
  }

  #reply(reply: Buffer | undefined): void {
    this.#pending--;
    const sock = this.#sock;
    if (reply && sock.writable) {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(reply.length);
      sock.write(Buffer.concat([len, reply]));
      // A client that does not read its answers stops being read until it does.
      if (sock.writableLength > this.#limits.tcpMaxPendingWriteBytes) sock.pause();
    }
    if (this.#pending === 0) {
      if (this.#ended) sock.end();
      else this.#arm();
    }
  }

  #onEnd(): void {
    this.#ended = true;
    if (this.#buf.length > 0) {
      const want = this.#buf.length >= 2 ? this.#buf.readUInt16BE(0) : undefined;
      this.#handler.reject(
        'tcp_length',
        want === undefined
          ? 'the connection ended inside a length prefix'
          : `the length prefix said ${want} bytes, ${this.#buf.length - 2} came before the end`,
        this.#source,
        'tcp',
      );
    }
    if (this.#pending === 0) this.#sock.end();
  }
}
