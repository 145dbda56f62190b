// Every environment variable zt reads, and upstream ztunnel's variables zt does not, in one place:
// `zt doctor` flags what is set but unknown, misspelled, or ignored, and config.ts can derive its
// reading from the same list.

export interface ReadVariable {
  readonly name: string;
  /** `upstream`: ztunnel's own variable; `zt`: a zt extension. */
  readonly origin: 'upstream' | 'zt';
}

/** The variables config.ts and its config-*.ts helpers (and @zt/native) read. */
export const READ_VARIABLES: readonly ReadVariable[] = [
  ...[
    'XDS_ADDRESS',
    'CA_ADDRESS',
    'XDS_ROOT_CA',
    'CA_ROOT_CA',
    'ALT_XDS_HOSTNAME',
    'ALT_CA_HOSTNAME',
    'AUTH_TOKEN',
    'CLUSTER_ID',
    'CLUSTER_DOMAIN',
    'TRUST_DOMAIN',
    'NETWORK',
    'LOCAL_XDS_PATH',
    'LOCAL_XDS',
    'FAKE_CA',
    'SECRET_TTL',
    'INSTANCE_IP',
    'POD_NAME',
    'POD_NAMESPACE',
    'NODE_NAME',
    'SERVICE_ACCOUNT',
    'KUBERNETES_SERVICE_HOST',
    'ZTUNNEL_WORKER_THREADS',
    'ZTUNNEL_CPU_LIMIT',
    'ZTUNNEL_RESOURCE_CPU_LIMIT',
    'ZTUNNEL_RESOURCE_CPU_REQUEST',
    'CONNECTION_TERMINATION_DEADLINE',
    'TERMINATION_GRACE_PERIOD_SECONDS',
    'PROXY_CONFIG',
    'IPV6_ENABLED',
    'PROXY_MODE',
    'PROXY_WORKLOAD_INFO',
    'INPOD_PORT_REUSE',
    'PACKET_MARK',
    'POOL_MAX_STREAMS_PER_CONNECTION',
    'POOL_UNUSED_RELEASE_TIMEOUT',
    'HTTP2_STREAM_WINDOW_SIZE',
    'HTTP2_CONNECTION_WINDOW_SIZE',
    'HTTP2_FRAME_SIZE',
    'TLS12_ENABLED',
    'UNSTABLE_ENABLE_SOCKS5',
    'RUST_LOG',
    'LOG_FORMAT',
    'INPOD_UDS',
    'ENABLE_ORIG_SRC',
    'LOCALHOST_APP_TUNNEL',
    'ENABLE_RESPONSE_BAGGAGE',
    'KEEPALIVE_ENABLED',
    'KEEPALIVE_TIME',
    'KEEPALIVE_INTERVAL',
    'KEEPALIVE_RETRIES',
    'USER_TIMEOUT_ENABLED',
    'PREFERED_SERVICE_NAMESPACE',
  ].map((name) => ({ name, origin: 'upstream' as const })),
  ...[
    'ZT_BIND_ADDRESS',
    'ZT_ADMIN_PORT',
    'ZT_STATS_PORT',
    'ZT_READINESS_PORT',
    'ZT_OUTBOUND_PORT',
    'ZT_INBOUND_PORT',
    'ZT_INBOUND_PLAINTEXT_PORT',
    'ZT_SOCKS5_PORT',
    'ZT_PER_WORKLOAD_LISTENERS',
    'ZT_RECENT_CONNECTIONS',
    'ZT_NATIVE_DISABLE',
    'ZT_LAB_MODE',
    'INPOD_ENABLED',
    'INPOD_MARK',
    'ZT_DNS_RESOLV_CONF',
    'ZT_DNS_FORWARD_PORT',
    'ZT_DNS_QPS_PER_SOURCE',
  ].map((name) => ({ name, origin: 'zt' as const })),
];

/** Families read by prefix: the rest of the name is a header or metadata key. */
export const READ_PREFIXES: readonly string[] = ['XDS_HEADER_', 'CA_HEADER_', 'ISTIO_META_'];

export interface IgnoredVariable {
  readonly name: string;
  /** What setting it changes upstream, which zt will not do. */
  readonly effect: string;
  /** False when ignoring it changes nothing that matters (sizing hints, log detail). */
  readonly matters: boolean;
}

