// zt's configuration, read from upstream ztunnel's environment variables (src/config.rs upstream),
// once, here: the packages take typed options and export their defaults, which this file imports.
// Everything is parsed and validated up front: a bad value stops start-up with a message naming
// the variable, instead of surfacing later as a confusing runtime failure.
import { existsSync } from 'node:fs';
import {
  DEFAULT_DRAIN_DEADLINE_MS,
  DEFAULT_PORTS,
  DEFAULT_SOCKET_MARK,
  DEFAULT_SOCKS5_PORT,
  DEFAULT_TCP_SOCKET_OPTIONS,
  type TcpSocketOptions,
} from '@zt/core';
import { DEFAULT_CERT_TTL_SECONDS } from '@zt/identity';
import { DEFAULT_INPOD_UDS } from '@zt/inpod';
import { type LogFormat, parseLogFilter, parseLogFormat } from '@zt/log';
import {
  DEFAULT_POOL_MAX_STREAMS_PER_CONNECTION,
  DEFAULT_POOL_UNUSED_RELEASE_TIMEOUT_MS,
  FLOW_CONTROL_LIMITS,
} from '@zt/transport';
import { DEFAULT_CLUSTER_ID, DEFAULT_TRUST_DOMAIN } from '@zt/xds';
import { type DnsConfig, loadDnsConfig } from './config-dns.ts';
import { bool, ConfigError, duration, type Env, headers, int, optInt, str, uri } from './config-env.ts';
import { type ProxyConfigFields, readProxyConfig } from './config-proxy.ts';
import { workerThreads } from './config-workers.ts';
import { ADMIN_PORT, METRICS_PORT, READINESS_PORT } from './servers/index.ts';

export { parseDurationMs } from './config-duration.ts';
export { ConfigError } from './config-env.ts';

export interface Config extends DnsConfig {
  xdsAddress: string;
  caAddress: string | undefined;
  /** Roots that verify istiod: a file path, the PEM itself, or `SYSTEM` (as upstream). */
  xdsRootCaPath: string;
  caRootCaPath: string;
  /** ALT_XDS_HOSTNAME / ALT_CA_HOSTNAME: the name istiod's certificate is verified against, when not the address's host. */
  altXdsHostname: string | undefined;
  altCaHostname: string | undefined;
  /** AUTH_TOKEN naming a file (or the default projected token): its content is the bearer token. */
  authTokenPath: string | undefined;
  /** AUTH_TOKEN that names no file: the token itself, as upstream takes it. Never dumped. */
  authToken: string | undefined;
  clusterId: string;
  clusterDomain: string;
  trustDomain: string;
  network: string;
  localXdsPath: string | undefined;
  localXds: string | undefined;
  fakeCa: boolean;
  secretTtlMs: number;
  xdsHeaders: Record<string, string>;
  caHeaders: Record<string, string>;
  /** Proxy metadata: the mesh config's and PROXY_CONFIG's, then ISTIO_META_* (prefix removed). */
  proxyMetadata: Record<string, string>;
  instanceIp: string;
  podName: string;
  podNamespace: string;
  nodeName: string;
  serviceAccount: string;
  workerThreads: number;
  connectionTerminationDeadlineMs: number;
  poolMaxStreamsPerConnection: number;
  poolUnusedReleaseTimeoutMs: number;
  http2StreamWindowSize: number | undefined;
  http2ConnectionWindowSize: number | undefined;
  http2FrameSize: number | undefined;
  tls12Enabled: boolean;
  socks5Enabled: boolean;
  /** RUST_LOG, checked: the startup log filter. */
  logLevel: string;
  /** LOG_FORMAT: `json` for JSON lines, else upstream's plain lines (the default). */
  logFormat: LogFormat;
  /** zt extension: the address the node-level listeners bind (upstream binds the wildcard). */
  bindAddress: string;
  adminPort: number;
  statsPort: number;
  readinessPort: number;
  outboundPort: number;
  inboundPort: number;
  inboundPlaintextPort: number;
  socks5Port: number;
  /** zt extension: also bind 15006/15008 on each local workload's IP (lab mode only). */
  perWorkloadListeners: boolean;
  /** PROXY_MODE: `shared`, the node proxy (upstream's default); `dedicated` is refused (see proxyMode). */
  proxyMode: 'shared';
  /**
   * ZT_LAB_MODE (zt only, default false): no in-pod capture; listeners on ZT_BIND_ADDRESS of zt's
   * own network namespace, for the demo, the tests and the bench on one machine. Never for a cluster.
   */
  labMode: boolean;
  /** In-pod mode (shared mode outside the lab): pods' network namespaces from istio-cni over ZDS. */
  inpodEnabled: boolean;
  inpodUds: string;
  /** INPOD_PORT_REUSE (default true): pod listeners bound with SO_REUSEPORT, so a new zt can take over. */
  inpodPortReuse: boolean;
  /** SO_MARK on zt's own sockets in in-pod mode (PACKET_MARK, or zt's INPOD_MARK), so capture rules skip them. */
  inpodMark: number;
  /** ENABLE_ORIG_SRC: in-pod inbound connects to the app from the client's IP (default: best effort). */
  enableOriginalSource: boolean;
  /** LOCALHOST_APP_TUNNEL: in-pod, a PROXY application tunnel is reached on the pod's loopback (default true). */
  localhostAppTunnel: boolean;
  /** ENABLE_RESPONSE_BAGGAGE (default true): HBONE 200s carry the destination's baggage; request baggage labels unknown sources. */
  enableResponseBaggage: boolean;
  /** KEEPALIVE_* and USER_TIMEOUT_ENABLED: TCP options on proxied sockets (upstream's socket config). */
  tcp: TcpSocketOptions;
  /** zt extension ZT_RECENT_CONNECTIONS: closed connections each data-plane thread keeps for the admin page. */
  recentConnections: number;
}

