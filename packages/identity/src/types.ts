import type { Identity } from './identity.ts';

/** A workload's certificate and key, as the transport uses them. All PEM. */
export interface WorkloadCertificate {
  readonly identity: Identity;
  /** Leaf first, then intermediates; the root is not included (it is in `roots`). */
  readonly certChain: readonly string[];
  /** PKCS#8 PEM. Never logged, never dumped. */
  readonly privateKey: string;
  /** The trust bundle peers' certificates are verified against. */
  readonly roots: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** `connection`: a live connection waits for it; `prefetch`: warming the cache ahead of need. */
export type CertPriority = 'connection' | 'prefetch';

/**
 * Where the transport gets certificates. Implemented by SecretManager (and by fixtures in tests).
 * `fetchCertificate` resolves with a certificate valid now, or rejects with an IdentityError.
 */
export interface CertSource {
  fetchCertificate(identity: Identity, priority?: CertPriority): Promise<WorkloadCertificate>;
  /** Called after a certificate was renewed; returns an unsubscribe function. */
  onRotate(listener: (cert: WorkloadCertificate) => void): () => void;
}

/** Something that mints one certificate for an identity: the CA client, or a local fake CA. */
export interface CertificateProvider {
  fetchCertificate(identity: Identity): Promise<WorkloadCertificate>;
  close?(): void;
}
