// Durations as upstream ztunnel reads them (the duration_str crate behind its parse_duration).

// Nanoseconds per unit; the keys are every spelling upstream accepts, lower-cased ("" is seconds).
const NS: Record<string, bigint> = {};
const unit = (ns: bigint, ...names: string[]) => {
  for (const n of names) NS[n] = ns;
};
unit(1n, 'ns', 'nsec', 'nanosecond', 'nanoseconds');
unit(1_000n, 'us', 'usec', 'usecond', 'µs', 'µsec', 'µsecond', 'microsecond', 'microseconds');
unit(1_000_000n, 'ms', 'msec', 'millisecond', 'milliseconds');
const SECOND = 1_000_000_000n;
const DAY = 86_400n * SECOND;
unit(SECOND, '', 's', 'sec', 'second', 'seconds');
unit(60n * SECOND, 'm', 'min', 'minute', 'minutes');
unit(3600n * SECOND, 'h', 'hr', 'hour', 'hours');
unit(DAY, 'd', 'day', 'days');
unit(7n * DAY, 'w', 'week', 'weeks');
unit(30n * DAY, 'mon', 'month', 'months');
unit(365n * DAY, 'y', 'year', 'years');

const MAX_NS = 2n ** 64n - 1n;
const TERM = /\s*(\d+)\s*([A-Za-zµ]*)\s*/y;
const OPERATOR = /[+*]/y;

/**
 * Milliseconds (rounded) of a duration as upstream writes them: whole numbers, each with a unit or
 * none (seconds): `10s`, `5m`, `100ms`, `1h30m`, `1m 30s`, `3m+31`. Terms are summed, or with `*`
 * multiplied as seconds (`1m*10` is ten minutes); the two operators do not mix. Units, in any
 * case: ns, us (µs), ms, s, m (min), h (hr), d, w, mon (30 days), y (365 days), and their long
 * names. Undefined when `text` is not such a duration.
 */
export function parseDurationMs(text: string): number | undefined {
  const terms: bigint[] = [];
  let operator: string | undefined;
  let at = 0;
  for (;;) {
    TERM.lastIndex = at;
    const m = TERM.exec(text);
    const ns = m ? NS[(m[2] ?? '').toLowerCase()] : undefined;
    if (!m || ns === undefined) return undefined;
    terms.push(BigInt(m[1] ?? '0') * ns);
    at = TERM.lastIndex;
    if (at === text.length) break;
    OPERATOR.lastIndex = at;
    const written = OPERATOR.exec(text);
    if (written) at = OPERATOR.lastIndex;
    // Terms side by side add up, as with `+`.
    const op = written?.[0] ?? '+';
    if (operator !== undefined && op !== operator) return undefined;
    operator = op;
  }
  let total = terms[0] ?? 0n;
  for (const t of terms.slice(1)) total = operator === '*' ? (total * t) / SECOND : total + t;
  if (total > MAX_NS) return undefined;
  return Math.round(Number(total) / 1e6);
}
