import type { Identity } from './identity.ts';
import type { WorkloadCertificate } from './types.ts';
import { type X509, x509 } from './x509.ts';

const PEM_BLOCK_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate of PEM text, in order, each as its own PEM string. */
export function splitPem(text: string): string[] {
  return text.match(PEM_BLOCK_RE) ?? [];
}

/** The URI SANs of a certificate (the only SAN type SPIFFE uses). */
export function uriSans(cert: X509.X509Certificate): string[] {
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!ext) return [];
  return ext.names.items.filter((n) => n.type === 'url').map((n) => n.value);
}

/** The URI SANs a CSR asks for. */
export function csrUriSans(csr: X509.Pkcs10CertificateRequest): string[] {
  const ext = csr.extensions.find((e) => e instanceof x509.SubjectAlternativeNameExtension);
  if (!ext) return [];
  return (ext as X509.SubjectAlternativeNameExtension).names.items
    .filter((n) => n.type === 'url')
    .map((n) => n.value);
}

/**
 * One certificate's public parts as SecretManager.dump() lists them: the PEM as held, the serial in
 * hex as OpenSSL prints it, millisecond ISO times, the SANs. Not upstream's /config_dump shape
 * (decimal serial, base64 PEM, whole seconds), which istioctl parses: the app's config dump
 * reformats from `pem`.
 */
export interface CertInfo {
  readonly pem: string;
  readonly serialNumber: string;
  readonly validFrom: string;
  readonly expirationTime: string;
  readonly subjectAltNames: readonly string[];
}

export function certInfo(pem: string): CertInfo {
  const cert = new x509.X509Certificate(pem);
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return {
    pem,
    serialNumber: cert.serialNumber,
    validFrom: cert.notBefore.toISOString(),
    expirationTime: cert.notAfter.toISOString(),
    subjectAltNames: ext
      ? ext.names.items.map((n) => `${n.type === 'url' ? 'URI' : n.type.toUpperCase()}:${n.value}`)
      : [],
  };
}

/**
 * Normalizes a chain as a CA returns it (leaf first, root last) into a WorkloadCertificate: the
 * chain served to peers is the leaf and intermediates; the roots are the chain's last certificate
 * (when there is more than the leaf) and any configured trust roots, without duplicates.
 */
export function toWorkloadCertificate(
  identity: Identity,
  chainPems: readonly string[],
  privateKey: string,
  extraRoots: readonly string[] = [],
): WorkloadCertificate {
  const leaf = new x509.X509Certificate(chainPems[0] as string);
  const certChain = chainPems.length > 1 ? chainPems.slice(0, -1) : [...chainPems];
  const roots: string[] = [];
  const seen = new Set<string>();
  const candidates =
    chainPems.length > 1 ? [chainPems[chainPems.length - 1] as string, ...extraRoots] : [...extraRoots];
  for (const pem of candidates.flatMap(splitPem)) {
    const key = pem.replace(/\s+/g, '');
    if (seen.has(key)) continue;
    seen.add(key);
    roots.push(pem);
  }
  return { identity, certChain, privateKey, roots, notBefore: leaf.notBefore, notAfter: leaf.notAfter };
}
