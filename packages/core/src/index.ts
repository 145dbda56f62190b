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
export type { SocketOps } from './context.ts';
export { DataPlane, type DataPlaneOptions, type WorkerRestartEvent } from './dataplane.ts';
export { type LogFormat, parseLogFormat, plainLine, ztLogger, ztLoggerOptions } from './log-format.ts';
export type { BoundListener, ListenerOptions, ListenerPorts, ProxyConfig } from './options.ts';
export { DEFAULT_PORTS } from './options.ts';
export { type Route, type RouteOptions, routeOutbound, workloadIdentity } from './outbound/route.ts';
export { type CpuProfile, takeCpuProfile } from './profile.ts';
export { type ProxyDeps, ProxyEngine } from './proxy.ts';
export type { ConnectionInfo } from './types.ts';
