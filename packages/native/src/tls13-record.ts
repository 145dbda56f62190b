// The TLS 1.3 record protection (RFC 8446 §5.2) in userspace, for the few records the kernel TLS
// handoff must handle itself: records the peer sent before the kernel took over but after the
// handshake (data read ahead, session tickets), and telling handshake-key records from
// application-key ones by trying to open them.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { KernelTlsCipher, TrafficKeys } from './tls13-keys.ts';

export const RECORD_HEADER = 5;
export const CONTENT_ALERT = 21;
export const CONTENT_HANDSHAKE = 22;
export const CONTENT_APPLICATION_DATA = 23;
const TAG = 16;

function nonce(iv: Buffer, sequence: bigint): Buffer {
  const n = Buffer.from(iv);
  const seq = Buffer.alloc(8);
  seq.writeBigUInt64BE(sequence);
  for (let i = 0; i < 8; i++) n[4 + i] = (n[4 + i] as number) ^ (seq[i] as number);
  return n;
}

type Aead = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
const aead = (c: KernelTlsCipher): Aead => c;

/** Length of the first whole record in `buf` (header included), or 0 when it is not all there. */
export function wholeRecordLength(buf: Buffer): number {
  if (buf.length < RECORD_HEADER) return 0;
  const len = RECORD_HEADER + buf.readUInt16BE(3);
  return buf.length >= len ? len : 0;
}

/** Seals `data` as one record of inner type `type`. */
export function sealRecord(keys: TrafficKeys, sequence: bigint, type: number, data: Buffer): Buffer {
  const header = Buffer.from([CONTENT_APPLICATION_DATA, 3, 3, 0, 0]);
  header.writeUInt16BE(data.length + 1 + TAG, 3);
  const c = createCipheriv(aead(keys.cipher) as 'aes-256-gcm', keys.key, nonce(keys.iv, sequence), {
    authTagLength: TAG,
  });
  c.setAAD(header);
  const body = Buffer.concat([c.update(data), c.update(Buffer.from([type])), c.final(), c.getAuthTag()]);
  return Buffer.concat([header, body]);
}

/**
 * Opens one whole record with `keys` at `sequence`: its inner content type and plaintext, or
 * undefined when it was not protected with these keys at this sequence number.
 */
export function openRecord(
  keys: TrafficKeys,
  sequence: bigint,
  record: Buffer,
): { type: number; data: Buffer } | undefined {
  if (record[0] !== CONTENT_APPLICATION_DATA || record.length < RECORD_HEADER + TAG + 1) return undefined;
  const d = createDecipheriv(aead(keys.cipher) as 'aes-256-gcm', keys.key, nonce(keys.iv, sequence), {
    authTagLength: TAG,
  });
  d.setAAD(record.subarray(0, RECORD_HEADER));
  d.setAuthTag(record.subarray(record.length - TAG));
  let inner: Buffer;
  try {
    inner = Buffer.concat([d.update(record.subarray(RECORD_HEADER, record.length - TAG)), d.final()]);
  } catch {
    return undefined;
  }
  // The content type is the last non-zero byte; zeros after it are padding.
  let end = inner.length - 1;
  while (end >= 0 && inner[end] === 0) end--;
  if (end < 0) return undefined;
  return { type: inner[end] as number, data: inner.subarray(0, end) };
}
