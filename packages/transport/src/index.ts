export type { CertSource, WorkloadCertificate } from '@zt/identity';
export {
  type Authority,
  formatAuthority,
  formatHboneAuthority,
  type HboneAuthority,
  type HostAuthority,
  parseAuthority,
  parseHboneAuthority,
  type SocketAddress,
} from './authority.ts';
export {
  type ConnectionState,
  type DialOptions,
  HboneConnection,
  type OpenOptions,
} from './client.ts';
export {
  DEFAULT_FLOW_CONTROL,
  DEFAULT_POOL_MAX_STREAMS_PER_CONNECTION,
  DEFAULT_POOL_UNUSED_RELEASE_TIMEOUT_MS,
  FLOW_CONTROL_LIMITS,
  type FlowControl,
} from './config.ts';
export type { Dialer } from './dialer.ts';
export {
  ConnectTimeoutError,
  HboneConnectError,
  HboneConnectionError,
  HboneError,
  type HboneErrorCode,
  InvalidAuthorityError,
  PeerIdentityMismatchError,
  PeerTrustDomainError,
  PoolClosedError,
  StreamResetError,
} from './errors.ts';
export { HbonePool, type PoolOptions, type PoolStats, type TunnelRequest } from './pool.ts';
export {
  HboneServer,
  type HboneServerOptions,
  type InboundTunnel,
  type TunnelStatus,
} from './server.ts';
export { HboneTunnel } from './stream.ts';
