import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import dgram from 'node:dgram';
import { readlinkSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  available,
  bindUdpSocket,
  closeFd,
  getMark,
  localAddressOf,
  NativeSyscallError,
  openUdpSocket,
  unavailableReason,
  ZT_SOCKET_MARK,
} from './index.ts';
import { netnsUnsupported, TestNetns } from './testing/index.ts';

const skip = !available ? `addon unavailable: ${unavailableReason}` : (netnsUnsupported() ?? false);

/** An echo over `socket`: every datagram comes back prefixed with `tag`. */
function echo(socket: dgram.Socket, tag: string): void {
  socket.on('message', (msg, rinfo) =>
    socket.send(Buffer.concat([Buffer.from(tag), msg]), rinfo.port, rinfo.address),
  );
}

/** A script sending `text` to host:port over UDP and printing the first answer (or `timeout`). */
function udpClientScript(host: string, port: number, text: string): string {
  return `const s=require('dgram').createSocket('${host.includes(':') ? 'udp6' : 'udp4'}');
s.on('message',m=>{console.log(m.toString());s.close()});
setTimeout(()=>{console.log('timeout');s.close()},1500).unref();
s.send(${JSON.stringify(text)},${port},'${host}');`;
}

describe('UDP sockets bound inside another network namespace', { skip }, () => {
  let ns: TestNetns;
  const sockets: dgram.Socket[] = [];
  before(() => {
    ns = new TestNetns('udp');
    ns.addInterface('zt0', '192.0.2.1/24');
  });
  after(() => {
    for (const s of sockets) s.close();
    ns?.destroy();
  });

  test('a socket bound in the netns answers there only, and Node stays in its own netns', async () => {
    const ownNs = readlinkSync('/proc/thread-self/ns/net');
    const socket = dgram.createSocket('udp4');
    sockets.push(socket);
    const addr = await bindUdpSocket(socket, {
      netns: ns.path,
      host: '127.0.0.1',
      port: 0,
      mark: ZT_SOCKET_MARK,
    });
    assert.equal(addr.address, '127.0.0.1');
    assert.equal(addr.family, 'IPv4');
    assert.ok(addr.port > 0);
    assert.equal(readlinkSync('/proc/thread-self/ns/net'), ownNs, 'the main thread did not move');
    echo(socket, 'pod:');

    const nonce = randomUUID();
    const inside = await ns.spawn(process.execPath, ['-e', udpClientScript('127.0.0.1', addr.port, nonce)]);
    assert.equal(inside.stdout.trim(), `pod:${nonce}`, inside.stderr);

    // The same port on the host's loopback is not this socket.
    const host = dgram.createSocket('udp4');
    sockets.push(host);
    const fromHost = await new Promise<string>((resolve) => {
      host.on('message', (m) => resolve(m.toString()));
      host.send(nonce, addr.port, '127.0.0.1');
      setTimeout(() => resolve('no answer'), 300).unref();
    });
    assert.notEqual(fromHost, `pod:${nonce}`);
  });

  test('reusePort: two sockets share one port in the netns (one per worker thread)', async () => {
    const a = dgram.createSocket('udp4');
    const b = dgram.createSocket('udp4');
    sockets.push(a, b);
    const { port } = await bindUdpSocket(a, { netns: ns.path, host: '127.0.0.1', port: 0, reusePort: true });
    const second = await bindUdpSocket(b, { netns: ns.path, host: '127.0.0.1', port, reusePort: true });
    assert.equal(second.port, port);
    echo(a, 'a:');
    echo(b, 'b:');
    // The kernel hashes each source to one socket: every answer comes from one of the two.
    const answers = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await ns.spawn(process.execPath, ['-e', udpClientScript('127.0.0.1', port, 'q')]);
      answers.add(r.stdout.trim());
    }
    for (const a of answers) assert.match(a, /^[ab]:q$/);

    // Without reusePort the port is taken.
    assert.throws(
      () => openUdpSocket({ netns: ns.path, host: '127.0.0.1', port }),
      (e: unknown) => e instanceof NativeSyscallError && e.code === 'EADDRINUSE',
    );
  });

  test('IPv6 localhost, the mark, and errors that name the cause', async () => {
    const fd = openUdpSocket({ netns: ns.path, host: '::1', port: 0, mark: ZT_SOCKET_MARK });
    try {
      assert.equal(localAddressOf(fd)?.address, '::1');
    } finally {
      closeFd(fd);
    }
    const socket = dgram.createSocket('udp6');
    sockets.push(socket);
    const addr = await bindUdpSocket(socket, { netns: ns.path, host: '::1', port: 0, mark: ZT_SOCKET_MARK });
    assert.equal(addr.family, 'IPv6');
    echo(socket, 'v6:');
    const inside = await ns.spawn(process.execPath, ['-e', udpClientScript('::1', addr.port, 'x')]);
    assert.equal(inside.stdout.trim(), 'v6:x', inside.stderr);

    assert.throws(
      () => openUdpSocket({ netns: ns.path, host: '203.0.113.7', port: 0 }),
      (e: unknown) => e instanceof NativeSyscallError && e.code === 'EADDRNOTAVAIL',
    );
    assert.throws(
      () => openUdpSocket({ netns: `${ns.path}-missing`, host: '127.0.0.1', port: 0 }),
      (e: unknown) => e instanceof NativeSyscallError && e.code === 'ENOENT',
    );
    assert.throws(() => openUdpSocket({ host: 'localhost', port: 0 }), /numeric IPv4 or IPv6/);
    assert.throws(() => openUdpSocket({ host: '127.0.0.1', port: -1 }), RangeError);
  });
});

test('the mark is set on a UDP socket before bind', { skip }, () => {
  const fd = openUdpSocket({ host: '127.0.0.1', port: 0, mark: ZT_SOCKET_MARK });
  try {
    assert.equal(getMark(fd), ZT_SOCKET_MARK);
    assert.equal(localAddressOf(fd)?.address, '127.0.0.1');
  } finally {
    closeFd(fd);
  }
});
