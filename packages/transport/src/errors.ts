import { errorBase } from '@zt/errors';

/** Every code a transport error carries. */
export const HBONE_ERROR_CODES = [
  'ERR_ZT_HBONE_CONNECT_STATUS',
  'ERR_ZT_HBONE_PEER_IDENTITY',
  'ERR_ZT_HBONE_TRUST_DOMAIN',
  'ERR_ZT_HBONE_CONNECT_TIMEOUT',
  'ERR_ZT_HBONE_CONNECTION',
  'ERR_ZT_HBONE_CONNECTION_CLOSED',
  'ERR_ZT_HBONE_STREAM_RESET',
  'ERR_ZT_HBONE_AUTHORITY',
  'ERR_ZT_HBONE_POOL_CLOSED',
  'ERR_ZT_HBONE_ALPN',
  'ERR_ZT_HBONE_ANSWERED',
  'ERR_ZT_HBONE_BAD_REQUEST',
  'ERR_ZT_HBONE_MALFORMED_STREAM',
  'ERR_ZT_HBONE_PING_TIMEOUT',
  'ERR_ZT_HBONE_SESSION',
] as const;
export type HboneErrorCode = (typeof HBONE_ERROR_CODES)[number];

/** Base of every transport error: a stable `code` for programs, a message that says what to check. */
export class HboneError extends errorBase('HboneError', HBONE_ERROR_CODES) {}

/** The peer answered the CONNECT with a status other than 200. */
export class HboneConnectError extends HboneError {
  readonly status: number;
  constructor(status: number, authority: string) {
    super(
      'ERR_ZT_HBONE_CONNECT_STATUS',
      `HBONE CONNECT to ${authority} answered ${status}: ${explainStatus(status)}`,
    );
    this.name = 'HboneConnectError';
    this.status = status;
  }
}

function explainStatus(status: number): string {
  switch (status) {
    case 400:
      return 'the peer rejected the request as malformed (check the :authority is ip:port)';
    case 401:
      return 'denied by an authorization policy at the destination';
    case 503:
      return 'the destination proxy could not reach the destination workload';
    default:
      return 'unexpected status from the destination proxy';
  }
}

/** The peer's certificate does not carry one of the identities we expected. */
export class PeerIdentityMismatchError extends HboneError {
  readonly expected: readonly string[];
  readonly actual: readonly string[];
  constructor(expected: readonly string[], actual: readonly string[]) {
    super(
      'ERR_ZT_HBONE_PEER_IDENTITY',
      `peer presented identities [${actual.join(', ')}] but one of [${expected.join(', ')}] was expected; ` +
        'check the destination workload runs under the expected service account and that xDS is current',
    );
    this.name = 'PeerIdentityMismatchError';
    this.expected = expected;
    this.actual = actual;
  }
}

/** A client certificate from another trust domain, or one without a SPIFFE URI SAN. */
export class PeerTrustDomainError extends HboneError {
  constructor(want: string, actual: readonly string[]) {
    super(
      'ERR_ZT_HBONE_TRUST_DOMAIN',
      `client certificate identities [${actual.join(', ')}] are not in trust domain "${want}"; ` +
        'check TRUST_DOMAIN and the peer mesh configuration',
    );
    this.name = 'PeerTrustDomainError';
  }
}

export class ConnectTimeoutError extends HboneError {
  constructor(address: string, ms: number) {
    super(
      'ERR_ZT_HBONE_CONNECT_TIMEOUT',
      `connection to ${address} timed out after ${ms} ms, maybe a NetworkPolicy is blocking HBONE port 15008`,
    );
    this.name = 'ConnectTimeoutError';
  }
}

/** TCP connect, TLS handshake or HTTP/2 setup failed before any tunnel could be opened. */
export class HboneConnectionError extends HboneError {
  constructor(address: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super('ERR_ZT_HBONE_CONNECTION', `HBONE connection to ${address} failed: ${why}`, { cause });
    this.name = 'HboneConnectionError';
  }
}

/** The tunnel was reset (RST_STREAM) or its connection went away before it ended cleanly. */
export class StreamResetError extends HboneError {
  readonly http2Code: number;
  constructor(http2Code: number, detail: string) {
    super('ERR_ZT_HBONE_STREAM_RESET', `HBONE tunnel reset (HTTP/2 error code ${http2Code}): ${detail}`);
    this.name = 'StreamResetError';
    this.http2Code = http2Code;
  }
}

/** The :authority of an inbound CONNECT is not `ip:port` (nor `hostname:port` where one is allowed). */
export class InvalidAuthorityError extends HboneError {
  constructor(authority: string, hostnames = false) {
    super(
      'ERR_ZT_HBONE_AUTHORITY',
      `invalid HBONE :authority "${authority}": expected <ipv4>:<port>${hostnames ? ', [<ipv6>]:<port> or <service hostname>:<port>' : ' or [<ipv6>]:<port>'}`,
    );
    this.name = 'InvalidAuthorityError';
  }
}

export class PoolClosedError extends HboneError {
  constructor() {
    super('ERR_ZT_HBONE_POOL_CLOSED', 'the HBONE connection pool is closed (the proxy is shutting down)');
    this.name = 'PoolClosedError';
  }
}
