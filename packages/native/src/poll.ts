// Readiness waits on raw fds, over the addon's uv_poll watcher (one per fd). A wait resolves on
// any wake-up, errors included: the caller retries its syscall, which reports the real error.
import type { RawAddon } from './binding.ts';
import { call, SocketClosedError } from './errors.ts';

export const READABLE = 1;
export const WRITABLE = 2;

interface Waiter {
  events: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class FdWatcher {
  readonly #native: RawAddon;
  readonly #fd: number;
  #waiters: Waiter[] = [];
  #armed = 0;
  #closed = false;

  /** `ownsFd`: the fd is closed with the thread if the thread exits while it is still watched. */
  constructor(native: RawAddon, fd: number, ownsFd: boolean) {
    this.#native = native;
    this.#fd = fd;
    call(() => native.pollOpen(fd, (status, events) => this.#onEvent(status, events), ownsFd));
  }

  /** Resolves when the fd is ready for `events` (READABLE | WRITABLE) or reports an error. */
  wait(events: number): Promise<void> {
    if (this.#closed) return Promise.reject(new SocketClosedError('the fd watcher'));
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ events, resolve, reject });
      this.#arm();
    });
  }

  ref(): void {
    if (!this.#closed) this.#native.pollRef(this.#fd, true);
  }

  unref(): void {
    if (!this.#closed) this.#native.pollRef(this.#fd, false);
  }

  /** Stops watching (the fd may be closed right after) and rejects pending waits with `reason`. */
  close(reason: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.pollClose(this.#fd);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(reason);
  }

  #onEvent(status: number, events: number): void {
    const woken = this.#waiters.filter((w) => status < 0 || (w.events & events) !== 0);
    this.#waiters = this.#waiters.filter((w) => !woken.includes(w));
    // libuv stops the watcher itself after an error; re-arm from scratch for whoever still waits.
    if (status < 0) this.#armed = -1;
    this.#arm();
    for (const w of woken) w.resolve();
  }

  #arm(): void {
    if (this.#closed) return;
    const events = this.#waiters.reduce((acc, w) => acc | w.events, 0);
    if (events === this.#armed) return;
    this.#armed = events;
    call(() => this.#native.pollSet(this.#fd, events));
  }
}
