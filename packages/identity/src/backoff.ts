/** Retry delays after failed CSRs: 0.5-1 s, then doubling with the same jitter, at most 150 s. */
export const BACKOFF_INITIAL_MS = 1000;
export const BACKOFF_MAX_MS = 150_000;

/**
 * Delay before retry number `failures` (1 for the first retry). Jitter takes the delay uniformly
 * from the upper half of the doubled interval, so pods failing together do not retry together.
 */
export function backoffDelay(failures: number, random: () => number = Math.random): number {
  const base = BACKOFF_INITIAL_MS * 2 ** Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(BACKOFF_MAX_MS, Math.round(base * (0.5 + 0.5 * random())));
}
