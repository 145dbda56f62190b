import { createSecureContext, type PeerCertificate, type SecureContext, type TLSSocket } from 'node:tls';
import { Identity, type WorkloadCertificate } from '@zt/identity';
import { PeerIdentityMismatchError, PeerTrustDomainError } from './errors.ts';

export const ALPN_H2 = ['h2'];

// A SecureContext parses PEM and keys: build it once per certificate object, not per connection.
const contexts = new WeakMap<WorkloadCertificate, Map<string, SecureContext>>();

/** The context for `cert`; TLS 1.3 only unless `tls12` (upstream's TLS12_ENABLED). */
export function secureContextFor(cert: WorkloadCertificate, tls12 = false): SecureContext {
  let byVersion = contexts.get(cert);
  if (!byVersion) {
    byVersion = new Map();
    contexts.set(cert, byVersion);
  }
  const key = tls12 ? '1.2' : '1.3';
  let ctx = byVersion.get(key);
  if (!ctx) {
    ctx = createSecureContext({
      cert: cert.certChain.join('\n'),
      key: cert.privateKey,
      ca: [...cert.roots],
      minVersion: tls12 ? 'TLSv1.2' : 'TLSv1.3',
      maxVersion: 'TLSv1.3',
    });
    byVersion.set(key, ctx);
  }
  return ctx;
}

/** The URI SANs of a certificate, from Node's `subjectaltname` text (`URI:a, DNS:b`). */
export function uriSans(cert: PeerCertificate | undefined): string[] {
  const text = cert?.subjectaltname;
  if (!text) return [];
  const out: string[] = [];
  // Node quotes a value that contains a comma or quote; SPIFFE URIs never do, so such entries are
  // not identities and can be skipped.
  for (const entry of text.split(', ')) {
    if (entry.startsWith('URI:')) out.push(entry.slice(4));
  }
  return out;
}

/** The SPIFFE identities of a peer certificate (entries that do not parse are ignored). */
export function spiffeIdentities(cert: PeerCertificate | undefined): Identity[] {
  const out: Identity[] = [];
  for (const uri of uriSans(cert)) {
    const id = Identity.tryParse(uri);
    if (id) out.push(id);
  }
  return out;
}

/**
 * Client side: the server's URI SAN must be one of `expected`. Its DNS names and the host we dialed
 * are ignored, as upstream does. Returned (not thrown) so Node fails the handshake with it.
 */
export function checkServerIdentity(
  expected: readonly Identity[],
): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const ids = spiffeIdentities(cert);
    if (ids.some((id) => expected.some((e) => e.equals(id)))) return undefined;
    return new PeerIdentityMismatchError(
      expected.map(String),
      ids.length > 0 ? ids.map(String) : uriSans(cert),
    );
  };
}

/**
 * Server side, after the chain was verified by OpenSSL: the client's SPIFFE identity must be in
 * our trust domain. Returns the identity or throws PeerTrustDomainError.
 */
export function verifyClientIdentity(socket: TLSSocket, trustDomain: string): Identity {
  const cert = socket.getPeerCertificate();
  const ids = spiffeIdentities(cert);
  const match = ids.find((id) => id.trustDomain === trustDomain);
  if (!match) throw new PeerTrustDomainError(trustDomain, ids.length > 0 ? ids.map(String) : uriSans(cert));
  return match;
}
