// The app's HTTP servers, shaped like upstream ztunnel's: metrics (15020), readiness (15021),
// admin (15000, loopback; its `/logging` changes the level of every thread, see @zt/log).
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
export { AdminNotLoopbackError, ServerListenError } from './errors.ts';
export type { RunningServer } from './http.ts';
export { METRICS_PORT, type MetricsServerOptions, startMetricsServer } from './metrics.ts';
export {
  DEFAULT_PROFILE_SECONDS,
  MAX_PROFILE_SECONDS,
  ProfileEndpoints,
  type Profiler,
  profileFileName,
  type Thread,
} from './profile.ts';
export { READINESS_PORT, Readiness, type ReadinessServerOptions, startReadinessServer } from './readiness.ts';
export {
  type InpodStatusView,
  type StatusListener,
  type StatusProvider,
  type XdsStatus,
  XdsTracker,
  type ZtStatus,
} from './status.ts';
export {
  type ClosedConnectionInfo,
  type DenialInfo,
  type PairSummary,
  type RecentDumpInfo,
  type RecentProvider,
  type RuleDescriber,
  SUMMARY_WINDOW_MS,
  type TrafficFilter,
  type TrafficView,
  trafficView,
} from './traffic.ts';
export { describePolicyRule, describeRule } from './traffic-rules.ts';
