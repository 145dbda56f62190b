// The metric classes, so packages can name the types of what counter() and gauge() return.
export type { Counter, Gauge, Histogram } from 'prom-client';
export {
  aggregateRegistries,
  type MetricsSnapshot,
  metricsSnapshot,
  PROMETHEUS_CONTENT_TYPE,
  WorkerMetrics,
} from './aggregate.ts';
export { istioBuild, recordBuildInfo } from './build.ts';
export { DEFAULT_LABEL_SET_LIMIT } from './cardinality.ts';
export { maxFds, openFds, startProcessMetrics } from './process.ts';
export { counter, gauge, histogram, type MetricOptions, registry } from './registry.ts';
export {
  EVENT_LOOP_DELAY_BUCKETS,
  GC_PAUSE_BUCKETS,
  RUNTIME_METRIC_NAMES,
  type RuntimeMetrics,
  type RuntimeMetricsOptions,
  startRuntimeMetrics,
} from './runtime.ts';
export { CounterShare, counterShare } from './share.ts';
export {
  TRAFFIC_LABELS,
  type TrafficLabel,
  type TrafficLabels,
  tcpConnectionsClosed,
  tcpConnectionsFailed,
  tcpConnectionsOpened,
  tcpReceivedBytes,
  tcpSentBytes,
  tcpSocketsOpen,
  trafficLabels,
  UNKNOWN,
} from './traffic.ts';
