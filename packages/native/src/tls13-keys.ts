// TLS 1.3 traffic keys from the secrets Node's 'keylog' event reports (NSS key log format). The
// kernel TLS calls need the record layer's key and IV, which OpenSSL does not hand out; they are
// derived here from the traffic secret exactly as RFC 8446 §7.3 does it.
import { createHmac } from 'node:crypto';

/** The ciphers the kernel's TLS 1.3 record layer implements, by their AEAD name. */
export type KernelTlsCipher = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';

interface Suite {
  cipher: KernelTlsCipher;
  hash: 'sha256' | 'sha384';
  keyLength: number;
}

// IANA names, as `tlsSocket.getCipher().standardName` reports them.
const SUITES: Record<string, Suite> = {
  TLS_AES_128_GCM_SHA256: { cipher: 'aes-128-gcm', hash: 'sha256', keyLength: 16 },
  TLS_AES_256_GCM_SHA384: { cipher: 'aes-256-gcm', hash: 'sha384', keyLength: 32 },
  TLS_CHACHA20_POLY1305_SHA256: { cipher: 'chacha20-poly1305', hash: 'sha256', keyLength: 32 },
};

/** The key, the 12-byte write IV and the AEAD of one direction of a TLS 1.3 connection. */
export interface TrafficKeys {
  cipher: KernelTlsCipher;
  key: Buffer;
  iv: Buffer;
}

/** A line of the key log: `<label> <client random hex> <secret hex>`. */
export interface KeylogEntry {
  label: string;
  clientRandom: string;
  secret: Buffer;
}

export function parseKeylogLine(line: Buffer | string): KeylogEntry | undefined {
  const parts = line.toString('latin1').trim().split(' ');
  if (parts.length !== 3 || !/^[0-9a-f]+$/i.test(parts[2] ?? '')) return undefined;
  const [label, clientRandom, secret] = parts as [string, string, string];
  return { label, clientRandom, secret: Buffer.from(secret, 'hex') };
}

/** HKDF-Expand-Label (RFC 8446 §7.1) for outputs of at most one hash block, all TLS 1.3 needs here. */
export function hkdfExpandLabel(
  hash: 'sha256' | 'sha384',
  secret: Buffer,
  label: string,
  context: Buffer,
  length: number,
): Buffer {
  const full = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.concat([
    Buffer.from([length >> 8, length & 0xff, full.length]),
    full,
    Buffer.from([context.length]),
    context,
  ]);
  // HKDF-Expand's T(1) = HMAC(PRK, info || 0x01); one block covers keys and IVs (<= 32 bytes).
  return createHmac(hash, secret)
    .update(Buffer.concat([info, Buffer.from([1])]))
    .digest()
    .subarray(0, length);
}

/** Whether the kernel record layer can take over a connection using this cipher suite. */
export function isKernelTlsSuite(standardName: string): boolean {
  return standardName in SUITES;
}

/**
 * The record key and IV for a traffic secret (CLIENT_TRAFFIC_SECRET_0 / SERVER_TRAFFIC_SECRET_0)
 * of a connection that negotiated `standardName`. Throws RangeError for suites outside TLS 1.3.
 */
export function trafficKeys(standardName: string, secret: Buffer): TrafficKeys {
  const suite = SUITES[standardName];
  if (!suite) throw new RangeError(`${standardName} is not a TLS 1.3 cipher suite the kernel implements`);
  const empty = Buffer.alloc(0);
  return {
    cipher: suite.cipher,
    key: hkdfExpandLabel(suite.hash, secret, 'key', empty, suite.keyLength),
    iv: hkdfExpandLabel(suite.hash, secret, 'iv', empty, 12),
  };
}
