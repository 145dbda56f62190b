import { errorBase } from '@zt/errors';

/**
 * Every code an identity error carries: `ERR_ZT_IDENTITY_*` (SPIFFE names, CSRs), `ERR_ZT_CA_*` (the
 * CA), `ERR_ZT_CERT_*` (the certificate manager).
 */
export const IDENTITY_ERROR_CODES = [
  'ERR_ZT_IDENTITY_INVALID',
  'ERR_ZT_IDENTITY_CSR',
  'ERR_ZT_CA_UNAVAILABLE',
  'ERR_ZT_CA_EMPTY_RESPONSE',
  'ERR_ZT_CA_BAD_CERTIFICATE',
  'ERR_ZT_CA_IDENTITY_MISMATCH',
  'ERR_ZT_CA_TOKEN',
  'ERR_ZT_CA_CONFIG',
  'ERR_ZT_CERT_FORGOTTEN',
  'ERR_ZT_CERT_CLOSED',
  'ERR_ZT_CERT_FETCH',
] as const;
export type IdentityErrorCode = (typeof IDENTITY_ERROR_CODES)[number];

/** Base of every identity error: a stable `code` for programs, a message that says what to check. */
export class IdentityError extends errorBase('IdentityError', IDENTITY_ERROR_CODES) {}

export class InvalidIdentityError extends IdentityError {
  constructor(input: string, why: string) {
    super(
      'ERR_ZT_IDENTITY_INVALID',
      `invalid SPIFFE identity "${input}": ${why}; expected spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`,
    );
    this.name = 'InvalidIdentityError';
  }
}

/** The CA could not be reached or refused the request (gRPC status in `grpcCode`). */
export class CaUnavailableError extends IdentityError {
  readonly grpcCode: number | undefined;
  constructor(address: string, message: string, grpcCode?: number, options?: { cause?: unknown }) {
    super(
      'ERR_ZT_CA_UNAVAILABLE',
      `certificate request to the CA at ${address} failed: ${message}; check CA_ADDRESS, that istiod is reachable and that CA_ROOT_CA verifies it`,
      options,
    );
    this.name = 'CaUnavailableError';
    this.grpcCode = grpcCode;
  }
}

/** The CA answered with something that is not a usable certificate for the key and identity asked. */
export class CaResponseError extends IdentityError {
  constructor(code: 'ERR_ZT_CA_EMPTY_RESPONSE' | 'ERR_ZT_CA_BAD_CERTIFICATE', identity: string, why: string) {
    super(code, `the CA returned no usable certificate for ${identity}: ${why}; check istiod's CA logs`);
    this.name = 'CaResponseError';
  }
}

/** The certificate the CA signed does not carry the identity that was asked for. */
export class IdentityMismatchError extends IdentityError {
  readonly expected: string;
  readonly got: readonly string[];
  constructor(expected: string, got: readonly string[]) {
    super(
      'ERR_ZT_CA_IDENTITY_MISMATCH',
      `the CA signed a certificate for [${got.join(', ')}] instead of ${expected}; check that the token (AUTH_TOKEN) belongs to a ztunnel allowed to impersonate workloads`,
    );
    this.name = 'IdentityMismatchError';
    this.expected = expected;
    this.got = got;
  }
}

/** The token file sent as `authorization: Bearer` could not be read. */
export class TokenError extends IdentityError {
  constructor(path: string, why: string, options?: { cause?: unknown }) {
    super(
      'ERR_ZT_CA_TOKEN',
      `cannot read the CA token file ${path}: ${why}; check AUTH_TOKEN and the projected token volume`,
      options,
    );
    this.name = 'TokenError';
  }
}

/** Bad CaClient options (address, roots, headers). */
export class CaConfigError extends IdentityError {
  constructor(why: string, options?: { cause?: unknown }) {
    super('ERR_ZT_CA_CONFIG', `invalid CA client configuration: ${why}`, options);
    this.name = 'CaConfigError';
  }
}

/** The identity was forgotten (its last pod left) while a request for it waited. */
export class CertForgottenError extends IdentityError {
  constructor(identity: string) {
    super(
      'ERR_ZT_CERT_FORGOTTEN',
      `certificate for ${identity} was dropped while being fetched: no workload uses it anymore`,
    );
    this.name = 'CertForgottenError';
  }
}
