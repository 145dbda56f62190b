// The one place that sets up @peculiar/x509 with Node's WebCrypto; everything else imports from here.
import { webcrypto } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as X509 from '@peculiar/x509';

export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
export type { X509 };

const require = createRequire(import.meta.url);
let loaded: typeof X509 | undefined;

function load(): typeof X509 {
  if (!loaded) {
    loaded = require('@peculiar/x509') as typeof X509;
    loaded.cryptoProvider.set(webcrypto as unknown as Parameters<typeof X509.cryptoProvider.set>[0]);
  }
  return loaded;
}

/**
 * @peculiar/x509, loaded and wired to Node's WebCrypto on first use. Data-plane worker threads
 * import this package for `Identity` alone; loading the library only when a certificate is parsed
 * or made keeps it (~20 MB RSS per thread) out of them. Types are under `X509`.
 */
export const x509: typeof X509 = new Proxy({} as typeof X509, {
  get: (_target, key) => load()[key as keyof typeof X509],
});

export const crypto: webcrypto.Crypto = webcrypto;

export const EC_KEY_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const EC_SIGN_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const;

export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(EC_KEY_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

export function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive
  return Buffer.from(bytes).toString('hex');
}
