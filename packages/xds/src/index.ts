// Public API of @zt/xds. First what users need: the state (ProxyState over a snapshot), the store
// that the xDS client or the local config fills, then the client, local config and dump.

export { XdsClient, type XdsClientEvents, type XdsClientOptions } from './client.ts';
// Lower level: protobuf <-> model conversion (the bench and tools use these).
export {
  DEFAULT_CLUSTER_ID,
  DEFAULT_TRUST_DOMAIN,
  type DecodedAddress,
  decodeAddress,
  decodeAuthorization,
} from './decode.ts';
export { type ConfigDump, configDump } from './dump.ts';
export { encodeAuthorization, encodeService, encodeWorkload } from './encode.ts';
export { LocalConfigError, ResourceError, XdsConfigError, XdsError } from './errors.ts';
export { canonicalIp } from './ip.ts';
export { type LocalConfigSource, loadLocalConfig, parseLocalConfig } from './local.ts';
export type { TerminationReason } from './metrics.ts';
export { buildNode, type NodeInfo } from './node.ts';
export {
  ADDRESS_TYPE_URL,
  AUTHORIZATION_TYPE_URL,
  decodeAddressBytes,
  decodeAuthorizationBytes,
  encodeAddressBytes,
  encodeAuthorizationBytes,
} from './pb.ts';
export { ProxyState } from './state.ts';
export { StateStore, type StateStoreEvents, type StateUpdate } from './store.ts';
export type {
  Authorization,
  Cidr,
  Clause,
  Endpoint,
  GatewayAddress,
  LoadBalancer,
  Locality,
  Match,
  NetworkAddress,
  PolicyAction,
  PolicyScope,
  ProxyStateView,
  Rule,
  Service,
  ServiceAccountMatch,
  ServicePort,
  StateSnapshot,
  StringMatch,
  TunnelProtocol,
  Workload,
  WorkloadStatus,
} from './types.ts';
