import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import { test } from 'node:test';
import { Logging } from '@zt/log';
import { makeWorkload } from '@zt/xds/testing';
import { dialTcp } from './dial.ts';
import { readsPooled } from './read-pool.ts';
import { ConnectionRegistry, type TrackedConnection } from './registry.ts';
import { relay } from './relay.ts';
import { DEFAULT_TCP_SOCKET_OPTIONS } from './socket-options.ts';

const log = new Logging({ filter: 'off' }).access;

function tracked(): TrackedConnection {
  const reg = new ConnectionRegistry(log, 'relay-');
  return reg.open({
    info: {
      direction: 'inbound',
      protocol: 'TCP',
      src: { address: '10.9.1.1', port: 5000 },
      dst: { address: '10.9.1.2', port: 8080 },
    },
    labels: {
      reporter: 'destination',
      destination: makeWorkload({ name: 'relay-dst', namespace: 'ns', workloadIps: ['10.9.1.2'] }),
      mtls: false,
    },
  });
}

/** Two connected TCP sockets on loopback. */
async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const [peer] = await accepted;
  await once(client, 'connect');
  server.close();
  return [client, peer];
}

function collect(s: Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (c: Buffer) => parts.push(c));
  return once(s, 'end').then(() => Buffer.concat(parts));
}

test('bytes both ways with half-close, counted per direction', async () => {
  // app <-> [a | relay | b] <-> upstream
  const [app, a] = await socketPair();
  const [b, upstream] = await socketPair();
  const t = tracked();
  const done = relay(a, b, t);
  const atUpstream = collect(upstream);
  const atApp = collect(app);
  const request = Buffer.alloc(300_000, 'q');
  app.end(request);
  // The client has finished sending; the reply still flows back through the half-open pair.
  assert.deepEqual(await atUpstream, request);
  const reply = Buffer.alloc(500_000, 'r');
  upstream.end(reply);
  assert.deepEqual(await atApp, reply);
  await done;
  assert.equal(t.info.bytesReceived, request.length);
  assert.equal(t.info.bytesSent, reply.length);
  t.finish();
});

test('chunks that arrive in one I/O phase leave in one writev', async () => {
  const batches: number[] = [];
  const sink = new Duplex({
    read() {},
    write(_chunk, _enc, cb) {
      batches.push(1);
      cb();
    },
    writev(chunks, cb) {
      batches.push(chunks.length);
      cb();
    },
  });
  const source = new PassThrough();
  const t = tracked();
  const done = relay(source, sink, t);
  for (let i = 0; i < 4; i++) source.write(Buffer.alloc(16 * 1024, i));
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(batches, [4]);
  source.end();
  sink.push(null);
  await done;
  assert.equal(t.info.bytesReceived, 64 * 1024);
  t.finish();
});

test('a slow destination pauses the source at the batch limit and resumes it on drain', async () => {
  let release: (() => void) | undefined;
  let written = 0;
  const sink = new Duplex({
    highWaterMark: 16 * 1024,
    read() {},
    write(chunk: Buffer, _enc, cb) {
      written += chunk.length;
      release = cb;
    },
    writev(chunks, cb) {
      for (const c of chunks) written += (c.chunk as Buffer).length;
      release = cb;
    },
  });
  const source = new PassThrough({ highWaterMark: 16 * 1024 });
  const t = tracked();
  const done = relay(source, sink, t);
  // Offer 1 MiB; the source's own buffer fills once the relay stops reading.
  const total = 1024 * 1024;
  let offered = 0;
  for (let more = true; more && offered < total; offered += 16 * 1024) {
    more = source.write(Buffer.alloc(16 * 1024, 1));
  }
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  assert.ok(source.isPaused(), 'the relay did not pause a source whose destination is stuck');
  assert.ok(sink.writableLength >= 256 * 1024 && sink.writableLength < total, `${sink.writableLength}`);
  // Let the destination complete one write at a time until everything offered is through.
  const target = offered;
  while (written < target || sink.writableLength > 0) {
    const r = release;
    release = undefined;
    r?.();
    await new Promise((res) => setImmediate(res));
  }
  assert.equal(written, target);
  assert.ok(!source.isPaused(), 'the source stayed paused after the destination drained');
  source.end();
  sink.push(null);
  release?.();
  await done;
  t.finish();
});

test('a side that closes without its end fails the relay and closes the other side', async () => {
  const client = new PassThrough();
  const server = new PassThrough();
  const done = relay(client, server, tracked());
  client.write('partial');
  client.destroy();
  await assert.rejects(done, { code: 'ERR_STREAM_PREMATURE_CLOSE' });
  assert.equal(server.destroyed, true);
});

test('a side already closed before the relay starts fails it at once instead of hanging', async () => {
  const client = new PassThrough();
  const server = new PassThrough();
  client.destroy();
  await once(client, 'close');
  await assert.rejects(relay(client, server, tracked()), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
  assert.equal(server.destroyed, true);
});

test('an error on either side fails the relay with that error', async () => {
  const client = new PassThrough();
  const server = new PassThrough();
  const done = relay(client, server, tracked());
  server.destroy(Object.assign(new Error('upstream reset'), { code: 'ECONNRESET' }));
  await assert.rejects(done, { code: 'ECONNRESET', message: 'upstream reset' });
  assert.equal(client.destroyed, true);
});

test('a dialled socket reading into pooled buffers: bytes intact both ways, early bytes included, buffers reused', async () => {
  // app <-> [a | relay | b] <-> upstream, where b is dialled by dialTcp (pooled reads) and the
  // upstream speaks first, before the relay is attached.
  const server = createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const ctx = { config: { tcp: { ...DEFAULT_TCP_SOCKET_OPTIONS, keepaliveEnabled: false } }, ops: {}, log };
  const b = await dialTcp(ctx as unknown as Parameters<typeof dialTcp>[0], { address: '127.0.0.1', port });
  const [upstream] = await accepted;
  server.close();
  const [app, a] = await socketPair();
  try {
    assert.ok(readsPooled(b), 'dialTcp makes a pooled-read socket');
    // A pattern that shows a reused buffer overwritten before its bytes were written out.
    const reply = Buffer.alloc(6 * 1024 * 1024);
    for (let i = 0; i < reply.length; i++) reply[i] = (i * 7 + (i >> 16)) & 0xff;
    const hello = Buffer.from('hello first\n');
    upstream.write(hello);
    await new Promise((r) => setTimeout(r, 50));
    const t = tracked();
    const done = relay(a, b, t);
    const atApp = collect(app);
    const atUpstream = collect(upstream);
    // The app reads slowly at first, so the relay pauses the pooled socket and resumes it.
    app.pause();
    upstream.end(reply);
    app.end(Buffer.alloc(100_000, 'r'));
    await new Promise((r) => setTimeout(r, 100));
    app.resume();
    const [got, up] = await Promise.all([atApp, atUpstream]);
    await done;
    assert.equal(got.length, hello.length + reply.length);
    assert.ok(got.subarray(0, hello.length).equals(hello));
    assert.ok(got.subarray(hello.length).equals(reply), 'the reply arrives byte for byte');
    assert.equal(up.length, 100_000);
    assert.equal(t.info.bytesSent, hello.length + reply.length);
  } finally {
    app.destroy();
    upstream.destroy();
    b.destroy();
  }
});
