import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import {
  available,
  closeFd,
  getFreebind,
  getMark,
  getTcpKeepalive,
  getTcpUserTimeout,
  getTransparent,
  localAddressOf,
  NativeSyscallError,
  NoFdError,
  openListener,
  setFreebind,
  setMark,
  setTcpKeepalive,
  setTcpUserTimeout,
  setTransparent,
  unavailableReason,
  ZT_SOCKET_MARK,
} from './index.ts';

const isRoot = process.getuid?.() === 0;

function listening(): Promise<net.Server> {
  const server = net.createServer((c) => c.destroy());
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('socket options', { skip: available ? false : `addon unavailable: ${unavailableReason}` }, () => {
  const cleanup: Array<() => void> = [];
  after(() => {
    for (const c of cleanup) c();
  });

  test('SO_MARK set on a server and on a connected socket reads back', async (t) => {
    if (!isRoot) return t.skip('SO_MARK needs CAP_NET_ADMIN; not root');
    const server = await listening();
    cleanup.push(() => server.close());
    assert.equal(getMark(server), 0);
    setMark(server, ZT_SOCKET_MARK);
    assert.equal(getMark(server), 1337);

    const { port } = server.address() as net.AddressInfo;
    const client = net.connect(port, '127.0.0.1');
    cleanup.push(() => client.destroy());
    await new Promise((resolve) => client.once('connect', resolve));
    setMark(client, 0xffffffff);
    assert.equal(getMark(client), 4294967295, 'marks are unsigned 32-bit');
    setMark(client, 0);
    assert.equal(getMark(client), 0);
  });

  test('bad marks and sockets without an fd are refused with clear errors', async () => {
    const server = await listening();
    cleanup.push(() => server.close());
    assert.throws(() => setMark(server, -1), RangeError);
    assert.throws(() => setMark(server, 2 ** 32), RangeError);
    assert.throws(() => setMark(server, 1.5), RangeError);
    const notConnected = new net.Socket();
    assert.throws(
      () => getMark(notConnected),
      (e: unknown) => e instanceof NoFdError && e.code === 'ERR_ZT_NATIVE_NO_FD',
    );
    assert.throws(() => getMark(net.createServer()), /the server has no file descriptor/);
  });

  test('a closed fd gives NativeSyscallError EBADF', () => {
    const fd = openListener({ host: '127.0.0.1', port: 0 });
    closeFd(fd);
    assert.throws(
      () => getMark(fd),
      (e: unknown) =>
        e instanceof NativeSyscallError && e.code === 'EBADF' && e.errno < 0 && /getsockopt/.test(e.message),
    );
  });

  test('IP_TRANSPARENT and IP_FREEBIND toggle on IPv4 and IPv6 sockets', (t) => {
    if (!isRoot) return t.skip('IP_TRANSPARENT needs CAP_NET_ADMIN; not root');
    for (const host of ['127.0.0.1', '::1']) {
      let fd: number;
      try {
        fd = openListener({ host, port: 0 });
      } catch (e) {
        if (host === '::1') return t.skip(`no IPv6 loopback here: ${(e as Error).message}`);
        throw e;
      }
      try {
        assert.equal(getTransparent(fd), false);
        setTransparent(fd);
        assert.equal(getTransparent(fd), true, host);
        setTransparent(fd, false);
        assert.equal(getTransparent(fd), false);
        assert.equal(getFreebind(fd), false);
        setFreebind(fd);
        assert.equal(getFreebind(fd), true, host);
        assert.equal(localAddressOf(fd)?.address, host);
      } finally {
        closeFd(fd);
      }
    }
  });

  test('TCP keepalive idle, interval and count, and TCP_USER_TIMEOUT, read back from the kernel', async () => {
    const server = await listening();
    cleanup.push(() => server.close());
    const { port } = server.address() as net.AddressInfo;
    const client = net.connect(port, '127.0.0.1');
    cleanup.push(() => client.destroy());
    await new Promise((resolve) => client.once('connect', resolve));
    assert.equal(getTcpKeepalive(client), undefined, 'off until asked for');
    setTcpKeepalive(client, { idleSeconds: 180, intervalSeconds: 17, count: 9 });
    assert.deepEqual(getTcpKeepalive(client), { idleSeconds: 180, intervalSeconds: 17, count: 9 });
    assert.equal(getTcpUserTimeout(client), 0);
    setTcpUserTimeout(client, 1_800_000);
    assert.equal(getTcpUserTimeout(client), 1_800_000);
    // Out of the kernel's range: refused before any call, not a cryptic EINVAL.
    assert.throws(
      () => setTcpKeepalive(client, { idleSeconds: 0, intervalSeconds: 1, count: 1 }),
      RangeError,
    );
    assert.throws(() => setTcpKeepalive(client, { idleSeconds: 1, intervalSeconds: 1, count: 128 }), /count/);
    assert.throws(() => setTcpUserTimeout(client, -1), RangeError);
  });
});

test('without the addon every call throws NativeUnavailableError and available is false', () => {
  const script = `
    const n = await import('@zt/native');
    const out = { available: n.available, reason: n.unavailableReason };
    try { n.getMark(3); } catch (e) { out.code = e.code; out.name = e.name; out.message = e.message; }
    try { n.SeqpacketSocket.connect('/nonexistent'); } catch (e) { out.code2 = e.code; }
    console.log(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--conditions=zt-source', '--input-type=module', '-e', script], {
    env: { ...process.env, ZT_NATIVE_DISABLE: '1' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.available, false);
  assert.match(out.reason, /ZT_NATIVE_DISABLE/);
  assert.equal(out.code, 'ERR_ZT_NATIVE_UNAVAILABLE');
  assert.equal(out.name, 'NativeUnavailableError');
  assert.match(out.message, /^getMark: .*SOCKS5/);
  assert.equal(out.code2, 'ERR_ZT_NATIVE_UNAVAILABLE');
});
