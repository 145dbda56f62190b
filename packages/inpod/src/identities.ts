import type { Identity } from '@zt/identity';

/**
 * Reference counts per SPIFFE identity: pods of one service account share a certificate, so the
 * certificate is fetched with the first pod and forgotten with the last.
 */
export class IdentityRefs {
  readonly #counts = new Map<string, { identity: Identity; n: number }>();

  /** Counts one more pod; true when it is the first of its identity. */
  acquire(identity: Identity): boolean {
    const key = identity.toString();
    const entry = this.#counts.get(key);
    if (entry) {
      entry.n += 1;
      return false;
    }
    this.#counts.set(key, { identity, n: 1 });
    return true;
  }

  /** Counts one pod less; true when it was the last of its identity. */
  release(identity: Identity): boolean {
    const key = identity.toString();
    const entry = this.#counts.get(key);
    if (!entry) return false;
    entry.n -= 1;
    if (entry.n > 0) return false;
    this.#counts.delete(key);
    return true;
  }

  count(identity: Identity): number {
    return this.#counts.get(identity.toString())?.n ?? 0;
  }

  identities(): Identity[] {
    return [...this.#counts.values()].map((e) => e.identity);
  }
}
