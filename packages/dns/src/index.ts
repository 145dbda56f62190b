// Public API of @zt/dns: the proxy, its forwarder, the state view it reads (and the adapter over
// @zt/xds), metrics and errors. Lower-level pieces (name expansion, message codec) are exported for
// tools and the bench.

export {
  DnsForwardError,
  DnsListenError,
  DnsNetnsUnsupportedError,
  type ForwardFailure,
  ResolvConfError,
} from './errors.ts';
export {
  type Forwarder,
  type ForwarderDump,
  type ForwardRequest,
  type FromResolvConfOptions,
  SystemForwarder,
  type SystemForwarderOptions,
  type Upstream,
} from './forwarder.ts';
export { DEFAULT_LIMITS, type DnsLimits } from './limits.ts';
export { type AddressType, type MeshAnswer, MeshLookup, type MeshLookupOptions } from './lookup.ts';
export { parseQuery, type Query, type RejectReason } from './message.ts';
export {
  DNS_LABELS,
  type DnsLabel,
  type DnsLabels,
  type DnsMetrics,
  dnsMetrics,
  UPSTREAM_DURATION_BUCKETS,
} from './metrics.ts';
export { aliases, kubeFqdns, kubeSearchDomains, trimDomain, wildcards } from './names.ts';
export {
  type BoundAddress,
  type DnsBind,
  type DnsDump,
  type DnsListener,
  type DnsListenOptions,
  type DnsLogger,
  DnsProxy,
  type DnsProxyOptions,
  type QueryContext,
} from './proxy.ts';
export { parseResolvConf, type ResolvConf, readResolvConf } from './resolv-conf.ts';
export type { DnsClient, DnsService, DnsStateView, DnsVip } from './state.ts';
export { dnsStateOf } from './xds-state.ts';
