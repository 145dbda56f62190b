export { IdentityError, InvalidIdentityError } from './errors.ts';
export { Identity } from './identity.ts';
export type { CertPriority, CertSource, WorkloadCertificate } from './types.ts';
