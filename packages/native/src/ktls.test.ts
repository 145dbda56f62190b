import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import tls from 'node:tls';
import { addon } from './binding.ts';
import {
  available,
  enableKernelTls,
  enableKernelTlsHandoff,
  KernelTlsUnsupportedError,
  kernelTlsSupport,
  tlsHandshakeForHandoff,
  trafficKeys,
  unavailableReason,
} from './index.ts';
import { LOCALHOST_CERT, LOCALHOST_KEY } from './testing/tls-cert.ts';

async function connectedPair(): Promise<{ a: net.Socket; b: net.Socket; close: () => void }> {
  let accepted: (s: net.Socket) => void = () => {};
  const got = new Promise<net.Socket>((r) => {
    accepted = r;
  });
  const server = net.createServer((s) => accepted(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((r) => a.once('connect', r));
  const b = await got;
  return {
    a,
    b,
    close: () => {
      a.destroy();
      b.destroy();
      server.close();
    },
  };
}

const support = available ? await kernelTlsSupport() : { supported: false, reason: unavailableReason };

describe('kernel TLS calls', { skip: available ? false : `addon unavailable: ${unavailableReason}` }, () => {
  const closers: Array<() => void> = [];
  after(() => {
    for (const c of closers) c();
  });

  test('the probe and enableKernelTls agree about this kernel', async () => {
    const { a, close } = await connectedPair();
    closers.push(close);
    const keys = trafficKeys('TLS_AES_128_GCM_SHA256', Buffer.alloc(32, 3));
    if (support.supported) {
      enableKernelTls(a, 'tx', keys, 0n);
    } else {
      assert.match(support.reason, /ENOENT/);
      assert.throws(
        () => enableKernelTls(a, 'tx', keys, 0n),
        (e: unknown) => e instanceof KernelTlsUnsupportedError && e.code === 'ERR_ZT_NATIVE_KTLS_UNSUPPORTED',
      );
    }
  });

  test('setTlsCrypto checks key, IV and sequence lengths and the cipher before the kernel sees them', async () => {
    const { a, close } = await connectedPair();
    closers.push(close);
    const native = addon('test');
    const fd = (a as unknown as { _handle: { fd: number } })._handle.fd;
    const bad = (e: unknown): boolean => (e as { code?: string }).code === 'ERR_INVALID_ARG_VALUE';
    assert.throws(
      () => native.setTlsCrypto(fd, true, 51, Buffer.alloc(15), Buffer.alloc(12), Buffer.alloc(8)),
      bad,
    );
    assert.throws(
      () => native.setTlsCrypto(fd, true, 52, Buffer.alloc(16), Buffer.alloc(12), Buffer.alloc(8)),
      bad,
    );
    assert.throws(
      () => native.setTlsCrypto(fd, false, 51, Buffer.alloc(16), Buffer.alloc(8), Buffer.alloc(8)),
      bad,
    );
    assert.throws(
      () => native.setTlsCrypto(fd, true, 99, Buffer.alloc(16), Buffer.alloc(12), Buffer.alloc(8)),
      bad,
    );
  });

  test('recvSome takes at most what it is asked for, null when nothing is queued, 0 at the end', async () => {
    const { a, b, close } = await connectedPair();
    closers.push(close);
    b.pause();
    const native = addon('test');
    const fd = (b as unknown as { _handle: { fd: number; readStop(): number } })._handle;
    fd.readStop();
    const buf = Buffer.alloc(16);
    assert.equal(native.recvSome(fd.fd, buf, 4), null);
    a.write('abcdefgh');
    let n: number | null = null;
    for (let i = 0; i < 200 && n === null; i++) {
      await new Promise((r) => setTimeout(r, 5));
      n = native.recvSome(fd.fd, buf, 3);
    }
    assert.equal(n, 3);
    assert.equal(buf.subarray(0, 3).toString(), 'abc');
    assert.equal(native.recvSome(fd.fd, buf, 16), 5);
    a.end();
    let end: number | null = null;
    for (let i = 0; i < 200 && end === null; i++) {
      await new Promise((r) => setTimeout(r, 5));
      end = native.recvSome(fd.fd, buf, 16);
    }
    assert.equal(end, 0);
  });

  // Only where the kernel has TLS (not on the machine this spike was written on; see
  // bench/README.md "Kernel TLS"): plaintext written to the socket leaves it encrypted, and the
  // peer's records arrive decrypted.
  test('after the handoff the kernel encrypts for, and decrypts from, a Node TLS peer', {
    skip: support.supported ? false : `kernel TLS unavailable here: ${support.reason}`,
  }, async () => {
    const received: Buffer[] = [];
    const server = tls.createServer(
      { cert: LOCALHOST_CERT, key: LOCALHOST_KEY, minVersion: 'TLSv1.3' },
      (c) => {
        c.on('data', (d: Buffer) => {
          received.push(d);
          c.write(`echo:${d}`);
        });
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => server.close());
    const raw = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    closers.push(() => raw.destroy());
    await new Promise((r) => raw.once('connect', r));
    // The server's tickets follow its handshake at once; linger so that they are read ahead
    // rather than reach the kernel, whose plain read() fails on a non-data record (EIO).
    const h = await tlsHandshakeForHandoff(raw, {
      isServer: false,
      ca: LOCALHOST_CERT,
      servername: 'localhost',
      lingerMs: 100,
    });
    assert.equal(h.ticketsDropped, 2);
    enableKernelTlsHandoff(raw, h);
    const reply = new Promise<string>((resolve) => raw.once('data', (d: Buffer) => resolve(d.toString())));
    raw.write('ping');
    assert.equal(await reply, 'echo:ping');
    assert.equal(Buffer.concat(received).toString(), 'ping');
  });
});
