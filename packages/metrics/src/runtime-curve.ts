/**
 * Prometheus bucket counts out of a percentile curve. Node's event-loop delay monitor keeps its samples
 * in an HDR histogram that it only shows as percentiles (`histogram.percentiles`: 0, 50, 75, 87.5, ...
 * up to 100, finer towards the tail). Each point (p, v) says p% of the samples were at most v; between
 * two points the curve is taken as linear. The tail, where the points are dense, comes out close to
 * exact; the body below the median is an estimate.
 */

/** One point of the curve: `percentile` (0..100) of the samples were at most `value`. */
export interface CurvePoint {
  percentile: number;
  value: number;
}

export interface BucketCounts {
  /** Samples at most each bound (cumulative, same order as the bounds). */
  cumulative: number[];
  /** Estimated sum of the samples. */
  sum: number;
}

/**
 * Cumulative counts at each of `bounds` (ascending) for `count` samples on the curve `points`
 * (ascending percentiles, values not decreasing).
 */
export function bucketsFromCurve(
  points: readonly CurvePoint[],
  count: number,
  bounds: readonly number[],
): BucketCounts {
  if (count <= 0 || points.length === 0) return { cumulative: bounds.map(() => 0), sum: 0 };
  const cumulative: number[] = [];
  let previous = 0;
  for (const bound of bounds) {
    const at = Math.min(count, Math.max(previous, Math.round((count * fractionAtMost(points, bound)) / 100)));
    cumulative.push(at);
    previous = at;
  }
  return { cumulative, sum: sumUnder(points, count) };
}

/** Percentage of the samples at most `bound`. */
function fractionAtMost(points: readonly CurvePoint[], bound: number): number {
  const first = points[0] as CurvePoint;
  if (bound < first.value) return 0;
  let i = 0;
  while (i + 1 < points.length && (points[i + 1] as CurvePoint).value <= bound) i++;
  const lo = points[i] as CurvePoint;
  const hi = points[i + 1];
  if (!hi) return 100;
  return lo.percentile + ((hi.percentile - lo.percentile) * (bound - lo.value)) / (hi.value - lo.value);
}

/** The area under the curve: each segment's share of the samples at its mid value. */
function sumUnder(points: readonly CurvePoint[], count: number): number {
  const first = points[0] as CurvePoint;
  const last = points[points.length - 1] as CurvePoint;
  // Mass outside the curve's span, if any, sits at its ends.
  let sum = (first.percentile / 100) * count * first.value;
  sum += ((100 - last.percentile) / 100) * count * last.value;
  for (let i = 0; i + 1 < points.length; i++) {
    const lo = points[i] as CurvePoint;
    const hi = points[i + 1] as CurvePoint;
    sum += ((hi.percentile - lo.percentile) / 100) * count * ((lo.value + hi.value) / 2);
  }
  return sum;
}
