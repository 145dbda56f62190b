import { PolicyDeniedError } from '../errors.ts';
import type { ResponseFlag } from './labels.ts';

/**
 * What upstream's copy loop ignores (a peer resetting or vanishing is how TCP connections often end):
 * the connection still ends clean, `-`.
 */
const ORDINARY_ENDS: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'EPIPE',
  'ENOTCONN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** How deep the `cause` chain is searched (a pool error wraps a connection error wraps a TLS one). */
const MAX_DEPTH = 4;

function codeOf(e: unknown): string {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : '';
}

function isTls(code: string, e: unknown): boolean {
  return (
    code.startsWith('ERR_SSL_') ||
    code.startsWith('ERR_TLS_') ||
    code === 'ERR_ZT_HBONE_PEER_IDENTITY' ||
    code === 'ERR_ZT_HBONE_TRUST_DOMAIN' ||
    code === 'ERR_ZT_HBONE_ALPN' ||
    // OpenSSL's verification errors carry their own codes (CERT_HAS_EXPIRED...), and its library.
    (e as { library?: unknown }).library === 'SSL routines' ||
    /^(CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_)/.test(code)
  );
}

/**
 * The response flag of a connection that ended with `err` and no flag of its own, as upstream infers
 * one from its error: a policy denial is DENY, a TLS error TLS_FAILURE, an HTTP/2 one
 * H2_HANDSHAKE_FAILURE, an HBONE dial that timed out NETWORK_POLICY (what upstream suspects of a
 * silent 15008), no certificate of our own IDENTITY_ERROR; anything else is CONNECT, as upstream
 * counts every other error (a drain, a workload gone) as a connection failure; the resets and
 * early closes upstream's copy loop ignores are `-`.
 */
export function flagFor(err: Error): ResponseFlag {
  if (ORDINARY_ENDS.has(codeOf(err))) return '-';
  let e: unknown = err;
  for (let depth = 0; depth < MAX_DEPTH && e instanceof Error; depth++) {
    if (e instanceof PolicyDeniedError) return 'DENY';
    const code = codeOf(e);
    if (code === 'ERR_ZT_HBONE_CONNECT_TIMEOUT') return 'NETWORK_POLICY';
    if (isTls(code, e)) return 'TLS_FAILURE';
    if (
      code.startsWith('ERR_HTTP2_') ||
      code === 'ERR_ZT_HBONE_STREAM_RESET' ||
      code === 'ERR_ZT_HBONE_SESSION' ||
      code === 'ERR_ZT_HBONE_PING_TIMEOUT'
    )
      return 'H2_HANDSHAKE_FAILURE';
    if (
      code.startsWith('ERR_ZT_CERT_') ||
      code.startsWith('ERR_ZT_CA_') ||
      code.startsWith('ERR_ZT_IDENTITY_')
    )
      return 'IDENTITY_ERROR';
    e = e.cause;
  }
  return 'CONNECT';
}

/** The flag of a connection whose upstream side never opened: flagFor's, and never `-`. */
export function dialFlag(err: Error): ResponseFlag {
  const f = flagFor(err);
  return f === '-' ? 'CONNECT' : f;
}
