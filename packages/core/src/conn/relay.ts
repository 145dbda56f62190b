import type { Duplex } from 'node:stream';
import { finished } from 'node:stream';
import { attachReadSink, giveReadBuffer, readsPooled } from './read-pool.ts';
import type { TrackedConnection } from './registry.ts';

/** Bytes queued toward one side (in a corked batch or unsent) before reading the other pauses. */
const COALESCE_BYTES = 256 * 1024;

/**
 * Copies bytes both ways between the client side and the server side, with half-close: when one
 * side ends, the other side's write half is ended and the reverse direction keeps flowing until
 * it ends too. Resolves when both directions are done; rejects (after destroying both) on the
 * first error or on abort. Bytes are counted as they flow.
 */
export function relay(client: Duplex, server: Duplex, t: TrackedConnection): Promise<void> {
  return new Promise((resolve, reject) => {
    let pending = 2;
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      client.destroy();
      server.destroy();
      reject(err);
    };
    // One 'data' handler per direction that counts, writes and applies backpressure: pipe() plus a
    // counting listener dispatched every chunk twice.
    const half = (from: Duplex, to: Duplex, toServer: boolean) => {
      let waiting = false;
      let corked = false;
      const uncork = () => {
        corked = false;
        to.uncork();
      };
      const pauseAt = Math.max(COALESCE_BYTES, to.writableHighWaterMark);
      const pass = (chunk: Buffer, buf?: Buffer): boolean => {
        if (toServer) t.countToServer(chunk.length);
        else t.countToClient(chunk.length);
        // Chunks that arrive in the same I/O phase go out in one writev: a TLS/HTTP/2 peer hands
        // over 16 KiB records one by one, and a write syscall each dominated the bulk profile.
        if (!corked) {
          corked = true;
          to.cork();
          setImmediate(uncork);
        }
        // A pooled read buffer goes back once `to` is done with the bytes (its write callback).
        if (buf) to.write(chunk, () => giveReadBuffer(buf));
        else to.write(chunk);
        // `to` asks for a drain once past its high-water mark; reading stops once a batch's worth
        // is queued, and 'drain' (always due by then) restarts it.
        if (!waiting && to.writableNeedDrain && to.writableLength >= pauseAt) {
          waiting = true;
          from.pause();
        }
        return true;
      };
      if (readsPooled(from)) {
        for (const early of attachReadSink(from, pass)) pass(early);
      } else from.on('data', pass);
      to.on('drain', () => {
        if (!waiting) return;
        waiting = false;
        from.resume();
      });
      const ended = (err?: Error) => {
        if (err) return fail(err);
        if (--pending === 0 && !failed) {
          // Both directions have ended; let the last writes flush, then release the sockets.
          endBoth(client, server, resolve);
        }
      };
      // What stream.finished() does for the readable side, without its eight closures and async
      // resource per call; the same 'end' listener passes the half-close on. These stay alive for
      // the connection's whole life, two per connection and per node.
      if (from.readableEnded) process.nextTick(ended);
      else if (from.destroyed) process.nextTick(ended, from.errored ?? prematureClose());
      else {
        // on/off rather than once: once() adds a wrapper object per listener.
        const onEnd = () => {
          from.off('close', onClose);
          to.end();
          ended();
        };
        const onClose = () => {
          from.off('end', onEnd);
          ended(from.errored ?? prematureClose());
        };
        from.on('end', onEnd);
        from.on('close', onClose);
      }
      // The caller may have paused `from` (outbound holds the client until the upstream is up).
      from.resume();
    };
    half(client, server, true);
    half(server, client, false);
    client.on('error', fail);
    server.on('error', fail);
    t.onAbort(fail);
  });
}

// Node's own error for a stream that closed without ending (what stream.finished() reports), not a
// ZtError: relay's end/close listeners stand in for finished(), so they report what it would.
function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

function endBoth(a: Duplex, b: Duplex, done: () => void): void {
  let left = 2;
  const one = () => {
    if (--left === 0) {
      a.destroy();
      b.destroy();
      done();
    }
  };
  for (const s of [a, b]) {
    if (s.writableFinished || s.destroyed) one();
    else finished(s, { readable: false }, one);
  }
}
