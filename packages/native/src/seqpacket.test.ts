import assert from 'node:assert/strict';
import {
  closeSync,
  fstatSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import {
  available,
  closeFd,
  localAddressOf,
  MessageTruncatedError,
  NativeSyscallError,
  openListener,
  SeqpacketServer,
  SeqpacketSocket,
  SocketClosedError,
  unavailableReason,
} from './index.ts';
import { netnsUnsupported, TestNetns } from './testing/index.ts';

/** Fails instead of hanging until the runner's timeout. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const skip = available ? false : `addon unavailable: ${unavailableReason}`;

describe('SEQPACKET sockets with SCM_RIGHTS', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), `zt-native-${process.pid}-`));
  let n = 0;
  const closers: Array<() => void> = [];
  after(() => {
    for (const c of closers) c();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A connected client/server pair on a fresh socket path. */
  async function pair(): Promise<{
    server: SeqpacketServer;
    client: SeqpacketSocket;
    peer: SeqpacketSocket;
  }> {
    n += 1;
    const server = SeqpacketServer.listen(join(dir, `s${n}.sock`));
    const accepted = server.accept();
    const client = SeqpacketSocket.connect(server.path);
    const peer = await accepted;
    closers.push(
      () => client.close(),
      () => peer.close(),
      () => server.close(),
    );
    return { server, client, peer };
  }

  test('message boundaries are kept, in both directions, in order', async () => {
    const { client, peer } = await pair();
    const sizes = [1, 7, 0x1000, 3, 60000];
    const sent = sizes.map((size, i) => Buffer.alloc(size, 0x41 + i));
    await Promise.all(sent.map((b) => client.send(b)));
    for (const b of sent) {
      const msg = await peer.recv();
      assert.ok(msg);
      assert.deepEqual(msg.data, b);
      assert.deepEqual(msg.fds, []);
    }
    await peer.send(Buffer.from('reply'));
    assert.equal((await client.recv())?.data.toString(), 'reply');
  });

  test('a file descriptor sent across is usable on the other side', async () => {
    const { client, peer } = await pair();
    const file = join(dir, 'shared.txt');
    const fd = openSync(file, 'w+');
    await client.send(Buffer.from('here is a file'), [fd]);
    const msg = await peer.recv();
    closeSync(fd); // the receiver's copy stays valid
    assert.equal(msg?.data.toString(), 'here is a file');
    assert.equal(msg?.fds.length, 1);
    const received = msg!.fds[0]!;
    assert.notEqual(received, fd);
    writeSync(received, 'written through the received fd');
    closeFd(received);
    assert.equal(readFileSync(file, 'utf8'), 'written through the received fd');
  });

  test('a netns fd sent across creates a listener inside that namespace (the ZDS flow)', async (t) => {
    const why = netnsUnsupported();
    if (why) return t.skip(why);
    const ns = new TestNetns('zds');
    closers.push(() => ns.destroy());
    const { client, peer } = await pair();
    const nsFd = openSync(ns.path, 'r');
    await client.send(Buffer.from(JSON.stringify({ add: 'pod-1' })), [nsFd]);
    closeSync(nsFd);
    const msg = await peer.recv();
    assert.deepEqual(JSON.parse(msg!.data.toString()), { add: 'pod-1' });
    const podNs = msg!.fds[0]!;
    assert.equal(fstatSync(podNs).ino, statSync(ns.path).ino, 'the received fd is the pod netns');
    const listener = openListener({ netns: podNs, host: '127.0.0.1', port: 0 });
    const { port } = localAddressOf(listener)!;
    const ss = await ns.spawn('ss', ['-Htln', `sport = :${port}`]);
    assert.match(ss.stdout, new RegExp(`127\\.0\\.0\\.1:${port}`), `ss in the pod netns: ${ss.stderr}`);
    closeFd(listener);
    closeFd(podNs);
  });

  test('several fds in one message; too many is MessageTruncatedError and the extras are closed', async () => {
    const { client, peer } = await pair();
    const fds = [0, 1, 2].map(() => openSync(join(dir, 'f'), 'a'));
    await client.send(Buffer.from('three'), fds);
    const msg = await peer.recv();
    assert.equal(msg?.fds.length, 3);
    for (const fd of msg!.fds) closeFd(fd);
    await client.send(Buffer.from('three again'), fds);
    await assert.rejects(
      peer.recv({ maxFds: 2 }),
      (e: unknown) => e instanceof MessageTruncatedError && e.code === 'ERR_ZT_NATIVE_MESSAGE_TRUNCATED',
    );
    for (const fd of fds) closeSync(fd);
    await client.send(Buffer.from('next'));
    assert.equal((await peer.recv())?.data.toString(), 'next', 'the socket still works');
  });

  test('a message longer than maxBytes throws, the next one is intact', async () => {
    const { client, peer } = await pair();
    await client.send(Buffer.alloc(100, 1));
    await client.send(Buffer.from('ok'));
    await assert.rejects(peer.recv({ maxBytes: 10 }), /longer than maxBytes \(10\)/);
    assert.equal((await peer.recv())?.data.toString(), 'ok');
  });

  test('a full peer queue makes send wait instead of failing; nothing is lost or reordered', async () => {
    const { client, peer } = await pair();
    const count = 3000; // well past net.unix.max_dgram_qlen, so sends hit EAGAIN
    const sends = Array.from({ length: count }, (_, i) => client.send(Buffer.from(String(i))));
    for (let i = 0; i < count; i++) {
      assert.equal((await peer.recv())?.data.toString(), String(i));
    }
    await Promise.all(sends);
  });

  test('recv resolves null when the peer closes; pending calls reject when we close', async () => {
    const { client, peer } = await pair();
    const pending = peer.recv();
    client.close();
    assert.equal(await pending, null);
    const waiting = peer.recv();
    peer.close();
    peer.close(); // idempotent
    await assert.rejects(
      waiting,
      (e: unknown) => e instanceof SocketClosedError && e.code === 'ERR_ZT_NATIVE_SOCKET_CLOSED',
    );
    await assert.rejects(peer.send(Buffer.from('x')), SocketClosedError);
  });

  test('connecting to a missing path or a closed server fails with the errno', async () => {
    await assert.rejects(
      async () => SeqpacketSocket.connect(join(dir, 'missing.sock')),
      (e: unknown) => e instanceof NativeSyscallError && e.code === 'ENOENT',
    );
    const { server } = await pair();
    const accepting = server.accept();
    server.close();
    await assert.rejects(accepting, SocketClosedError);
    assert.throws(
      () => SeqpacketSocket.connect(server.path),
      (e: unknown) => e instanceof NativeSyscallError && e.code === 'ENOENT',
    );
  });

  test('a worker that exits with a socket still waiting does not take the process down', async () => {
    const path = join(dir, 'worker.sock');
    const server = SeqpacketServer.listen(path);
    closers.push(() => server.close());
    const accepted = server.accept();
    const worker = new Worker(
      `import('@zt/native').then(({ SeqpacketSocket }) => {
         const s = SeqpacketSocket.connect(${JSON.stringify(path)});
         s.recv().catch(() => {});
         require('node:worker_threads').parentPort.postMessage('waiting');
       });`,
      { eval: true, execArgv: ['--conditions=zt-source'] },
    );
    await within(
      new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      }),
      20_000,
      'worker start',
    );
    const peer = await accepted;
    closers.push(() => peer.close());
    assert.equal(await worker.terminate(), 1);
    // The worker's socket was closed with it: our side sees the end of the connection.
    assert.equal(await within(peer.recv(), 10_000, 'EOF from the dead worker'), null);
  });
});
