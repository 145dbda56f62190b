// Kernel TLS (bench spike, issue #21 §7): give the record layer of a TLS 1.3 connection whose
// handshake Node did to the kernel, so that plain write()/read() on the TCP socket are encrypted
// and decrypted by it. Not on zt's data path: see bench/README.md "Kernel TLS" for the verdict.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { ZtError } from '@zt/errors';
import { addon } from './binding.ts';
import { call, NativeSyscallError } from './errors.ts';
import { type FdTarget, fdOf } from './fd.ts';
import type { KernelTlsCipher, TrafficKeys } from './tls13-keys.ts';

// linux/tls.h
const CIPHER_TYPES: Record<KernelTlsCipher, number> = {
  'aes-128-gcm': 51,
  'aes-256-gcm': 52,
  'chacha20-poly1305': 54,
};

/** This kernel cannot do TLS: built without CONFIG_TLS, or the tls module is not loaded. */
export class KernelTlsUnsupportedError extends ZtError {
  constructor(detail: string) {
    super(
      'ERR_ZT_NATIVE_KTLS_UNSUPPORTED',
      `kernel TLS is not available (${detail}): load the module with \`modprobe tls\`, or use a kernel built with CONFIG_TLS`,
    );
    this.name = 'KernelTlsUnsupportedError';
  }
}

function sequenceBytes(sequence: bigint): Buffer {
  if (sequence < 0n || sequence >= 2n ** 64n)
    throw new RangeError(`sequence ${sequence} is outside 0..2^64-1`);
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(sequence);
  return b;
}

/**
 * Hands one direction of the socket's record layer to the kernel: 'tx' encrypts what is written
 * from now on, 'rx' decrypts what is read. `sequence` is the number of records already protected
 * with these keys in that direction (0 right after the handshake, more when the peer's tickets
 * or read-ahead records were processed in userspace). The socket must be an established TCP
 * connection whose bytes so far end on a record boundary in that direction.
 */
export function enableKernelTls(
  target: FdTarget,
  direction: 'tx' | 'rx',
  keys: TrafficKeys,
  sequence = 0n,
): void {
  const native = addon('enableKernelTls');
  const fd = fdOf(target);
  const seq = sequenceBytes(sequence);
  try {
    call(() => native.setTcpUlp(fd, 'tls'));
  } catch (e) {
    // The second direction finds the ULP already attached.
    if (!(e instanceof NativeSyscallError && e.code === 'EEXIST')) throw unsupported(e);
  }
  call(() => native.setTlsCrypto(fd, direction === 'tx', CIPHER_TYPES[keys.cipher], keys.key, keys.iv, seq));
}

function unsupported(e: unknown): unknown {
  if (e instanceof NativeSyscallError && e.code === 'ENOENT') {
    return new KernelTlsUnsupportedError(`setsockopt(TCP_ULP, "tls") failed with ENOENT; ${ulpList()}`);
  }
  return e;
}

function ulpList(): string {
  try {
    const list = readFileSync('/proc/sys/net/ipv4/tcp_available_ulp', 'utf8').trim();
    return `the kernel offers the ULPs [${list}]`;
  } catch {
    return 'the kernel lists no ULPs';
  }
}

export interface KernelTlsSupport {
  supported: boolean;
  /** Why not, with the evidence (errno, the kernel's ULP list); empty when supported. */
  reason: string;
}

/**
 * Probes kernel TLS on a loopback connection of its own: attaches the "tls" ULP, which is the step
 * that fails on a kernel without it (the module autoloads when it exists).
 */
export async function kernelTlsSupport(): Promise<KernelTlsSupport> {
  const server = net.createServer((c) => c.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  const socket = net.connect(port, '127.0.0.1');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    try {
      call(() => addon('kernelTlsSupport').setTcpUlp(fdOf(socket), 'tls'));
      return { supported: true, reason: '' };
    } catch (e) {
      const err = unsupported(e);
      return { supported: false, reason: err instanceof Error ? err.message : String(err) };
    }
  } finally {
    socket.destroy();
    server.close();
  }
}
