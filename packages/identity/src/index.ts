// Public API of @zt/identity. Each group below is a chunk of its own (the comment and the blank line
// after it keep the import sorter from mixing groups).

// What most users need: an identity, a workload's identity, a certificate source and the two ways
// to fill it (the CA client, or the fake CA), and the errors they throw.

export { CaClient, type CaClientOptions, DEFAULT_CERT_TTL_SECONDS } from './client.ts';
export {
  CaConfigError,
  CaResponseError,
  CaUnavailableError,
  CertForgottenError,
  IdentityError,
  type IdentityErrorCode,
  IdentityMismatchError,
  InvalidIdentityError,
  TokenError,
} from './errors.ts';
export { type FakeCaOptions, FakeCaProvider } from './fake.ts';
export { Identity } from './identity.ts';
export { type CertState, type CertsDump, SecretManager, type SecretManagerOptions } from './manager.ts';
export type { CertificateProvider, CertPriority, CertSource, WorkloadCertificate } from './types.ts';
export {
  DEFAULT_SERVICE_ACCOUNT,
  DEFAULT_TRUST_DOMAIN,
  type IdentityFields,
  workloadIdentity,
} from './workload-identity.ts';

// Lower level: CSRs, certificate parsing, time, the in-memory CA.

export { type CertInfo, certInfo, splitPem, toWorkloadCertificate, uriSans } from './certificate.ts';
export { type Clock, systemClock, type TimerHandle } from './clock.ts';
export { type CsrGenerator, type GeneratedCsr, generateCsr } from './csr.ts';
export { CsrWorkerPool } from './csr-pool.ts';
export { type IssueOptions, LocalCa } from './local-ca.ts';
