// The handoff against real Node TLS peers, with the kernel's part played in userspace: records
// sealed with the handoff's tx keys and sequence must be read by the peer, and the peer's records
// must open with its rx keys and sequence. That is exactly what TLS_TX / TLS_RX are given, so these
// tests hold on kernels without kernel TLS too (ktls.test.ts covers the kernel itself).
import assert from 'node:assert/strict';
import { constants } from 'node:crypto';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import tls from 'node:tls';
import {
  available,
  type KernelTlsHandoff,
  resumeReading,
  tlsHandshakeForHandoff,
  unavailableReason,
} from './index.ts';
import { LOCALHOST_CERT, LOCALHOST_KEY } from './testing/tls-cert.ts';
import { openRecord, sealRecord, wholeRecordLength } from './tls13-record.ts';

const clientOptions = {
  isServer: false as const,
  ca: LOCALHOST_CERT,
  servername: 'localhost',
  ALPNProtocols: ['h2'],
};

/** Reads records from `raw` and opens them from the handoff's rx state on, until `want` bytes of data. */
function readPlaintext(
  raw: net.Socket,
  h: KernelTlsHandoff,
  want: number,
): Promise<{ data: Buffer; tickets: number }> {
  let buf = Buffer.alloc(0);
  let data = h.readAhead;
  let tickets = 0;
  let sequence = h.rx.sequence;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      for (let len = wholeRecordLength(buf); len; len = wholeRecordLength(buf)) {
        const r = openRecord(h.rx.keys, sequence++, buf.subarray(0, len));
        if (!r) {
          reject(new Error(`record ${sequence - 1n} does not open`));
          return;
        }
        if (r.type === 23) data = Buffer.concat([data, r.data]);
        else if (r.type === 22 && r.data[0] === 4) tickets++;
        else {
          reject(new Error(`unexpected record type ${r.type}`));
          return;
        }
        buf = buf.subarray(len);
      }
      if (data.length >= want) {
        raw.off('data', onData);
        resolve({ data, tickets });
      }
    };
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      check();
    };
    raw.on('data', onData);
    resumeReading(raw);
    check();
  });
}

describe('kernel TLS handoff (userspace model of the kernel)', {
  skip: available ? false : `addon unavailable: ${unavailableReason}`,
}, () => {
  const closers: Array<() => void> = [];
  after(() => {
    for (const c of closers) c();
  });

  for (const tickets of [true, false]) {
    test(`client: keys and sequence numbers fit a Node TLS server (${tickets ? 'default options' : 'SSL_OP_NO_TICKET'}) that talks first`, async () => {
      const received: Buffer[] = [];
      const server = tls.createServer(
        {
          cert: LOCALHOST_CERT,
          key: LOCALHOST_KEY,
          minVersion: 'TLSv1.3',
          ALPNProtocols: ['h2'],
          // SSL_OP_NO_TICKET does not stop TLS 1.3 tickets: OpenSSL then sends stateful ones, two as
          // by default (only SSL_CTX_set_num_tickets(0) would, and Node does not expose it).
          ...(tickets ? {} : { secureOptions: constants.SSL_OP_NO_TICKET }),
        },
        (c) => {
          // Data right behind the handshake: the handoff finds it read ahead (or just after).
          c.write('hello from server;');
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
      const h = await tlsHandshakeForHandoff(raw, clientOptions);
      assert.equal(h.authorized, true);
      assert.equal(h.alpnProtocol, 'h2');
      assert.equal(h.tx.sequence, 0n, 'a client has sent nothing under its application key');
      const reply = readPlaintext(raw, h, 'hello from server;echo:ping'.length);
      raw.write(sealRecord(h.tx.keys, h.tx.sequence, 23, Buffer.from('ping')));
      const got = await reply;
      assert.equal(got.data.toString(), 'hello from server;echo:ping');
      assert.equal(Buffer.concat(received).toString(), 'ping');
      // Tickets dropped at the handoff plus those that came after it: OpenSSL's two either way.
      assert.equal(h.ticketsDropped + got.tickets, 2);
    });
  }

  test('client: records the last read cut in two are completed from the kernel, byte-exact', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 0x61);
    const server = tls.createServer(
      { cert: LOCALHOST_CERT, key: LOCALHOST_KEY, minVersion: 'TLSv1.3' },
      (c) => c.write(big),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => server.close());
    const raw = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    closers.push(() => raw.destroy());
    await new Promise((r) => raw.once('connect', r));
    const h = await tlsHandshakeForHandoff(raw, {
      isServer: false,
      ca: LOCALHOST_CERT,
      servername: 'localhost',
    });
    // 4 MiB are in flight when the handoff stops reading: its last read usually ends inside a
    // record (here 3 runs of 3 did), whose rest the handoff then takes from the kernel.
    assert.ok(h.readAhead.length > 0, 'data was read ahead');
    const got = await readPlaintext(raw, h, big.length);
    assert.equal(got.data.length, big.length);
    assert.ok(got.data.equals(big));
  });

  test('server: its own tickets advance the tx sequence; a client that sends at once is read ahead', async () => {
    let handoff: Promise<KernelTlsHandoff> | undefined;
    let accepted: net.Socket | undefined;
    const server = net.createServer((c) => {
      accepted = c;
      handoff = tlsHandshakeForHandoff(c, {
        isServer: true,
        secureContext: tls.createSecureContext({
          cert: LOCALHOST_CERT,
          key: LOCALHOST_KEY,
          minVersion: 'TLSv1.3',
        }),
        ALPNProtocols: ['h2'],
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => server.close());
    const client = tls.connect({
      port: (server.address() as net.AddressInfo).port,
      host: '127.0.0.1',
      ca: LOCALHOST_CERT,
      servername: 'localhost',
      ALPNProtocols: ['h2'],
    });
    closers.push(() => client.destroy());
    client.on('secureConnect', () => client.write('first words'));
    const fromServer = new Promise<string>((resolve) =>
      client.once('data', (d: Buffer) => resolve(d.toString())),
    );
    await new Promise((r) => client.once('secureConnect', r));
    assert.ok(handoff && accepted);
    const h = await handoff;
    closers.push(() => accepted?.destroy());
    assert.ok(h.tx.sequence >= 1n, `OpenSSL's tickets were counted (${h.tx.sequence})`);
    const rest = await readPlaintext(accepted, h, 'first words'.length);
    assert.equal(rest.data.toString(), 'first words');
    accepted.write(sealRecord(h.tx.keys, h.tx.sequence, 23, Buffer.from('reply')));
    assert.equal(await fromServer, 'reply');
  });
});
