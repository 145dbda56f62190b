// Retry pacing, shared by every loop that retries: the xDS and ZDS reconnects and the CSR retries.
// It sits in the bottom layer with the errors that cause retries, so any package can use it.

export interface BackoffOptions {
  /** The first delay, ms. */
  readonly initialMs: number;
  /** The ceiling, ms: doubling stops here. */
  readonly maxMs: number;
  /**
   * Draw each delay uniformly from the upper half of its doubled value ([d/2, d]), so that clients
   * failing together do not retry together.
   */
  readonly jitter?: boolean;
  /** Source of jitter, [0, 1); tests pin it. */
  readonly random?: () => number;
}

/**
 * The delay before retry number `attempt` (1 for the first retry): `initialMs` doubled for each
 * retry before it, at most `maxMs`; with jitter, drawn from [d/2, d] of that.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  // Doubling past 2^30 only overflows towards the ceiling anyway.
  const base = opts.initialMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30);
  if (!opts.jitter) return Math.min(opts.maxMs, base);
  const random = opts.random ?? Math.random;
  return Math.min(opts.maxMs, Math.round(base * (0.5 + 0.5 * random())));
}

/**
 * The backoff of one retry loop: `next()` is the delay to wait now (initial, then doubling up to
 * the ceiling); `reset()` once the thing retried works again, so the next failure waits the
 * initial delay again.
 */
export class Backoff {
  readonly #opts: BackoffOptions;
  #attempt = 0;

  constructor(opts: BackoffOptions) {
    this.#opts = opts;
  }

  /** Failures since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }

  next(): number {
    this.#attempt++;
    return backoffDelay(this.#attempt, this.#opts);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
