// The app's HTTP servers, shaped like upstream ztunnel's: metrics (15020), readiness (15021),
// admin (15000, loopback), and the JSON logs they and the data plane write to stdout.
export { ADMIN_PORT, type AdminServerOptions, isLoopback, startAdminServer } from './admin.ts';
export {
  type BuildInfo,
  buildConfigDump,
  buildInfo,
  type CertDump,
  type CertsDump,
  type ConfigDump,
  type ConfigDumpInput,
  type ConfigDumpProvider,
  certDump,
  certsDumpFrom,
  certsDumpOf,
  type DumpableCertificate,
  type ManagedCertificates,
  redactPrivateKeys,
  settingsDump,
} from './config-dump.ts';
export {
  type ConnectionDump,
  type DumpPod,
  type WorkloadStateEntry,
  workloadStateOf,
} from './config-dump-inpod.ts';
export type { ConnectionInfo, ConnectionPeer, ConnectionsProvider, ConnectionsView } from './connections.ts';
export { AdminNotLoopbackError, LogFilterError, ServerListenError } from './errors.ts';
export type { RunningServer } from './http.ts';
export {
  type AccessLogFields,
  type AccessLogPeer,
  accessLog,
  createLogger,
  type LogFilter,
  Logging,
  type LoggingOptions,
  type LogLevel,
  type LogLevelControl,
  parseLogFilter,
  pinoLevelFor,
} from './logging.ts';
export { METRICS_PORT, type MetricsServerOptions, startMetricsServer } from './metrics.ts';
export { READINESS_PORT, Readiness, type ReadinessServerOptions, startReadinessServer } from './readiness.ts';