// Upstream's defaults that belong to no package: where istiod and its files are.
const ISTIOD_IN_CLUSTER = 'https://istiod.istio-system.svc:15012';
const ISTIOD_LOCAL = 'https://localhost:15012';
const DEFAULT_ROOT_CERT = './var/run/secrets/istio/root-cert.pem';
const DEFAULT_TOKEN = './var/run/secrets/tokens/istio-token';
const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';
/** HTTP/2 allows no more: a larger POOL_MAX_STREAMS_PER_CONNECTION is a u16 upstream, too. */
const MAX_STREAMS_LIMIT = 65_535;

/**
 * CONNECTION_TERMINATION_DEADLINE, else upstream's share of the pod's grace period: a few seconds
 * less than Kubernetes waits before SIGKILL, so that zt closes what is left cleanly itself.
 */
function drainDeadlineMs(env: Env): number {
  if (str(env, 'CONNECTION_TERMINATION_DEADLINE') !== undefined)
    return duration(env, 'CONNECTION_TERMINATION_DEADLINE', DEFAULT_DRAIN_DEADLINE_MS);
  const grace = str(env, 'TERMINATION_GRACE_PERIOD_SECONDS');
  if (grace === undefined) return DEFAULT_DRAIN_DEADLINE_MS;
  if (!/^\d+$/.test(grace) || !Number.isSafeInteger(Number(grace)))
    throw new ConfigError('TERMINATION_GRACE_PERIOD_SECONDS', grace, 'a whole number of seconds');
  const secs = Number(grace);
  return Math.max(secs > 10 ? secs - 5 : secs - 1, 1) * 1000;
}

/** AUTH_TOKEN as upstream reads it: a file when one is there, else the token itself. */
function authToken(env: Env): { authTokenPath: string | undefined; authToken: string | undefined } {
  const v = str(env, 'AUTH_TOKEN');
  if (v === undefined)
    return { authTokenPath: existsSync(DEFAULT_TOKEN) ? DEFAULT_TOKEN : undefined, authToken: undefined };
  return existsSync(v)
    ? { authTokenPath: v, authToken: undefined }
    : { authTokenPath: undefined, authToken: v };
}

