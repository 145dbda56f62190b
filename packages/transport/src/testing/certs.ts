import type { CertSource, Identity, WorkloadCertificate } from '@zt/identity';

export interface StaticCertSource extends CertSource {
  /** Replaces the certificate for its identity and notifies `onRotate` listeners. */
  rotate(cert: WorkloadCertificate): void;
  /** fetchCertificate calls so far. */
  readonly fetches: number;
}

/** A CertSource serving fixed certificates, one per identity; unknown identities reject. */
export function staticCertSource(...certs: WorkloadCertificate[]): StaticCertSource {
  const byId = new Map<string, WorkloadCertificate>(certs.map((c) => [String(c.identity), c]));
  const listeners = new Set<(c: WorkloadCertificate) => void>();
  let fetches = 0;
  return {
    async fetchCertificate(identity: Identity): Promise<WorkloadCertificate> {
      fetches++;
      const c = byId.get(String(identity));
      if (!c) throw new Error(`staticCertSource: no certificate for ${identity}`);
      return c;
    },
    onRotate(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    rotate(cert) {
      byId.set(String(cert.identity), cert);
      for (const l of listeners) l(cert);
    },
    get fetches() {
      return fetches;
    },
  };
}
