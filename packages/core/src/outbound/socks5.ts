import type { Socket } from 'node:net';
import { bytesToIp } from '@zt/xds';
import type { SocketAddr } from '../addr.ts';
import { Socks5Error } from '../errors.ts';

// SOCKS5 (RFC 1928) as upstream's 15080 listener speaks it: no authentication only, CONNECT only,
// IPv4 and IPv6 targets (domain names need upstream's DNS proxy, which zt does not have).

export const SOCKS_REPLY = {
  succeeded: 0,
  generalFailure: 1,
  notAllowed: 2,
  networkUnreachable: 3,
  hostUnreachable: 4,
  connectionRefused: 5,
  commandNotSupported: 7,
} as const;

export type ParseResult<T> =
  | { kind: 'need-more' }
  | { kind: 'ok'; value: T; consumed: number }
  | { kind: 'error'; reply: number; message: string; reason: Socks5Failure };

/** Stable `reason` labels (zt_connections_early_denied_total{direction="outbound"}). */
export type Socks5Failure =
  | 'socks5-version'
  | 'socks5-auth'
  | 'socks5-command'
  | 'socks5-address'
  | 'socks5-truncated'
  | 'socks5-timeout'
  | 'socks5-io';

const more = { kind: 'need-more' } as const;
// Upstream answers every protocol error with 7 (command not supported).
const fail = (reason: Socks5Failure, message: string) => ({
  kind: 'error' as const,
  reply: SOCKS_REPLY.commandNotSupported,
  message,
  reason,
});

/** The greeting: VER NMETHODS METHODS... ; accepted when it offers "no authentication" (0). */
export function parseGreeting(buf: Uint8Array): ParseResult<{ methods: number[] }> {
  if (buf.length < 2) return more;
  if (buf[0] !== 5) return fail('socks5-version', `unsupported version ${buf[0]}`);
  const n = buf[1] ?? 0;
  if (n === 0) return fail('socks5-auth', 'methods cannot be zero');
  if (buf.length < 2 + n) return more;
  const methods = [...buf.subarray(2, 2 + n)];
  if (!methods.includes(0)) return fail('socks5-auth', 'only unauthenticated is supported');
  return { kind: 'ok', value: { methods }, consumed: 2 + n };
}

/** The request: VER CMD RSV ATYP DST.ADDR DST.PORT; CONNECT to an IP only. */
export function parseRequest(buf: Uint8Array): ParseResult<SocketAddr> {
  if (buf.length < 4) return more;
  if (buf[0] !== 5) return fail('socks5-version', `unsupported version ${buf[0]}`);
  if (buf[1] !== 1) return fail('socks5-command', `unsupported command ${buf[1]}`);
  const atyp = buf[3];
  let address: string;
  let at: number;
  if (atyp === 1) {
    if (buf.length < 10) return more;
    address = [...buf.subarray(4, 8)].join('.');
    at = 8;
  } else if (atyp === 4) {
    if (buf.length < 22) return more;
    // RFC 5952 text, as the state writes IPs (16 bytes always format).
    address = bytesToIp(buf.subarray(4, 20)) as string;
    at = 20;
  } else if (atyp === 3) {
    if (buf.length < 5) return more;
    const len = buf[4] ?? 0;
    if (buf.length < 5 + len + 2) return more;
    return fail('socks5-address', 'unsupported hostname lookup, requires DNS enabled');
  } else {
    return fail('socks5-address', `unsupported address type ${atyp}`);
  }
  const port = ((buf[at] ?? 0) << 8) | (buf[at + 1] ?? 0);
  return { kind: 'ok', value: { address, port }, consumed: at + 2 };
}

/** VER REP RSV ATYP BND.ADDR BND.PORT, with 0.0.0.0:0 as the bound address (as upstream). */
export function reply(code: number): Buffer {
  return Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
}

/**
 * Runs the handshake on a fresh socket and resolves with the target. On a protocol error the error
 * reply is written and the promise rejects (the caller closes the socket). Bytes the client sent
 * after the request (pipelined data) are unshifted back onto the socket.
 */
export function negotiateSocks5(socket: Socket, timeoutMs = 10_000): Promise<SocketAddr> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    let reported = false;
    let stage: 'greeting' | 'request' = 'greeting';
    const timer = setTimeout(
      () =>
        done(
          new Socks5Error(
            `no complete request within ${timeoutMs} ms`,
            SOCKS_REPLY.generalFailure,
            'socks5-timeout',
          ),
        ),
      timeoutMs,
    );
    const done = (err: Error | undefined, value?: SocketAddr, rest?: Buffer) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onErr);
      if (err) {
        if (reported) return;
        reported = true;
        if (err instanceof Socks5Error && socket.writable) socket.write(reply(err.reply));
        reject(
          err instanceof Socks5Error
            ? err
            : new Socks5Error(err.message, SOCKS_REPLY.generalFailure, 'socks5-io'),
        );
        return;
      }
      socket.pause();
      if (rest && rest.length > 0) socket.unshift(rest);
      resolve(value as SocketAddr);
    };
    const onEnd = () =>
      done(
        new Socks5Error(
          `client closed during the ${stage} after ${buf.length} byte(s)`,
          SOCKS_REPLY.generalFailure,
          'socks5-truncated',
        ),
      );
    const onErr = (e: Error) => done(e);
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (stage === 'greeting') {
        const g = parseGreeting(buf);
        if (g.kind === 'need-more') return;
        if (g.kind === 'error') return done(new Socks5Error(g.message, g.reply, g.reason));
        socket.write(Buffer.from([5, 0]));
        buf = buf.subarray(g.consumed);
        stage = 'request';
      }
      const r = parseRequest(buf);
      if (r.kind === 'need-more') return;
      if (r.kind === 'error') return done(new Socks5Error(r.message, r.reply, r.reason));
      done(undefined, r.value, buf.subarray(r.consumed));
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onErr);
  });
}