/** An address as upstream validates it: a scheme-less `host:port` (istio's usual form) becomes https. */
function istiodUri(name: string, value: string): string {
  return uri(name, /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`);
}

/** Linux keeps TCP keepalive times in whole seconds, at most 32767 (MAX_TCP_KEEPIDLE). */
const KEEPALIVE_SECONDS_MAX = 32_767;
const KEEPALIVE_RETRIES_MAX = 127;

/** A keepalive time the kernel takes: whole seconds from 1 s to 32767 s. */
function keepaliveDuration(env: Env, name: string, dfltMs: number): number {
  const ms = duration(env, name, dfltMs);
  if (ms < 1000 || ms > KEEPALIVE_SECONDS_MAX * 1000 || ms % 1000 !== 0)
    throw new ConfigError(name, str(env, name) ?? '', `whole seconds from 1s to ${KEEPALIVE_SECONDS_MAX}s`);
  return ms;
}

/** Upstream's SocketConfig, with its defaults. */
function tcpOptions(env: Env): TcpSocketOptions {
  const d = DEFAULT_TCP_SOCKET_OPTIONS;
  return {
    keepaliveEnabled: bool(env, 'KEEPALIVE_ENABLED', d.keepaliveEnabled),
    keepaliveTimeMs: keepaliveDuration(env, 'KEEPALIVE_TIME', d.keepaliveTimeMs),
    keepaliveIntervalMs: keepaliveDuration(env, 'KEEPALIVE_INTERVAL', d.keepaliveIntervalMs),
    keepaliveRetries: int(env, 'KEEPALIVE_RETRIES', d.keepaliveRetries, 1, KEEPALIVE_RETRIES_MAX),
    userTimeoutEnabled: bool(env, 'USER_TIMEOUT_ENABLED', d.userTimeoutEnabled),
  };
}

/**
 * PROXY_MODE as upstream reads it. `dedicated` (one workload per proxy, PROXY_WORKLOAD_INFO) is
 * checked as upstream checks it, then refused: zt finds the workloads it serves by address or by
 * pod namespace, and has no proxy bound to one workload identity; a dedicated zt would serve
 * whatever workload owned the address, which is not what was asked for.
 */
function proxyMode(env: Env): 'shared' {
  const mode = str(env, 'PROXY_MODE') ?? 'shared';
  if (mode === 'shared') return mode;
  if (mode !== 'dedicated') throw new ConfigError('PROXY_MODE', mode, 'shared or dedicated');
  const info = str(env, 'PROXY_WORKLOAD_INFO');
  if (info === undefined)
    throw new ConfigError(
      'PROXY_WORKLOAD_INFO',
      '',
      'namespace/name/service-account, which PROXY_MODE=dedicated requires',
    );
  if (!/^[^/]+\/[^/]+\/.+$/.test(info))
    throw new ConfigError('PROXY_WORKLOAD_INFO', info, 'namespace/name/service-account');
  throw new ConfigError(
    'PROXY_MODE',
    mode,
    'shared: zt does not implement dedicated mode (a proxy serving one workload identity); run upstream ztunnel for it',
  );
}

/** ZT_LAB_MODE, and what only makes sense with it. INPOD_ENABLED (zt's old switch) may only say true. */
function labMode(env: Env): boolean {
  const lab = bool(env, 'ZT_LAB_MODE', false);
  if (!bool(env, 'INPOD_ENABLED', true))
    throw new ConfigError(
      'INPOD_ENABLED',
      str(env, 'INPOD_ENABLED') ?? '',
      'true or unset: in-pod is the default now; the loopback lab mode is ZT_LAB_MODE=true',
    );
  if (!lab && bool(env, 'ZT_PER_WORKLOAD_LISTENERS', false))
    throw new ConfigError(
      'ZT_PER_WORKLOAD_LISTENERS',
      'true',
      'false or unset outside the lab (ZT_LAB_MODE=true)',
    );
  return lab;
}

/** RUST_LOG, checked here so that a bad filter stops start-up like any other bad variable. */
function logFilter(env: Env): string {
  const v = str(env, 'RUST_LOG') ?? 'info';
  try {
    parseLogFilter(v);
  } catch {
    // The filter's own message says which clause; ours names the variable and what it takes.
    throw new ConfigError(
      'RUST_LOG',
      v,
      'a level (error, warn, info, debug, trace, off) or <scope>=<level> clauses',
    );
  }
  return v;
}

export interface LoadOptions {
  /** The mesh config file (default upstream's ./etc/istio/config/mesh, relative to the working directory). */
  meshConfigPath?: string;
}

export function loadConfig(env: Env = process.env, opts: LoadOptions = {}): Config {
  const mode = proxyMode(env);
  const lab = labMode(env);
  const pc: ProxyConfigFields = readProxyConfig(env, opts.meshConfigPath);
  const defaultIstiod = env['KUBERNETES_SERVICE_HOST'] !== undefined ? ISTIOD_IN_CLUSTER : ISTIOD_LOCAL;
  const fakeCa = bool(env, 'FAKE_CA', false);
  const localXdsPath = str(env, 'LOCAL_XDS_PATH');
  const localXds = str(env, 'LOCAL_XDS');
  if (localXdsPath !== undefined && localXds !== undefined) {
    throw new ConfigError('LOCAL_XDS', '<inline>', 'only one of LOCAL_XDS_PATH and LOCAL_XDS, not both');
  }
  const { window, frameSize } = FLOW_CONTROL_LIMITS;
  const threads = workerThreads(env, pc.concurrency);
  const inpodPortReuse = bool(env, 'INPOD_PORT_REUSE', true);
  // Every data-plane thread binds each pod's ports: more than one needs SO_REUSEPORT among them.
  if (!lab && !inpodPortReuse && threads > 1)
    throw new ConfigError(
      'INPOD_PORT_REUSE',
      'false',
      `true, or ZTUNNEL_WORKER_THREADS=1 (it is ${threads})`,
    );
  const bindAddress = str(env, 'ZT_BIND_ADDRESS') ?? '0.0.0.0';
  return {
    xdsAddress: istiodUri('XDS_ADDRESS', str(env, 'XDS_ADDRESS') ?? pc.discoveryAddress ?? defaultIstiod),
    caAddress: fakeCa ? undefined : istiodUri('CA_ADDRESS', str(env, 'CA_ADDRESS') ?? defaultIstiod),
    xdsRootCaPath: str(env, 'XDS_ROOT_CA') ?? DEFAULT_ROOT_CERT,
    caRootCaPath: str(env, 'CA_ROOT_CA') ?? DEFAULT_ROOT_CERT,
    altXdsHostname: str(env, 'ALT_XDS_HOSTNAME'),
    altCaHostname: str(env, 'ALT_CA_HOSTNAME'),
    // Unset: the projected token when it exists, else no authorization header (as upstream).
    ...authToken(env),
    clusterId: str(env, 'ISTIO_META_CLUSTER_ID') ?? str(env, 'CLUSTER_ID') ?? DEFAULT_CLUSTER_ID,
    clusterDomain: str(env, 'CLUSTER_DOMAIN') ?? DEFAULT_CLUSTER_DOMAIN,
    trustDomain: str(env, 'TRUST_DOMAIN') ?? DEFAULT_TRUST_DOMAIN,
    network: str(env, 'NETWORK') ?? '',
    localXdsPath,
    localXds,
    fakeCa,
    secretTtlMs: duration(env, 'SECRET_TTL', DEFAULT_CERT_TTL_SECONDS * 1000),
    xdsHeaders: headers(env, 'XDS_HEADER_'),
    caHeaders: headers(env, 'CA_HEADER_'),
    proxyMetadata: pc.proxyMetadata,
    instanceIp: str(env, 'INSTANCE_IP') ?? '127.0.0.1',
    podName: str(env, 'POD_NAME') ?? 'ztunnel',
    podNamespace: str(env, 'POD_NAMESPACE') ?? 'istio-system',
    nodeName: str(env, 'NODE_NAME') ?? '',
    serviceAccount: str(env, 'SERVICE_ACCOUNT') ?? 'ztunnel',
    workerThreads: threads,
    connectionTerminationDeadlineMs: drainDeadlineMs(env),
    // At least 1: a pool that may open no stream could carry nothing.
    poolMaxStreamsPerConnection: int(
      env,
      'POOL_MAX_STREAMS_PER_CONNECTION',
      DEFAULT_POOL_MAX_STREAMS_PER_CONNECTION,
      1,
      MAX_STREAMS_LIMIT,
    ),
    poolUnusedReleaseTimeoutMs: duration(
      env,
      'POOL_UNUSED_RELEASE_TIMEOUT',
      DEFAULT_POOL_UNUSED_RELEASE_TIMEOUT_MS,
    ),
    // Unset: @zt/transport's DEFAULT_FLOW_CONTROL (measured for Node; upstream's are larger).
    http2StreamWindowSize: optInt(env, 'HTTP2_STREAM_WINDOW_SIZE', window.min, window.max),
    http2ConnectionWindowSize: optInt(env, 'HTTP2_CONNECTION_WINDOW_SIZE', window.min, window.max),
    http2FrameSize: optInt(env, 'HTTP2_FRAME_SIZE', frameSize.min, frameSize.max),
    tls12Enabled: bool(env, 'TLS12_ENABLED', false),
    socks5Enabled: bool(env, 'UNSTABLE_ENABLE_SOCKS5', false),
    logLevel: logFilter(env),
    logFormat: parseLogFormat(str(env, 'LOG_FORMAT')),
    bindAddress,
    adminPort: int(env, 'ZT_ADMIN_PORT', pc.proxyAdminPort ?? ADMIN_PORT, 0, 65535),
    statsPort: int(env, 'ZT_STATS_PORT', pc.statsPort ?? METRICS_PORT, 0, 65535),
    readinessPort: int(env, 'ZT_READINESS_PORT', READINESS_PORT, 0, 65535),
    outboundPort: int(env, 'ZT_OUTBOUND_PORT', DEFAULT_PORTS.outbound, 0, 65535),
    inboundPort: int(env, 'ZT_INBOUND_PORT', DEFAULT_PORTS.inbound, 0, 65535),
    inboundPlaintextPort: int(env, 'ZT_INBOUND_PLAINTEXT_PORT', DEFAULT_PORTS.inboundPlaintext, 0, 65535),
    socks5Port: int(env, 'ZT_SOCKS5_PORT', DEFAULT_SOCKS5_PORT, 0, 65535),
    perWorkloadListeners: bool(env, 'ZT_PER_WORKLOAD_LISTENERS', false),
    proxyMode: mode,
    labMode: lab,
    inpodEnabled: !lab,
    inpodUds: str(env, 'INPOD_UDS') ?? DEFAULT_INPOD_UDS,
    inpodPortReuse,
    inpodMark: int(
      env,
      'PACKET_MARK',
      int(env, 'INPOD_MARK', DEFAULT_SOCKET_MARK, 0, 2 ** 32 - 1),
      0,
      2 ** 32 - 1,
    ),
    enableOriginalSource: bool(env, 'ENABLE_ORIG_SRC', true),
    localhostAppTunnel: bool(env, 'LOCALHOST_APP_TUNNEL', true),
    enableResponseBaggage: bool(env, 'ENABLE_RESPONSE_BAGGAGE', true),
    recentConnections: int(env, 'ZT_RECENT_CONNECTIONS', 500, 0, 100_000),
    tcp: tcpOptions(env),
    // IPV6_ENABLED, DNS_CAPTURE and DNS_PROXY_ADDR from the merged proxy metadata, as upstream.
    ...loadDnsConfig(env, pc.proxyMetadata, lab && bindAddress.startsWith('127.') ? bindAddress : undefined),
  };
}
