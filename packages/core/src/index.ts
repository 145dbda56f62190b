export {
  type AuthzConnection,
  type AuthzDecision,
  type AuthzReason,
  authorize,
  policyKey,
  policyMatches,
} from './authz/authorize.ts';
export {
  type ClosedConnection,
  DEFAULT_RECENT_CONNECTIONS,
  RecentConnections,
  type RecentDump,
} from './conn/recent.ts';
export {
  DEFAULT_TCP_SOCKET_OPTIONS,
  type TcpSocketOptions,
  userTimeoutMs,
} from './conn/socket-options.ts';
export type { SocketOps } from './context.ts';
export { DataPlane, type DataPlaneOptions, type WorkerRestartEvent } from './dataplane.ts';
export { DEFAULT_DNS_ADDRESSES, DEFAULT_DNS_PORT } from './dns.ts';
export {
  CertificateUnavailableError,
  CoreError,
  type CoreErrorCode,
  DialError,
  DrainDeadlineError,
  InpodNotConfiguredError,
  ListenError,
  NativeRequiredError,
  NoLocalWorkloadError,
  NotInWorkerError,
  PodWorkloadUnknownError,
  PolicyDeniedError,
  Socks5Error,
  TransportModuleError,
  WorkerExitedError,
  WorkerRequestError,
  WorkloadGoneError,
} from './errors.ts';
export type {
  BoundListener,
  DnsProxyConfig,
  ListenerOptions,
  ListenerPorts,
  ProxyConfig,
} from './options.ts';
export {
  DEFAULT_DRAIN_DEADLINE_MS,
  DEFAULT_HBONE_PORT,
  DEFAULT_PORTS,
  DEFAULT_SOCKET_MARK,
  DEFAULT_SOCKS5_PORT,
} from './options.ts';
export { type Route, type RouteOptions, routeOutbound } from './outbound/route.ts';
export { POD_WORKLOAD_WAIT_MS, type PodInfo } from './pods.ts';
export { type CpuProfile, takeCpuProfile } from './profile.ts';
export { type ProxyDeps, ProxyEngine } from './proxy.ts';
export { X_FORWARDED_NETWORK } from './transports/double-hbone.ts';
export { TransportRegistry, transports } from './transports/registry.ts';
export type {
  CarriedRoute,
  Transport,
  TransportContext,
  TransportRequest,
} from './transports/transport.ts';
export type { ConnectionInfo } from './types.ts';