/** Upstream's variables that zt does not implement: set, they are ignored. */
export const IGNORED_UPSTREAM: readonly IgnoredVariable[] = [
  { name: 'XDS_ON_DEMAND', effect: 'on-demand xDS', matters: true },
  { name: 'ENABLE_PROXY', effect: 'turning the proxy off', matters: true },
  { name: 'CRL_PATH', effect: 'certificate revocation lists', matters: true },
  { name: 'COMPLIANCE_POLICY', effect: 'post-quantum TLS (pqc)', matters: true },
  { name: 'AUTHZ_POLICY_INFO_LOGGING', effect: 'policy decisions at info level', matters: false },
];

/** Prefixes of names that can only be meant for zt: an unknown one there is a mistake. */
const OWN_PREFIXES = ['ZT_', 'ZTUNNEL_', 'INPOD_', 'XDS_', 'CA_', 'POOL_', 'HTTP2_', 'SECRET_', 'LOCAL_XDS'];

/**
 * Set by the project's own scripts (`npm run zt` passes the pinned Node and pnpm down) or read by its
 * tests and bench, never by zt: a zt started through them has these, and they are no mistake.
 */
const TOOLING = new Set([
  'ZT_NODE',
  'ZT_PNPM',
  'ZT_SKIP_APT',
  'ZT_LONG',
  'ZT_SOAK',
  'ZT_SOAK_MINUTES',
  'ZT_TEST_LOG',
  'ZT_HELM',
  'ZT_DEPLOY_TREE',
  'ZT_BENCH_NOFILE',
]);

/** What Kubernetes injects for each Service of the namespace (service links): never zt's. */
const SERVICE_LINK =
  /_SERVICE_HOST$|_SERVICE_PORT(?:_[A-Z0-9_]+)?$|_PORT(?:_\d+_(?:TCP|UDP|SCTP)(?:_PROTO|_PORT|_ADDR)?)?$/;

const READ = new Map(READ_VARIABLES.map((v) => [v.name, v]));
const IGNORED = new Map(IGNORED_UPSTREAM.map((v) => [v.name, v]));

export type VariableClass =
  | { readonly t: 'read'; readonly origin: 'upstream' | 'zt' }
  | { readonly t: 'prefix'; readonly prefix: string }
  | { readonly t: 'ignored'; readonly variable: IgnoredVariable }
  /** Close to a known name: most likely a typo of `suggestion`. */
  | { readonly t: 'misspelled'; readonly suggestion: string }
  /** Named like a zt variable, but none is called that. */
  | { readonly t: 'unknown' }
  /** Not zt's business (PATH, HOME, Kubernetes service variables...). */
  | { readonly t: 'other' };

/** What zt makes of one environment variable name. */
export function classifyVariable(name: string): VariableClass {
  const read = READ.get(name);
  if (read) return { t: 'read', origin: read.origin };
  const prefix = READ_PREFIXES.find((p) => name.startsWith(p) && name.length > p.length);
  if (prefix) return { t: 'prefix', prefix };
  const ignored = IGNORED.get(name);
  if (ignored) return { t: 'ignored', variable: ignored };
  if (TOOLING.has(name)) return { t: 'other' };
  const suggestion = closest(name);
  if (suggestion) return { t: 'misspelled', suggestion };
  if (SERVICE_LINK.test(name)) return { t: 'other' };
  if (OWN_PREFIXES.some((p) => name.startsWith(p))) return { t: 'unknown' };
  return { t: 'other' };
}

/** The known name within typo distance of `name` (1 edit for short names, 2 from 8 characters). */
function closest(name: string): string | undefined {
  const limit = name.length >= 8 ? 2 : 1;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const known of [...READ.keys(), ...IGNORED.keys()]) {
    if (Math.abs(known.length - name.length) > limit) continue;
    const d = editDistance(name, known, limit);
    if (d < bestDistance) {
      best = known;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance, with adjacent swaps counted as one edit; stops early past `limit`. */
export function editDistance(a: string, b: string, limit = Number.POSITIVE_INFINITY): number {
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(
        (rows[i - 1]?.[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (rows[i - 1]?.[j - 1] ?? 0) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      row.push(d);
      rowMin = Math.min(rowMin, d);
    }
    rows.push(row);
    if (rowMin > limit) return rowMin;
  }
  return rows[a.length]?.[b.length] ?? 0;
}
