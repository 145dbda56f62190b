import { IdentityError } from './errors.ts';
import type { Identity } from './identity.ts';
import { type CryptoKeyPair, EC_SIGN_ALG, generateKeyPair, privateKeyToPem, x509 } from './x509.ts';

/** A certificate signing request and the private key it was made for. */
export interface GeneratedCsr {
  /** PKCS#10, PEM. */
  readonly csrPem: string;
  /** PKCS#8, PEM. */
  readonly privateKeyPem: string;
  /** The public key, SubjectPublicKeyInfo DER, to check the signed certificate carries it. */
  readonly publicKeySpki: Uint8Array;
}

/** Makes a key and a CSR for an identity; may run on the main thread or in a worker. */
export type CsrGenerator = (identity: Identity) => Promise<GeneratedCsr>;

/**
 * A fresh ECDSA P-256 key and a CSR signed with it (SHA-256) whose only content is the identity as
 * a critical URI SAN: the subject is empty, as upstream's, since the CA takes the identity from
 * the SAN alone.
 */
export async function generateCsr(identity: Identity | string): Promise<GeneratedCsr> {
  let keys: CryptoKeyPair;
  try {
    keys = await generateKeyPair();
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      keys,
      signingAlgorithm: EC_SIGN_ALG,
      extensions: [
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: String(identity) }], true),
      ],
    });
    const [privateKeyPem, spki] = await Promise.all([
      privateKeyToPem(keys.privateKey),
      x509.cryptoProvider.get().subtle.exportKey('spki', keys.publicKey),
    ]);
    return { csrPem: csr.toString('pem'), privateKeyPem, publicKeySpki: new Uint8Array(spki) };
  } catch (err) {
    throw new IdentityError(
      'ERR_ZT_IDENTITY_CSR',
      `could not generate a key and CSR for ${identity}: ${(err as Error).message}; check that Node's WebCrypto supports ECDSA P-256`,
      { cause: err },
    );
  }
}
