// SOCK_SEQPACKET Unix sockets that carry file descriptors (SCM_RIGHTS): the transport of istio-cni's
// ZDS protocol, which hands zt the network namespaces of new pods. Client and server (the server
// serves fake CNI agents in tests). Message boundaries are kept: one send is one recv.
import { unlinkSync } from 'node:fs';
import { addon, type RawAddon } from './binding.ts';
import { call, MessageTruncatedError, SocketClosedError } from './errors.ts';
import { FdWatcher, READABLE, WRITABLE } from './poll.ts';

export interface SeqpacketMessage {
  data: Buffer;
  /** Received descriptors (close-on-exec); the receiver owns them and closes them with closeFd. */
  fds: number[];
}

export interface RecvOptions {
  /** Largest message accepted, default 64 KiB; a longer one throws MessageTruncatedError. */
  maxBytes?: number;
  /** Most descriptors accepted in one message, default 16. */
  maxFds?: number;
}

/** Runs tasks one after another, so concurrent sends (or recvs) keep their call order. */
class Queue {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(task, task);
    this.#tail = next.catch(() => {});
    return next;
  }
}

export class SeqpacketSocket {
  readonly #native: RawAddon;
  readonly #fd: number;
  readonly #watcher: FdWatcher;
  readonly #sends = new Queue();
  readonly #recvs = new Queue();
  #closed = false;

  /** Connects to a listening SEQPACKET socket at `path`. */
  static connect(path: string): SeqpacketSocket {
    const native = addon('SeqpacketSocket.connect');
    return new SeqpacketSocket(
      native,
      call(() => native.seqpacketConnect(path), path),
    );
  }

  /** @internal Use SeqpacketSocket.connect or SeqpacketServer.accept. */
  constructor(native: RawAddon, fd: number) {
    this.#native = native;
    this.#fd = fd;
    try {
      this.#watcher = new FdWatcher(native, fd, true);
    } catch (e) {
      native.closeFd(fd);
      throw e;
    }
  }

  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends one message, with `fds` attached (they stay open on this side). */
  send(data: Uint8Array, fds: readonly number[] = []): Promise<void> {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    for (const fd of fds) {
      if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`not a file descriptor: ${fd}`);
    }
    return this.#sends.run(async () => {
      for (;;) {
        this.#checkOpen();
        const sent = call(() => this.#native.sendMsg(this.#fd, buf, [...fds]), 'SEQPACKET send');
        if (sent !== null) return;
        await this.#watcher.wait(WRITABLE);
      }
    });
  }

  /** Receives one message; null once the peer has closed the connection. */
  recv(options: RecvOptions = {}): Promise<SeqpacketMessage | null> {
    const maxBytes = options.maxBytes ?? 65536;
    const maxFds = options.maxFds ?? 16;
    return this.#recvs.run(async () => {
      for (;;) {
        this.#checkOpen();
        const msg = call(() => this.#native.recvMsg(this.#fd, maxBytes, maxFds), 'SEQPACKET recv');
        if (msg === null) {
          await this.#watcher.wait(READABLE);
          continue;
        }
        if (msg.truncated || msg.fdsTruncated) {
          for (const fd of msg.fds) this.#native.closeFd(fd);
          throw new MessageTruncatedError(msg.truncated ? 'data' : 'fds', msg.truncated ? maxBytes : maxFds);
        }
        if (msg.data.length === 0 && msg.fds.length === 0) return null;
        return { data: msg.data, fds: msg.fds };
      }
    });
  }

  /** A socket that is only waiting does not keep the process alive. */
  unref(): this {
    this.#watcher.unref();
    return this;
  }

  ref(): this {
    this.#watcher.ref();
    return this;
  }

  /** Closes the socket; pending send/recv calls reject with SocketClosedError. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watcher.close(new SocketClosedError('the SEQPACKET socket'));
    this.#native.closeFd(this.#fd);
  }

  #checkOpen(): void {
    if (this.#closed) throw new SocketClosedError('the SEQPACKET socket');
  }
}

export interface SeqpacketListenOptions {
  backlog?: number;
  /** Remove a stale socket file at `path` first (default true). */
  replace?: boolean;
}

export class SeqpacketServer {
  readonly path: string;
  readonly #native: RawAddon;
  readonly #fd: number;
  readonly #watcher: FdWatcher;
  readonly #accepts = new Queue();
  #closed = false;

  /** Listens on a SEQPACKET Unix socket at `path`. */
  static listen(path: string, options: SeqpacketListenOptions = {}): SeqpacketServer {
    const native = addon('SeqpacketServer.listen');
    if (options.replace ?? true) unlinkStale(path);
    const fd = call(() => native.seqpacketListen(path, options.backlog ?? 64), path);
    return new SeqpacketServer(native, fd, path);
  }

  /** @internal Use SeqpacketServer.listen. */
  constructor(native: RawAddon, fd: number, path: string) {
    this.#native = native;
    this.#fd = fd;
    this.path = path;
    try {
      this.#watcher = new FdWatcher(native, fd, true);
    } catch (e) {
      native.closeFd(fd);
      throw e;
    }
  }

  /** Resolves with the next incoming connection. */
  accept(): Promise<SeqpacketSocket> {
    return this.#accepts.run(async () => {
      for (;;) {
        if (this.#closed) throw new SocketClosedError('the SEQPACKET server');
        const fd = call(() => this.#native.seqpacketAccept(this.#fd), 'SEQPACKET accept');
        if (fd !== null) return new SeqpacketSocket(this.#native, fd);
        await this.#watcher.wait(READABLE);
      }
    });
  }

  unref(): this {
    this.#watcher.unref();
    return this;
  }

  /** Stops listening and removes the socket file; accepted sockets stay open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watcher.close(new SocketClosedError('the SEQPACKET server'));
    this.#native.closeFd(this.#fd);
    unlinkStale(this.path);
  }
}

function unlinkStale(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
