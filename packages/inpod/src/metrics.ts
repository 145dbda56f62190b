import { counter, gauge } from '@zt/metrics';
import type { RejectReason } from './errors.ts';

// Upstream registers its in-pod metrics under the `workload_manager` prefix (unstable names); the
// request-error and connection counters are zt's own, under the same prefix.

/** What this package needs of prom-client's metrics (keeps prom-client's types out of ours). */
interface Counter<L extends string> {
  inc(labels: Partial<Record<L, string>>, value?: number): void;
  inc(value?: number): void;
}
interface Gauge {
  set(value: number): void;
}

export const activeProxies: Gauge = gauge(
  'workload_manager_active_proxy_count',
  'The total number current workloads with active proxies (unstable)',
);

/** Pods whose proxy failed to start and waits for a retry (upstream's pending workloads). */
export const pendingProxies: Gauge = gauge(
  'workload_manager_pending_proxy_count',
  'The total number current workloads with pending proxies (unstable)',
);

export const proxiesStarted: Counter<never> = counter(
  'workload_manager_proxies_started_total',
  'The total number of proxies that were started (unstable)',
);

export const proxiesStopped: Counter<never> = counter(
  'workload_manager_proxies_stopped_total',
  'The total number of proxies that were stopped (unstable)',
);

export type ErrorReason = RejectReason | 'truncated';

export const requestErrors: Counter<'reason'> = counter(
  'workload_manager_request_errors_total',
  'ZDS requests from the node agent that zt refused, by reason (decode, fd, protocol, identity, truncated)',
  ['reason'],
);

export type ConnectionEnd = 'eof' | 'error' | 'truncated';

export const cniConnections: Counter<'result'> = counter(
  'workload_manager_cni_connections_total',
  'Connections to the istio-cni node agent, by how they ended (eof, error, truncated) or connect_failed',
  ['result'],
);
