import { csrUriSans } from './certificate.ts';
import { IdentityError } from './errors.ts';
import { Identity } from './identity.ts';
import type { WorkloadCertificate } from './types.ts';
import {
  type CryptoKey,
  type CryptoKeyPair,
  EC_KEY_ALG,
  EC_SIGN_ALG,
  generateKeyPair,
  privateKeyToPem,
  randomSerial,
  type X509,
  x509,
} from './x509.ts';

export interface IssueOptions {
  notBefore?: Date;
  notAfter?: Date;
  /** Lifetime from now when notAfter is not given. Default 24 h. */
  ttlMs?: number;
  /** SAN URIs to put instead of the identity's (to mint deliberately wrong certificates). */
  uris?: string[];
  dnsNames?: string[];
  /** IP address SANs, e.g. for a CA server's own TLS certificate on 127.0.0.1. */
  ips?: string[];
}

const HOUR = 3600_000;

/**
 * A certificate authority held in memory: a self-signed ECDSA P-256 root that issues workload
 * certificates directly or signs CSRs. `FAKE_CA=true` runs on one; tests know it as `TestCa`.
 */
export class LocalCa {
  readonly trustDomain: string;
  readonly rootPem: string;
  readonly #root: X509.X509Certificate;
  readonly #keys: CryptoKeyPair;

  private constructor(trustDomain: string, root: X509.X509Certificate, keys: CryptoKeyPair) {
    this.trustDomain = trustDomain;
    this.#root = root;
    this.#keys = keys;
    this.rootPem = root.toString('pem');
  }

  static async create(options: { trustDomain?: string; name?: string } = {}): Promise<LocalCa> {
    const trustDomain = options.trustDomain ?? 'cluster.local';
    const keys = await generateKeyPair();
    const now = Date.now();
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: `O=${trustDomain}, CN=${options.name ?? 'zt test root'}`,
      notBefore: new Date(now - HOUR),
      notAfter: new Date(now + 3650 * 24 * HOUR),
      signingAlgorithm: EC_SIGN_ALG,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new LocalCa(trustDomain, root, keys);
  }

  /** A CA from an existing root: its certificate and its PKCS#8 ECDSA P-256 key, both PEM. */
  static async load(options: { certPem: string; keyPem: string; trustDomain?: string }): Promise<LocalCa> {
    const root = new x509.X509Certificate(options.certPem);
    const subtle = x509.cryptoProvider.get().subtle;
    const der = x509.PemConverter.decodeFirst(options.keyPem);
    const privateKey = await subtle.importKey('pkcs8', der, EC_KEY_ALG, true, ['sign']);
    const publicKey = await root.publicKey.export(EC_KEY_ALG, ['verify']);
    const trustDomain = options.trustDomain ?? root.subjectName.getField('O')[0] ?? 'cluster.local';
    return new LocalCa(trustDomain, root, { privateKey, publicKey } as CryptoKeyPair);
  }

  /** Signs a leaf for `publicKey` with the given SAN URIs; returns its PEM. */
  async signLeaf(publicKey: CryptoKey, uris: string[], options: IssueOptions = {}): Promise<string> {
    const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
    const notAfter = options.notAfter ?? new Date(Date.now() + (options.ttlMs ?? 24 * HOUR));
    const names: X509.JsonGeneralName[] = [
      ...uris.map((value) => ({ type: 'url' as const, value })),
      ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
      ...(options.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ];
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: '',
      issuer: this.#root.subject,
      notBefore,
      notAfter,
      signingAlgorithm: EC_SIGN_ALG,
      publicKey,
      signingKey: this.#keys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
          true,
        ),
        new x509.ExtendedKeyUsageExtension(
          [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
          false,
        ),
        new x509.SubjectAlternativeNameExtension(names, true),
        await x509.AuthorityKeyIdentifierExtension.create(this.#keys.publicKey),
      ],
    });
    return cert.toString('pem');
  }

  /**
   * Verifies a PKCS#10 CSR's signature and signs its key. The SAN URIs are the CSR's unless
   * `options.uris` says otherwise (a CA decides the identity, not the requester).
   */
  async signCsr(csrPem: string, options: IssueOptions = {}): Promise<string> {
    let csr: X509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch (err) {
      throw new IdentityError('ERR_ZT_IDENTITY_CSR', `malformed CSR: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!(await csr.verify()))
      throw new IdentityError('ERR_ZT_IDENTITY_CSR', 'CSR signature does not verify');
    const uris = options.uris ?? csrUriSans(csr);
    const publicKey = await csr.publicKey.export();
    return this.signLeaf(publicKey, uris, options);
  }

  /** A fresh key and a certificate for `identity`, signed by this CA. */
  async issue(identity: Identity | string, options: IssueOptions = {}): Promise<WorkloadCertificate> {
    const id = typeof identity === 'string' ? Identity.parse(identity) : identity;
    const keys = await generateKeyPair();
    const leafPem = await this.signLeaf(keys.publicKey, options.uris ?? [id.toString()], options);
    const leaf = new x509.X509Certificate(leafPem);
    return {
      identity: id,
      certChain: [leafPem],
      privateKey: await privateKeyToPem(keys.privateKey),
      roots: [this.rootPem],
      notBefore: leaf.notBefore,
      notAfter: leaf.notAfter,
    };
  }
}
