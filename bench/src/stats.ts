// Percentiles and medians of measured samples. Nearest-rank percentiles (no interpolation): every
// reported figure is a value that was actually observed, which keeps small samples honest.

/** Nearest-rank percentile `p` (0..100) of `values`; NaN for an empty input. Does not mutate. */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return percentileOfSorted(sorted, p);
}

/** As `percentile`, on values already sorted ascending (hot path: latency samples). */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (p <= 0) return sorted[0] as number;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}

/** The median; for an even count the mean of the two middle values (the usual convention). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = Float64Array.from(values).sort();
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarize(values: readonly number[]): LatencySummary {
  const s = Float64Array.from(values).sort();
  return {
    count: s.length,
    p50: percentileOfSorted(s, 50),
    p90: percentileOfSorted(s, 90),
    p99: percentileOfSorted(s, 99),
    max: s.length > 0 ? (s[s.length - 1] as number) : Number.NaN,
  };
}
