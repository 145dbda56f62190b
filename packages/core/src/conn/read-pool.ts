import type { Socket } from 'node:net';

/**
 * Pooled read buffers for the plain TCP sockets zt dials (`net.Socket`'s `onread`). Node's default
 * read path wraps every read in a fresh ArrayBuffer, and V8 starts a full mark-compact each time
 * 64 MiB of those have been allocated (bench/README.md, "Where the time goes"). A socket made with
 * `pooledReadOptions()` reads into a buffer taken from this pool; the relay writes the bytes on
 * and hands the buffer back from the write's callback, once the stream it was written to is done
 * with it. A buffer never handed back (a write that never completes) is simply garbage.
 *
 * Node offers `onread` on sockets it connects, not on accepted ones, so only the dialled side of
 * a connection reads this way.
 */
export const READ_BUFFER_BYTES = 64 * 1024;
/** Free buffers kept; more are garbage. 64 x 64 KiB = 4 MiB per thread at most. */
const MAX_FREE = 64;
const free: Buffer[] = [];

function take(): Buffer {
  // allocUnsafeSlow: a buffer of its own, not a slice of Node's shared 8 KiB pool.
  return free.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
}

/** Hands `buf` back for the next read; call only once nothing references its bytes any more. */
export function giveReadBuffer(buf: Buffer): void {
  if (free.length < MAX_FREE) free.push(buf);
}

/**
 * Where a pooled socket's reads go: `chunk` is a view of a pooled buffer, `buf` the whole buffer
 * to hand back with giveReadBuffer once `chunk` has been written. Return false to stop reading
 * (resume with `socket.resume()`).
 */
export type ReadSink = (chunk: Buffer, buf: Buffer) => boolean;

interface Reader {
  sink: ReadSink | undefined;
  /** Bytes read before a sink was attached (copies; the pooled buffer went back at once). */
  early: Buffer[];
}

const readers = new WeakMap<Socket, Reader>();

// Called by Node with the socket as `this`: one function for every pooled socket.
function onRead(this: Socket, nread: number, buf: Buffer): boolean {
  const r = readers.get(this);
  if (r?.sink) return r.sink(buf.subarray(0, nread), buf);
  // Bytes before the relay is attached (a server that speaks first): keep a copy, and the buffer
  // goes straight back (Node asks the pool for the next read's buffer right after this returns).
  r?.early.push(Buffer.from(buf.subarray(0, nread)));
  giveReadBuffer(buf);
  return true;
}

/** `net.connect` options that make the socket read into pooled buffers; pass the socket to `trackPooledReads`. */
export function pooledReadOptions(): { onread: { buffer: () => Buffer; callback: typeof onRead } } {
  return { onread: { buffer: take, callback: onRead } };
}

/** Registers a socket made with pooledReadOptions(), before it can read. */
export function trackPooledReads(socket: Socket): void {
  readers.set(socket, { sink: undefined, early: [] });
}

/** Whether `s` reads through the pool (and so emits no 'data'). */
export function readsPooled(s: object): s is Socket {
  return readers.has(s as Socket);
}

/**
 * Sends a pooled socket's reads to `sink` from now on, and returns the bytes read before (copies,
 * for the caller to write first).
 */
export function attachReadSink(socket: Socket, sink: ReadSink): Buffer[] {
  const r = readers.get(socket);
  if (!r) throw new TypeError('attachReadSink: the socket was not made with pooledReadOptions()');
  r.sink = sink;
  const early = r.early;
  r.early = [];
  return early;
}
