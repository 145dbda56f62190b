// A persistent echo connection: one request of `size` bytes in flight at a time; resolves when the
// whole echo is back.
import type { Socket } from 'node:net';
import { MODE_ECHO } from '../server.ts';
import type { Target } from '../targets.ts';

export class EchoError extends Error {
  readonly code = 'ERR_ZT_BENCH_ECHO';
}

export class EchoConnection {
  readonly socket: Socket;
  #want = 0;
  #got = 0;
  #resolve: (() => void) | undefined;
  #reject: ((e: Error) => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#got += d.length;
      if (this.#resolve && this.#got >= this.#want) {
        const r = this.#resolve;
        this.#resolve = undefined;
        this.#reject = undefined;
        r();
      }
    });
    const fail = (e: Error): void => {
      const r = this.#reject;
      this.#resolve = undefined;
      this.#reject = undefined;
      r?.(e);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new EchoError('connection closed with a request in flight')));
    socket.resume();
  }

  static async open(target: Target): Promise<EchoConnection> {
    const sock = await target.open();
    sock.write(Buffer.of(MODE_ECHO));
    return new EchoConnection(sock);
  }

  request(payload: Buffer): Promise<void> {
    if (this.#resolve) return Promise.reject(new EchoError('one request at a time per connection'));
    this.#got = 0;
    this.#want = payload.length;
    const p = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.socket.write(payload);
    return p;
  }

  close(): void {
    this.socket.destroy();
  }
}
