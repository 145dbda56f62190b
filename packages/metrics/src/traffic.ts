import { counter, gauge } from './registry.ts';

// Upstream ztunnel's traffic label set, in its order. Dashboards, alerts and Kiali key on these.
export const TRAFFIC_LABELS = [
  'reporter',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_service',
  'destination_service_namespace',
  'destination_service_name',
  'destination_workload',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_cluster',
  'request_protocol',
  'response_flags',
  'connection_security_policy',
  // Upstream flattens its locality labels after the rest. It leaves them out only of a label set
  // with neither a source nor a destination workload, which a proxied connection never has.
  'source_region',
  'source_zone',
  'destination_region',
  'destination_zone',
] as const;

export type TrafficLabel = (typeof TRAFFIC_LABELS)[number];
export type TrafficLabels = Record<TrafficLabel, string>;

export const UNKNOWN = 'unknown';

/** A complete label set: what is not known reads `unknown`, as upstream. */
export function trafficLabels(known: Partial<TrafficLabels>): TrafficLabels {
  const out = {} as TrafficLabels;
  for (const name of TRAFFIC_LABELS) {
    const v = known[name];
    out[name] = v === undefined || v === '' ? UNKNOWN : v;
  }
  return out;
}

export const tcpConnectionsOpened = counter(
  'istio_tcp_connections_opened_total',
  'The total number of TCP connections opened',
  TRAFFIC_LABELS,
);
export const tcpConnectionsClosed = counter(
  'istio_tcp_connections_closed_total',
  'The total number of TCP connections closed',
  TRAFFIC_LABELS,
);
export const tcpReceivedBytes = counter(
  'istio_tcp_received_bytes_total',
  'The size of total bytes received during request in case of a TCP connection',
  TRAFFIC_LABELS,
);
export const tcpSentBytes = counter(
  'istio_tcp_sent_bytes_total',
  'The size of total bytes sent during response in case of a TCP connection',
  TRAFFIC_LABELS,
);
// Upstream registers `tcp_connections_failed` and its encoder appends `_total` to every counter, so the
// exposed series is `istio_tcp_connections_failed_total`; that is the name queries and alerts use.
export const tcpConnectionsFailed = counter(
  'istio_tcp_connections_failed_total',
  'The total number of failed TCP connections',
  TRAFFIC_LABELS,
);

/**
 * Sockets accepted by zt's proxy listeners and not yet closed, by reporter: `source` for the
 * outbound ones (15001, SOCKS5), `destination` for the inbound ones (15008, 15006). Upstream counts
 * from accept to the end of the connection, TLS handshake and all.
 */
export const tcpSocketsOpen = gauge(
  'istio_tcp_sockets_open',
  'The current number of open TCP sockets (unstable)',
  ['reporter'],
);
