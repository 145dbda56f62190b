import { InvalidIdentityError } from './errors.ts';

const PREFIX = 'spiffe://';
// Trust domains are DNS-like names; namespaces and service accounts are Kubernetes names, but
// upstream accepts any non-empty segment without '/', so we do too.
const TRUST_DOMAIN_RE = /^[a-zA-Z0-9._-]+$/;

/** A workload identity, `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`. Immutable. */
export class Identity {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly #uri: string;

  constructor(trustDomain: string, namespace: string, serviceAccount: string) {
    const uri = `${PREFIX}${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
    if (!TRUST_DOMAIN_RE.test(trustDomain)) throw new InvalidIdentityError(uri, 'bad trust domain');
    for (const [what, v] of [
      ['namespace', namespace],
      ['service account', serviceAccount],
    ] as const) {
      if (v.length === 0 || v.includes('/')) throw new InvalidIdentityError(uri, `bad ${what} "${v}"`);
    }
    this.trustDomain = trustDomain;
    this.namespace = namespace;
    this.serviceAccount = serviceAccount;
    this.#uri = uri;
  }

  /** Parses a SPIFFE URI; anything that is not exactly the Istio form is rejected. */
  static parse(uri: string): Identity {
    if (!uri.startsWith(PREFIX)) throw new InvalidIdentityError(uri, `must start with ${PREFIX}`);
    const parts = uri.slice(PREFIX.length).split('/');
    if (parts.length !== 5 || parts[1] !== 'ns' || parts[3] !== 'sa') {
      throw new InvalidIdentityError(uri, 'path must be /ns/<namespace>/sa/<service-account>');
    }
    const [td, , ns, , sa] = parts as [string, string, string, string, string];
    if (td.length === 0) throw new InvalidIdentityError(uri, 'empty trust domain');
    return new Identity(td, ns, sa);
  }

  /** Like parse, but returns undefined instead of throwing. */
  static tryParse(uri: string): Identity | undefined {
    try {
      return Identity.parse(uri);
    } catch {
      // What was wrong is the caller's to ask for: parse() throws it with the reason.
      return undefined;
    }
  }

  equals(other: Identity): boolean {
    return this.#uri === other.#uri;
  }

  toString(): string {
    return this.#uri;
  }

  toJSON(): string {
    return this.#uri;
  }
}
