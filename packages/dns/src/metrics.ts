import { type Counter, counter, type Histogram, histogram } from '@zt/metrics';
import type { RejectReason } from './message.ts';

// Upstream's DNS metrics (src/dns/metrics.rs): same names, help, labels and buckets. Upstream
// registers `dns_requests` etc. under the `istio` prefix and its encoder appends `_total` to
// counters and `_seconds` to the duration, which gives the names below.

export const DNS_LABELS = [
  'request_query_type',
  'request_protocol',
  'source_canonical_service',
  'source_canonical_revision',
] as const;
export type DnsLabel = (typeof DNS_LABELS)[number];
export type DnsLabels = Record<DnsLabel, string>;

/** Upstream's buckets for istio_dns_upstream_request_duration_seconds. */
export const UPSTREAM_DURATION_BUCKETS = [0.0005, 0.001, 0.01, 0.1, 1, 5];

export interface DnsMetrics {
  requests: Counter<DnsLabel>;
  upstreamRequests: Counter<DnsLabel>;
  upstreamFailures: Counter<DnsLabel>;
  upstreamDuration: Histogram<DnsLabel>;
  /** zt's own: messages not answered normally, by reason (bad input, caps, timeouts). */
  rejected: Counter<'reason'>;
}

let shared: DnsMetrics | undefined;

/** The DNS metrics in @zt/metrics' registry (this thread's); created on first use. */
export function dnsMetrics(): DnsMetrics {
  shared ??= {
    requests: counter('istio_dns_requests_total', 'Total number of DNS requests (unstable)', DNS_LABELS),
    upstreamRequests: counter(
      'istio_dns_upstream_requests_total',
      'Total number of DNS requests forwarded to upstream (unstable)',
      DNS_LABELS,
    ),
    upstreamFailures: counter(
      'istio_dns_upstream_failures_total',
      'Total number of DNS requests that failed to forward upstream (unstable)',
      DNS_LABELS,
    ),
    upstreamDuration: histogram(
      'istio_dns_upstream_request_duration_seconds',
      'Total time in seconds Istio takes to get DNS response from upstream (unstable)',
      DNS_LABELS,
      UPSTREAM_DURATION_BUCKETS,
    ),
    rejected: counter(
      'zt_dns_rejected_total',
      'DNS messages zt did not answer normally: bad input, caps, timeouts, malformed upstream answers (zt only)',
      ['reason'],
    ),
  };
  return shared;
}

export type { RejectReason };
