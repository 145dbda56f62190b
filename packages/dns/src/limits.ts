// The caps that keep one client, or a flood, from taking the proxy (and the node's zt) down with
// it. Documented in the package README; every value is overridable through DnsProxyOptions.limits.

export interface DnsLimits {
  /** Forwarded queries waiting for an upstream answer, over every client (SERVFAIL past it). */
  maxForwardsInFlight: number;
  /** The same, per source IP. */
  maxForwardsPerSource: number;
  /** Queries per second one source IP may send (token bucket, burst of one second's worth). */
  queriesPerSecondPerSource: number;
  /** Source IPs the rate limiter tracks; the least recently seen is forgotten past it. */
  maxTrackedSources: number;
  /** Open TCP connections, over every client. */
  maxTcpConnections: number;
  /** Open TCP connections per source IP. */
  maxTcpConnectionsPerSource: number;
  /** A TCP connection must complete a query within this long of opening or of the last one. */
  tcpIdleTimeoutMs: number;
  /** Unsent response bytes on a TCP connection before it stops reading (a client that does not read). */
  tcpMaxPendingWriteBytes: number;
  /** Largest UDP response, whatever EDNS size a client advertises. */
  maxUdpPayload: number;
}

export const DEFAULT_LIMITS: Readonly<DnsLimits> = Object.freeze({
  maxForwardsInFlight: 1024,
  maxForwardsPerSource: 128,
  queriesPerSecondPerSource: 5000,
  maxTrackedSources: 4096,
  maxTcpConnections: 256,
  maxTcpConnectionsPerSource: 16,
  tcpIdleTimeoutMs: 5000,
  tcpMaxPendingWriteBytes: 256 * 1024,
  maxUdpPayload: 4096,
});

export function resolveLimits(over: Partial<DnsLimits> | undefined): DnsLimits {
  const out = { ...DEFAULT_LIMITS, ...over };
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isFinite(v) || v <= 0)
      throw new RangeError(`DNS limit ${k} must be a positive number, got ${v}`);
  }
  return out;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** A token bucket per source IP, in a bounded table (a Map kept in least-recently-seen order). */
export class SourceRateLimiter {
  readonly #rate: number;
  readonly #max: number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;

  constructor(perSecond: number, maxSources: number, now: () => number = () => performance.now()) {
    this.#rate = perSecond;
    this.#max = maxSources;
    this.#now = now;
  }

  /** Takes one token for `source`; false when its bucket is empty. */
  take(source: string): boolean {
    const now = this.#now();
    let b = this.#buckets.get(source);
    if (b) {
      this.#buckets.delete(source);
      b.tokens = Math.min(this.#rate, b.tokens + ((now - b.at) / 1000) * this.#rate);
      b.at = now;
    } else {
      if (this.#buckets.size >= this.#max) {
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
      b = { tokens: this.#rate, at: now };
    }
    this.#buckets.set(source, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.#buckets.size;
  }
}

/** Counts per key with a cap: in-flight forwards or open connections per source. */
export class PerSourceCount {
  readonly #counts = new Map<string, number>();

  get(source: string): number {
    return this.#counts.get(source) ?? 0;
  }

  inc(source: string): void {
    this.#counts.set(source, this.get(source) + 1);
  }

  dec(source: string): void {
    const n = this.get(source) - 1;
    if (n <= 0) this.#counts.delete(source);
    else this.#counts.set(source, n);
  }

  get sources(): number {
    return this.#counts.size;
  }
}

/**
 * One warning per reason per window: a flood of bad packets must not become a flood of log lines.
 * Every occurrence is still counted in zt_dns_rejected_total; the line says how many it stands for.
 */
export class WarnThrottle {
  readonly #windowMs: number;
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(windowMs = 5000) {
    this.#windowMs = windowMs;
  }

  /** undefined: stay quiet; otherwise the number of occurrences since the last line (>= 1). */
  admit(key: string, now = Date.now()): number | undefined {
    const e = this.#last.get(key);
    if (e && now - e.at < this.#windowMs) {
      e.suppressed++;
      return undefined;
    }
    const count = (e?.suppressed ?? 0) + 1;
    this.#last.set(key, { at: now, suppressed: 0 });
    return count;
  }
}
