export {
  type AuthzConnection,
  type AuthzDecision,
  type AuthzReason,
  authorize,
  policyKey,
  policyMatches,
} from './authz/authorize.ts';
export type { SocketOps } from './context.ts';
export { DataPlane, type DataPlaneOptions, type WorkerRestartEvent } from './dataplane.ts';
export {
  CoreError,
  type CoreErrorCode,
  DialError,
  DrainDeadlineError,
  ListenError,
  NativeRequiredError,
  NoLocalWorkloadError,
  PolicyDeniedError,
  Socks5Error,
  WorkloadGoneError,
} from './errors.ts';
export { type LogFormat, parseLogFormat, plainLine, ztLogger, ztLoggerOptions } from './log-format.ts';
export type { BoundListener, ListenerOptions, ListenerPorts, ProxyConfig } from './options.ts';
export { DEFAULT_PORTS } from './options.ts';
export { type Route, type RouteOptions, routeOutbound } from './outbound/route.ts';
export { type ProxyDeps, ProxyEngine } from './proxy.ts';
export type { ConnectionInfo } from './types.ts';
