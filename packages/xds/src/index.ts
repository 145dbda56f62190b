// Public API of @zt/xds. Each group below is a chunk of its own (the comment and the blank line
// after it keep the import sorter from mixing groups).

// What most users need: the state (ProxyState over a snapshot) and the model it holds, the store
// that the xDS client or the local config fills, the client, the local config, the config dump,
// IP text forms, and the errors.

export { XdsClient, type XdsClientEvents, type XdsClientOptions } from './client.ts';
export {
  type ConfigDump,
  configDump,
  dumpLocalConfig,
  dumpNetworkGateways,
  type NetworkGatewayDump,
} from './dump.ts';
export { LocalConfigError, ResourceError, XdsConfigError, XdsError, type XdsErrorCode } from './errors.ts';
export {
  bytesToIp,
  canonicalIp,
  cidrContains,
  ipToBytes,
  type ParsedIp,
  parseIp,
  socketIp,
} from './ip.ts';
export { type LocalConfigSource, loadLocalConfig, parseLocalConfig } from './local.ts';
export type { TerminationReason } from './metrics.ts';
export { buildNode, type NodeInfo } from './node.ts';
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

// Lower level: protobuf <-> model conversion (the bench and tools use these).

export {
  DEFAULT_CLUSTER_ID,
  DEFAULT_TRUST_DOMAIN,
  type DecodedAddress,
  decodeAddress,
  decodeAuthorization,
} from './decode.ts';
export { encodeAuthorization, encodeService, encodeWorkload } from './encode.ts';
export {
  ADDRESS_TYPE_URL,
  AUTHORIZATION_TYPE_URL,
  decodeAddressBytes,
  decodeAuthorizationBytes,
  encodeAddressBytes,
  encodeAuthorizationBytes,
} from './pb.ts';
