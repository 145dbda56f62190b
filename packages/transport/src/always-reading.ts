import { Duplex } from 'node:stream';

/**
 * Sits between an HTTP/2 session and its TLS socket and completes every write at once.
 * Node's Http2Session stops reading its socket while one of its writes is pending; when both ends
 * of a connection do that with more bytes in flight than the kernel buffers hold, neither reads
 * again. Completing writes at once keeps this end reading, so at most one end can wait, and the
 * other drains it. The bytes held here are bounded by the peer's HTTP/2 flow-control windows.
 */
export class AlwaysReading extends Duplex {
  readonly #inner: Duplex;

  constructor(inner: Duplex) {
    super({ allowHalfOpen: true, readableHighWaterMark: 256 * 1024, writableHighWaterMark: 256 * 1024 });
    this.#inner = inner;
    inner.on('data', (c: Buffer) => {
      if (!this.push(c)) inner.pause();
    });
    inner.once('end', () => this.push(null));
    inner.once('error', (e) => this.destroy(e));
    inner.once('close', () => this.destroy());
  }

  override _read(): void {
    this.#inner.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.#inner.write(chunk);
    cb();
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    for (const { chunk } of chunks) this.#inner.write(chunk);
    cb();
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.#inner.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.#inner.destroy(err ?? undefined);
    cb(err);
  }
}
