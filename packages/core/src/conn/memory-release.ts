/** How long the connection count must stay down, with no new connection, before releasing. */
export const QUIET_MS = 2000;
/** Below this peak a partial drop is not worth a release; only reaching zero is. */
const PEAK_FLOOR = 64;

/**
 * Decides when to hand freed memory back to the OS: after traffic has gone quiet, meaning no
 * connection is left (or at most a quarter of the peak since the last release) and none opened
 * for QUIET_MS. Per-connection calls would walk the allocator's free lists on the hot path, and a
 * timer would trim memory that steady load is about to reuse.
 */
export class MemoryRelease {
  readonly #release: () => void;
  readonly #size: () => number;
  readonly #quietMs: number;
  #peak = 0;
  #opens = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(release: () => void, size: () => number, quietMs = QUIET_MS) {
    this.#release = release;
    this.#size = size;
    this.#quietMs = quietMs;
  }

  opened(): void {
    this.#opens++;
    this.#peak = Math.max(this.#peak, this.#size());
  }

  closed(): void {
    if (this.#timer === undefined && this.#opens > 0 && this.#down()) this.#arm(this.#opens);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #down(): boolean {
    const n = this.#size();
    return n === 0 || (this.#peak >= PEAK_FLOOR && n * 4 <= this.#peak);
  }

  #arm(opensAtArm: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#down()) return;
      // Connections opened meanwhile: traffic is not over yet; look again after another quiet spell.
      if (this.#opens !== opensAtArm) return this.#arm(this.#opens);
      this.#opens = 0;
      this.#peak = this.#size();
      this.#release();
    }, this.#quietMs);
    this.#timer.unref();
  }
}
