// What most users need: an identity, a certificate source, and the two ways to fill it.

export { BACKOFF_INITIAL_MS, BACKOFF_MAX_MS, backoffDelay } from './backoff.ts';
export { type CertInfo, certInfo, splitPem, toWorkloadCertificate, uriSans } from './certificate.ts';
export { CaClient, type CaClientOptions, DEFAULT_CERT_TTL_SECONDS } from './client.ts';
export { type Clock, systemClock, type TimerHandle } from './clock.ts';
// Lower level: CSRs, certificate parsing, time, the in-memory CA.
export { type CsrGenerator, type GeneratedCsr, generateCsr } from './csr.ts';
export { CsrWorkerPool } from './csr-pool.ts';
export {
  CaConfigError,
  CaResponseError,
  CaUnavailableError,
  CertForgottenError,
  IdentityError,
  IdentityMismatchError,
  InvalidIdentityError,
  TokenError,
} from './errors.ts';
export { type FakeCaOptions, FakeCaProvider } from './fake.ts';
export { Identity } from './identity.ts';
export { type IssueOptions, LocalCa } from './local-ca.ts';
export { type CertState, type CertsDump, SecretManager, type SecretManagerOptions } from './manager.ts';
export type { CertificateProvider, CertPriority, CertSource, WorkloadCertificate } from './types.ts';
