import type { CertPriority, CertSource, WorkloadCertificate } from '@zt/identity';
import { Identity } from '@zt/identity';
import type { WireCert } from './types.ts';

export function toWire(c: WorkloadCertificate): WireCert {
  return {
    identity: String(c.identity),
    certChain: [...c.certChain],
    privateKey: c.privateKey,
    roots: [...c.roots],
    notBefore: c.notBefore.getTime(),
    notAfter: c.notAfter.getTime(),
  };
}

export function fromWire(w: WireCert): WorkloadCertificate {
  return {
    identity: Identity.parse(w.identity),
    certChain: w.certChain,
    privateKey: w.privateKey,
    roots: w.roots,
    notBefore: new Date(w.notBefore),
    notAfter: new Date(w.notAfter),
  };
}

/**
 * A worker's CertSource: asks the main thread (which owns the SecretManager) by identity, caches
 * the answer, and replaces it when the main thread announces a rotation.
 */
export class RemoteCertSource implements CertSource {
  readonly #ask: (identity: string) => Promise<WireCert>;
  readonly #cache = new Map<string, WorkloadCertificate>();
  readonly #inflight = new Map<string, Promise<WorkloadCertificate>>();
  readonly #listeners = new Set<(c: WorkloadCertificate) => void>();

  constructor(ask: (identity: string) => Promise<WireCert>) {
    this.#ask = ask;
  }

  fetchCertificate(identity: Identity, _priority?: CertPriority): Promise<WorkloadCertificate> {
    const key = String(identity);
    const c = this.#cache.get(key);
    if (c && c.notAfter.getTime() > Date.now()) return Promise.resolve(c);
    let p = this.#inflight.get(key);
    if (!p) {
      p = this.#ask(key).then(
        (w) => {
          this.#inflight.delete(key);
          const cert = fromWire(w);
          this.#cache.set(key, cert);
          return cert;
        },
        (e: unknown) => {
          this.#inflight.delete(key);
          throw e;
        },
      );
      this.#inflight.set(key, p);
    }
    return p;
  }

  rotated(w: WireCert): void {
    const cert = fromWire(w);
    this.#cache.set(w.identity, cert);
    for (const l of this.#listeners) l(cert);
  }

  onRotate(listener: (cert: WorkloadCertificate) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
