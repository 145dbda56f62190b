import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import dnsPacket, { type Answer } from 'dns-packet';

// Raw DNS clients for tests: exact bytes out, exact bytes back (or nothing, within a deadline).

export interface DnsQueryOptions {
  name: string;
  type?: string;
  id?: number;
  /** Recursion desired (default true). */
  rd?: boolean;
  /** Adds an OPT record advertising this UDP size. */
  edns?: number;
  dnssecOk?: boolean;
}

export function dnsQuery(o: DnsQueryOptions): Buffer {
  const additionals: Answer[] = [];
  if (o.edns !== undefined) {
    additionals.push({
      type: 'OPT',
      name: '.',
      udpPayloadSize: o.edns,
      flags: o.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
    } as Answer);
  }
  return dnsPacket.encode({
    id: o.id ?? 0x1234,
    type: 'query',
    flags: o.rd === false ? 0 : dnsPacket.RECURSION_DESIRED,
    questions: [{ name: o.name, type: (o.type ?? 'A') as 'A', class: 'IN' }],
    additionals,
  });
}

/** Sends one datagram; resolves with the first one back, or undefined after `timeoutMs`. */
export function sendUdp(
  host: string,
  port: number,
  msg: Buffer,
  timeoutMs = 2000,
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    const done = (b: Buffer | undefined): void => {
      clearTimeout(timer);
      try {
        s.close();
      } catch {
        // Already closed.
      }
      resolve(b);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    s.on('message', (m) => done(m));
    s.on('error', () => done(undefined));
    s.send(msg, port, host);
  });
}

/**
 * Writes `bytes` as they are (build the length prefix yourself to lie about it) and collects
 * length-prefixed messages until `count` arrived, the server closed, or `timeoutMs`.
 */
export function sendTcp(
  host: string,
  port: number,
  bytes: Buffer,
  o: { count?: number; timeoutMs?: number; end?: boolean } = {},
): Promise<{ messages: Buffer[]; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const messages: Buffer[] = [];
    let buf: Buffer = Buffer.alloc(0);
    let closedByServer = false;
    const sock = connect({ host, port });
    const done = (): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ messages, closedByServer });
    };
    const timer = setTimeout(done, o.timeoutMs ?? 2000);
    sock.on('connect', () => {
      sock.write(bytes);
      if (o.end) sock.end();
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        messages.push(Buffer.from(buf.subarray(2, 2 + buf.readUInt16BE(0))));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (messages.length >= (o.count ?? 1)) done();
    });
    sock.on('end', () => {
      closedByServer = true;
      done();
    });
    sock.on('close', () => {
      closedByServer = true;
      done();
    });
    sock.on('error', () => done());
  });
}

/** `msg` with a 2-byte length prefix (the honest one unless `length` says otherwise). */
export function framed(msg: Buffer, length = msg.length): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(length);
  return Buffer.concat([len, msg]);
}
