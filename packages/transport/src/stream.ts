import { constants, type Http2Stream, type IncomingHttpHeaders } from 'node:http2';
import { Duplex } from 'node:stream';
import { StreamResetError } from './errors.ts';

/**
 * One HBONE tunnel as a byte stream: write() sends DATA, end() sends END_STREAM, 'end' means the
 * peer sent END_STREAM. A reset (RST_STREAM, or the connection dying) destroys it with a
 * StreamResetError, never with a clean 'end': Node's Http2Stream emits 'end' before reporting a
 * reset, which would make a relay forward a truncated stream as a normal FIN.
 */
export class HboneTunnel extends Duplex {
  /** The underlying HTTP/2 stream (for its id, state and priority); do not read or write it. */
  readonly http2: Http2Stream;

  /**
   * The peer's answer to our CONNECT (client side; empty on the server side): upstream's inbound
   * puts the destination workload's `baggage` there.
   */
  readonly responseHeaders: IncomingHttpHeaders;

  constructor(stream: Http2Stream, responseHeaders: IncomingHttpHeaders = {}) {
    super({ allowHalfOpen: true, readableHighWaterMark: 64 * 1024, writableHighWaterMark: 64 * 1024 });
    this.http2 = stream;
    this.responseHeaders = responseHeaders;
    stream.on('data', (c: Buffer) => {
      if (!this.push(c)) stream.pause();
    });
    // Node reports a reset next to the EOF it causes, in either order and in the same turn of the
    // event loop ('aborted' then 'end' for a bare RST_STREAM; 'end' then the error when a Node peer
    // sends END_STREAM before its RST_STREAM). So the EOF is judged on the next turn.
    let endPending = false;
    let endDelivered = false;
    let aborted = false;
    const resetCode = () => {
      const code = stream.rstCode;
      if (code !== undefined && code !== constants.NGHTTP2_NO_ERROR) return code;
      return aborted ? constants.NGHTTP2_CANCEL : undefined;
    };
    // on() for events that fire once anyway: once() keeps a wrapper per listener for the tunnel's life.
    stream.on('aborted', () => {
      aborted = true;
    });
    stream.on('end', () => {
      endPending = true;
      setImmediate(() => {
        endPending = false;
        const code = resetCode();
        if (code !== undefined) this.#reset(code);
        else {
          endDelivered = true;
          this.push(null);
        }
      });
    });
    stream.on('error', (e: Error) => this.#reset(stream.rstCode ?? constants.NGHTTP2_INTERNAL_ERROR, e));
    stream.on('close', () => {
      if (this.destroyed || endPending) return;
      const code = resetCode();
      if (endDelivered) {
        // The peer's data arrived whole; a reset now only matters if we were still sending.
        if (code !== undefined && !this.writableFinished) this.#reset(code);
        return;
      }
      if (code !== undefined) this.#reset(code);
      else
        this.#reset(
          constants.NGHTTP2_NO_ERROR,
          new Error('the HBONE connection closed before the tunnel ended'),
        );
    });
  }

  /** The RST_STREAM code once the stream closed, else undefined. */
  get rstCode(): number | undefined {
    return this.http2.rstCode;
  }

  /**
   * Resets the tunnel (RST_STREAM INTERNAL_ERROR) and destroys it. Node's Http2Stream.close(code)
   * would send END_STREAM before the reset, which the peer could take for a clean end; destroying
   * the HTTP/2 stream with an error sends the reset alone.
   */
  reset(reason = 'reset by this end'): void {
    if (!this.http2.destroyed) {
      this.http2.destroy(new StreamResetError(constants.NGHTTP2_INTERNAL_ERROR, reason));
    }
    this.destroy();
  }

  #reset(code: number, cause?: Error): void {
    if (this.destroyed) return;
    const detail =
      code === constants.NGHTTP2_CANCEL
        ? 'the peer cancelled the tunnel'
        : cause
          ? cause.message
          : 'the peer or the connection reset the tunnel';
    this.destroy(new StreamResetError(code, detail));
  }

  override _read(): void {
    this.http2.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.http2.write(chunk)) cb();
    else this.http2.once('drain', () => cb());
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    // A corked batch (see the relay) reaches the HTTP/2 stream as one write request.
    const s = this.http2;
    s.cork();
    let ok = true;
    for (const { chunk } of chunks) ok = s.write(chunk);
    s.uncork();
    if (ok) cb();
    else s.once('drain', () => cb());
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.http2.end(() => cb());
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    const s = this.http2;
    // Destroyed before a clean finish (our socket failed, or the caller gave up): RST_STREAM, so the
    // peer never mistakes it for END_STREAM.
    if (!s.destroyed && !(s.writableFinished && s.readableEnded)) {
      s.destroy(err ?? new StreamResetError(constants.NGHTTP2_INTERNAL_ERROR, 'tunnel abandoned'));
    }
    cb(err);
  }
}
