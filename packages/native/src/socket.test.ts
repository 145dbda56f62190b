import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  available,
  closeFd,
  connectSocket,
  getMark,
  listenServer,
  localAddressOf,
  NativeSyscallError,
  openConnection,
  openListener,
  unavailableReason,
  ZT_SOCKET_MARK,
} from './index.ts';
import { netnsUnsupported, TestNetns } from './testing/index.ts';

const skip = !available ? `addon unavailable: ${unavailableReason}` : (netnsUnsupported() ?? false);

/** A server that greets every connection with `banner` and closes it. */
function bannerServer(banner: string): net.Server {
  return net.createServer((c) => c.end(banner));
}

function readAll(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      text += d;
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

/** Connects from the host's namespace; resolves with what the peer sent, or the error code. */
function hostConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`));
    readAll(c).then(resolve, () => {});
  });
}

describe('sockets in another network namespace', { skip }, () => {
  let ns: TestNetns;
  const servers: net.Server[] = [];
  before(() => {
    ns = new TestNetns('sock');
    ns.addInterface('zt0', '192.0.2.1/24');
  });
  after(() => {
    for (const s of servers) s.close();
    ns?.destroy();
  });

  test('a listener made in the netns is reachable inside it only, and Node stays in its own netns', async () => {
    const ownNs = readlinkSync('/proc/thread-self/ns/net');
    const nonce = randomUUID();
    const server = bannerServer(nonce);
    servers.push(server);
    const addr = await listenServer(server, { netns: ns.path, host: '127.0.0.1', port: 0 });
    assert.equal(addr.address, '127.0.0.1');
    assert.ok(addr.port > 0);
    assert.equal(readlinkSync('/proc/thread-self/ns/net'), ownNs, 'the main thread did not move');

    // From inside: an independent process entered with `ip netns exec`.
    const inside = await ns.spawn(process.execPath, [
      '-e',
      `const c=require('net').connect(${addr.port},'127.0.0.1');let s='';c.on('data',d=>s+=d);c.on('end',()=>console.log(s));c.on('error',e=>console.log('error',e.code))`,
    ]);
    assert.equal(inside.stdout.trim(), nonce, inside.stderr);

    // From the host: the same port on the host's loopback is not our server (refused, or a stranger).
    assert.notEqual(await hostConnect(addr.port), nonce);
  });

  test('connectSocket with netns connects from inside it; the name and an fd work as netns refs', async () => {
    const nonce = randomUUID();
    const server = bannerServer(nonce);
    servers.push(server);
    const { port } = await listenServer(server, { netns: ns.name, host: '192.0.2.1', port: 0 });

    const byPath = await connectSocket({ netns: ns.path, host: '192.0.2.1', port, mark: ZT_SOCKET_MARK });
    assert.equal(getMark(byPath), 1337);
    assert.equal(byPath.remoteAddress, '192.0.2.1');
    assert.equal(await readAll(byPath), nonce);

    const nsFd = openSync(ns.path, 'r');
    try {
      const byFd = await connectSocket({ netns: nsFd, host: '192.0.2.1', port });
      assert.equal(await readAll(byFd), nonce);
    } finally {
      closeSync(nsFd);
    }

    // 192.0.2.1 is not an address of the host: from here the connection cannot reach the server.
    await assert.rejects(
      openConnection({ host: '192.0.2.1', port, timeoutMs: 300 }),
      (e: unknown) => e instanceof NativeSyscallError && e.syscall === 'connect',
    );
  });

  test('connect errors carry the errno code: refused, timeout, missing netns', async () => {
    const fd = openListener({ netns: ns.path, host: '127.0.0.1', port: 0 });
    const { port } = localAddressOf(fd)!;
    closeFd(fd); // nothing listens there any more
    await assert.rejects(
      openConnection({ netns: ns.path, host: '127.0.0.1', port }),
      (e: unknown) => e instanceof NativeSyscallError && e.code === 'ECONNREFUSED',
    );
    // Nobody answers ARP for 192.0.2.99 on the veth: the SYN never leaves, our timeout fires first.
    const started = Date.now();
    await assert.rejects(
      openConnection({ netns: ns.path, host: '192.0.2.99', port: 80, timeoutMs: 200 }),
      (e: unknown) =>
        e instanceof NativeSyscallError && e.code === 'ETIMEDOUT' && /within 200 ms/.test(e.message),
    );
    assert.ok(Date.now() - started < 2000);
    await assert.rejects(
      openConnection({ netns: `${ns.path}-missing`, host: '127.0.0.1', port: 1 }),
      (e: unknown) =>
        e instanceof NativeSyscallError && e.code === 'ENOENT' && /has the pod gone/.test(e.message),
    );
    assert.throws(() => openListener({ host: 'localhost', port: 0 }), /numeric IPv4 or IPv6/);
    assert.throws(() => openListener({ host: '127.0.0.1', port: 70000 }), RangeError);
  });

  test('freebind and transparent allow binding an address the namespace does not have', () => {
    assert.throws(
      () => openListener({ netns: ns.path, host: '203.0.113.7', port: 0 }),
      (e: unknown) => e instanceof NativeSyscallError && e.code === 'EADDRNOTAVAIL',
    );
    for (const opt of [{ freebind: true }, { transparent: true }]) {
      const fd = openListener({ netns: ns.path, host: '203.0.113.7', port: 0, ...opt });
      assert.equal(localAddressOf(fd)?.address, '203.0.113.7');
      closeFd(fd);
    }
  });

  test('a connection from a source address takes a port unique to its 4-tuple, not one free for every destination', async (t) => {
    // Two listeners, then an ephemeral range of 4 ports: 4 connections to the first from
    // 127.0.0.1 hold all of them. A 5th from 127.0.0.1 to the second listener is still a unique
    // 4-tuple; with the port left to connect() (IP_BIND_ADDRESS_NO_PORT) it gets one, where
    // bind(127.0.0.1:0) would have failed with EADDRINUSE.
    const [a, b] = [bannerServer('a'), bannerServer('b')];
    servers.push(a, b);
    const pa = (await listenServer(a, { netns: ns.path, host: '127.0.0.1', port: 0 })).port;
    const pb = (await listenServer(b, { netns: ns.path, host: '127.0.0.1', port: 0 })).port;
    const range = '/proc/sys/net/ipv4/ip_local_port_range';
    const old = (await ns.spawn('cat', [range])).stdout.trim().split(/\s+/).join(' ');
    t.after(() => ns.spawn('sh', ['-c', `echo '${old}' > ${range}`]));
    const set = await ns.spawn('sh', ['-c', `echo '40000 40003' > ${range}`]);
    assert.equal(set.status, 0, set.stderr);
    const held: net.Socket[] = [];
    t.after(() => {
      for (const s of held) s.destroy();
    });
    for (let i = 0; i < 4; i++) {
      const s = await connectSocket({
        netns: ns.path,
        host: '127.0.0.1',
        port: pa,
        localAddress: '127.0.0.1',
      });
      s.pause();
      held.push(s);
    }
    assert.deepEqual(held.map((s) => s.localPort).sort(), [40000, 40001, 40002, 40003]);
    const fifth = await connectSocket({
      netns: ns.path,
      host: '127.0.0.1',
      port: pb,
      localAddress: '127.0.0.1',
    });
    held.push(fifth);
    assert.ok((fifth.localPort ?? 0) >= 40000 && (fifth.localPort ?? 0) <= 40003);
    assert.equal(await readAll(fifth), 'b');
  });

  test('reusePort lets two listeners share a port (one per worker thread)', () => {
    const a = openListener({ netns: ns.path, host: '127.0.0.1', port: 0, reusePort: true });
    const { port } = localAddressOf(a)!;
    assert.throws(
      () => openListener({ netns: ns.path, host: '127.0.0.1', port }),
      (e: unknown) => e instanceof NativeSyscallError && e.code === 'EADDRINUSE',
    );
    const b = openListener({ netns: ns.path, host: '127.0.0.1', port, reusePort: true });
    closeFd(a);
    closeFd(b);
  });

  test('the mark is on the SYN: capture rules skip marked sockets (REDIRECT unless mark 1337)', async (t) => {
    const real = bannerServer('real');
    const capture = bannerServer('captured');
    servers.push(real, capture);
    const { port: realPort } = await listenServer(real, { netns: ns.path, host: '192.0.2.1', port: 0 });
    const { port: capturePort } = await listenServer(capture, { netns: ns.path, host: '0.0.0.0', port: 0 });
    const err = ns.iptables(false, [
      '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', '192.0.2.1', '--dport', String(realPort),
      '-m', 'mark', '!', '--mark', String(ZT_SOCKET_MARK), '-j', 'REDIRECT', '--to-ports', String(capturePort),
    ]); // biome-ignore format: one rule per line reads better
    if (err) return t.skip(`iptables REDIRECT with a mark match is not available: ${err}`);
    const unmarked = await connectSocket({ netns: ns.path, host: '192.0.2.1', port: realPort });
    assert.equal(await readAll(unmarked), 'captured');
    const marked = await connectSocket({
      netns: ns.path,
      host: '192.0.2.1',
      port: realPort,
      mark: ZT_SOCKET_MARK,
    });
    assert.equal(await readAll(marked), 'real');
  });
});
