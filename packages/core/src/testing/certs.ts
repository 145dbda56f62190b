import type { CertSource, Identity, WorkloadCertificate } from '@zt/identity';
import { TestCa } from '@zt/identity/testing';

/** A CertSource minting from a TestCa on first use, one certificate per identity (cached). */
export function testCaCertSource(ca: TestCa): CertSource & { rotate(identity: Identity): Promise<void> } {
  const cache = new Map<string, Promise<WorkloadCertificate>>();
  const listeners = new Set<(c: WorkloadCertificate) => void>();
  return {
    fetchCertificate(identity) {
      const key = String(identity);
      let p = cache.get(key);
      if (!p) {
        p = ca.issue(identity);
        cache.set(key, p);
      }
      return p;
    },
    onRotate(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    async rotate(identity) {
      const p = ca.issue(identity);
      cache.set(String(identity), p);
      const c = await p;
      for (const l of listeners) l(c);
    },
  };
}

export { TestCa };
