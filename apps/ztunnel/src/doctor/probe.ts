// Timed network probes for zt doctor: a TCP connect, a TLS handshake verified against given roots,
// and an HBONE handshake (TCP, mTLS with a SPIFFE identity check, the peer's HTTP/2 SETTINGS).
import { connect as h2connect } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { checkServerIdentity, type PeerCertificate, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { ZtError } from '@zt/errors';

/** A probe step failed: `ERR_ZT_DOCTOR_TCP`, `_TLS` or `_HBONE`; the check turns it into its fix. */
export class ProbeError extends ZtError {
  /** Which step failed. */
  readonly step: 'tcp' | 'tls' | 'hbone';
  readonly errno: string | undefined;
  constructor(step: 'tcp' | 'tls' | 'hbone', message: string, errno?: string) {
    super(`ERR_ZT_DOCTOR_${step.toUpperCase()}`, message);
    this.name = 'ProbeError';
    this.step = step;
    this.errno = errno;
  }
}

const WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'name not found',
  EAI_AGAIN: 'name lookup failed',
  EADDRNOTAVAIL: 'address not available',
};

function describe(e: unknown): { text: string; errno?: string } {
  const err = e as NodeJS.ErrnoException;
  const errno = typeof err.code === 'string' ? err.code : undefined;
  const words = errno ? WORDS[errno] : undefined;
  return { text: words ? `${words} (${errno})` : (err.message ?? String(e)), ...(errno ? { errno } : {}) };
}

const elapsed = (t0: number) => Math.round((performance.now() - t0) * 10) / 10;

/** Connects, resolves with the open socket and the time it took; the caller closes it. */
export function tcpConnect(
  host: string,
  port: number,
  timeoutMs: number,
): Promise<{ socket: Socket; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const s = netConnect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new ProbeError('tcp', `timed out after ${timeoutMs} ms`, 'ETIMEDOUT'));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.off('error', onError);
      resolve({ socket: s, ms: elapsed(t0) });
    });
    const onError = (e: Error) => {
      clearTimeout(timer);
      const d = describe(e);
      reject(new ProbeError('tcp', d.text, d.errno));
    };
    s.once('error', onError);
  });
}

/** A timed TCP connect, closed at once. */
export async function tcpProbe(host: string, port: number, timeoutMs: number): Promise<number> {
  const { socket, ms } = await tcpConnect(host, port, timeoutMs);
  socket.destroy();
  return ms;
}

export interface TlsOptions {
  socket: Socket;
  /** Who was dialled: a name or an address, checked against the certificate unless `expectedUri`. */
  host: string;
  /** PEM roots; undefined: the system's. */
  ca: string[] | undefined;
  servername?: string;
  /** Client certificate chain and key (mTLS). */
  cert?: { chain: string; key: string };
  /** The server certificate must carry this URI SAN (SPIFFE identity). */
  expectedUri?: string;
  alpn?: string[];
  timeoutMs: number;
}

function uriSans(cert: PeerCertificate): string[] {
  return (cert.subjectaltname ?? '')
    .split(', ')
    .filter((e) => e.startsWith('URI:'))
    .map((e) => e.slice(4));
}

/** A TLS handshake over `socket`; the server's chain verified against `ca`. */
export function tlsHandshake(o: TlsOptions): Promise<{ tls: TLSSocket; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({
      socket: o.socket,
      host: o.host,
      ...(o.ca ? { ca: o.ca } : {}),
      ...(o.servername ? { servername: o.servername } : {}),
      ...(o.cert ? { cert: o.cert.chain, key: o.cert.key } : {}),
      ...(o.alpn ? { ALPNProtocols: o.alpn } : {}),
      rejectUnauthorized: true,
      checkServerIdentity: (host, cert) => {
        // A server by name or address (the CA) is checked as usual; a peer zt by SPIFFE identity.
        if (o.expectedUri === undefined) return checkServerIdentity(host, cert);
        const sans = uriSans(cert);
        return sans.includes(o.expectedUri)
          ? undefined
          : new Error(`the server presented [${sans.join(', ')}], not ${o.expectedUri}`);
      },
    });
    const timer = setTimeout(() => {
      tls.destroy();
      reject(new ProbeError('tls', `no TLS handshake within ${o.timeoutMs} ms`));
    }, o.timeoutMs);
    tls.once('secureConnect', () => {
      clearTimeout(timer);
      tls.off('error', onError);
      resolve({ tls, ms: elapsed(t0) });
    });
    const onError = (e: Error) => {
      clearTimeout(timer);
      tls.destroy();
      reject(new ProbeError('tls', describe(e).text));
    };
    tls.once('error', onError);
  });
}

export interface HboneResult {
  tcpMs: number;
  tlsMs: number;
  /** Until the peer's HTTP/2 SETTINGS arrived (it accepted our certificate); absent without one. */
  hboneMs?: number;
}

/**
 * What a peer zt sees of an HBONE client up to its first CONNECT: TCP to `port`, TLS 1.3 with ALPN
 * h2, the server's SPIFFE identity, our certificate accepted (its HTTP/2 SETTINGS arrive).
 */
export async function hboneProbe(o: {
  host: string;
  port: number;
  roots: string[];
  expectedUri: string;
  cert: { chain: string; key: string } | undefined;
  timeoutMs: number;
}): Promise<HboneResult> {
  const { socket, ms: tcpMs } = await tcpConnect(o.host, o.port, o.timeoutMs);
  const { tls, ms: tlsMs } = await tlsHandshake({
    socket,
    host: o.host,
    ca: o.roots.length ? o.roots : undefined,
    alpn: ['h2'],
    expectedUri: o.expectedUri,
    ...(o.cert ? { cert: o.cert } : {}),
    timeoutMs: o.timeoutMs,
  });
  if (tls.alpnProtocol !== 'h2') {
    tls.destroy();
    throw new ProbeError('hbone', `the peer did not negotiate ALPN h2 (got ${tls.alpnProtocol || 'none'})`);
  }
  if (!o.cert) {
    tls.destroy();
    return { tcpMs, tlsMs };
  }
  const t0 = performance.now();
  const session = h2connect(`https://${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`, {
    createConnection: () => tls,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new ProbeError('hbone', `no HTTP/2 SETTINGS from the peer within ${o.timeoutMs} ms`)),
        o.timeoutMs,
      );
      session.once('remoteSettings', () => {
        clearTimeout(timer);
        resolve();
      });
      const fail = (e?: Error) => {
        clearTimeout(timer);
        reject(
          new ProbeError(
            'hbone',
            `the peer closed the connection after the TLS handshake${e ? ` (${describe(e).text})` : ''}: it refused our client certificate`,
          ),
        );
      };
      session.once('error', fail);
      session.once('close', () => fail());
    });
    return { tcpMs, tlsMs, hboneMs: elapsed(t0) };
  } finally {
    session.destroy();
    tls.destroy();
  }
}
