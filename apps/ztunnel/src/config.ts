// zt's configuration, read from upstream ztunnel's environment variables (src/config.rs upstream),
// once, here: the packages take typed options and export their defaults, which this file imports.
// Everything is parsed and validated up front: a bad value stops start-up with a message naming
// the variable, instead of surfacing later as a confusing runtime failure.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { DEFAULT_DRAIN_DEADLINE_MS, DEFAULT_PORTS, DEFAULT_SOCKET_MARK, DEFAULT_SOCKS5_PORT } from '@zt/core';
import { DEFAULT_CERT_TTL_SECONDS } from '@zt/identity';
import { DEFAULT_INPOD_UDS } from '@zt/inpod';
import { type LogFormat, parseLogFilter, parseLogFormat } from '@zt/log';
import {
  DEFAULT_POOL_MAX_STREAMS_PER_CONNECTION,
  DEFAULT_POOL_UNUSED_RELEASE_TIMEOUT_MS,
  FLOW_CONTROL_LIMITS,
} from '@zt/transport';
import { DEFAULT_CLUSTER_ID, DEFAULT_TRUST_DOMAIN } from '@zt/xds';
import { type DnsConfig, loadDnsConfig, proxyMetadata } from './config-dns.ts';
import { bool, ConfigError, duration, type Env, headers, int, optInt, str, uri } from './config-env.ts';
import { ADMIN_PORT, METRICS_PORT, READINESS_PORT } from './servers/index.ts';

export { parseDurationMs } from './config-duration.ts';
export { ConfigError } from './config-env.ts';

export interface Config extends DnsConfig {
  xdsAddress: string;
  caAddress: string | undefined;
  /** Roots that verify istiod: a file path, the PEM itself, or `SYSTEM` (as upstream). */
  xdsRootCaPath: string;
  caRootCaPath: string;
  authTokenPath: string | undefined;
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
  /** zt extension: also bind 15006/15008 on each local workload's IP (loopback meshes, tests). */
  perWorkloadListeners: boolean;
  /** In-pod mode: pods' network namespaces from istio-cni over ZDS; listeners inside each pod. */
  inpodEnabled: boolean;
  inpodUds: string;
  /** SO_MARK on zt's own sockets in in-pod mode, so the pods' capture rules skip them. */
  inpodMark: number;
  /** ENABLE_ORIG_SRC: in-pod inbound connects to the app from the client's IP (default: best effort). */
  enableOriginalSource: boolean;
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

/** Upstream's default: the cgroup-limited CPU count when known, else the machine's. */
function defaultWorkers(env: Env): number {
  const limit = str(env, 'ZTUNNEL_RESOURCE_CPU_LIMIT') ?? str(env, 'ZTUNNEL_CPU_LIMIT');
  if (limit !== undefined) {
    const cpus = limit.endsWith('m') ? Number(limit.slice(0, -1)) / 1000 : Number(limit);
    if (Number.isFinite(cpus) && cpus > 0) return Math.max(1, Math.ceil(cpus));
  }
  return availableParallelism();
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

export function loadConfig(env: Env = process.env): Config {
  const defaultIstiod = env['KUBERNETES_SERVICE_HOST'] !== undefined ? ISTIOD_IN_CLUSTER : ISTIOD_LOCAL;
  const fakeCa = bool(env, 'FAKE_CA', false);
  const localXdsPath = str(env, 'LOCAL_XDS_PATH');
  const localXds = str(env, 'LOCAL_XDS');
  if (localXdsPath !== undefined && localXds !== undefined) {
    throw new ConfigError('LOCAL_XDS', '<inline>', 'only one of LOCAL_XDS_PATH and LOCAL_XDS, not both');
  }
  const { window, frameSize } = FLOW_CONTROL_LIMITS;
  const metadata = proxyMetadata(env);
  const bindAddress = str(env, 'ZT_BIND_ADDRESS') ?? '0.0.0.0';
  const inpodEnabled = bool(env, 'INPOD_ENABLED', false);
  return {
    xdsAddress: uri('XDS_ADDRESS', str(env, 'XDS_ADDRESS') ?? defaultIstiod),
    caAddress: fakeCa ? undefined : uri('CA_ADDRESS', str(env, 'CA_ADDRESS') ?? defaultIstiod),
    xdsRootCaPath: str(env, 'XDS_ROOT_CA') ?? DEFAULT_ROOT_CERT,
    caRootCaPath: str(env, 'CA_ROOT_CA') ?? DEFAULT_ROOT_CERT,
    // Unset: the projected token when it exists, else no authorization header (as upstream).
    authTokenPath: str(env, 'AUTH_TOKEN') ?? (existsSync(DEFAULT_TOKEN) ? DEFAULT_TOKEN : undefined),
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
    proxyMetadata: metadata,
    instanceIp: str(env, 'INSTANCE_IP') ?? '127.0.0.1',
    podName: str(env, 'POD_NAME') ?? 'ztunnel',
    podNamespace: str(env, 'POD_NAMESPACE') ?? 'istio-system',
    nodeName: str(env, 'NODE_NAME') ?? '',
    serviceAccount: str(env, 'SERVICE_ACCOUNT') ?? 'ztunnel',
    workerThreads: int(env, 'ZTUNNEL_WORKER_THREADS', defaultWorkers(env), 0, 256),
    connectionTerminationDeadlineMs: duration(
      env,
      'CONNECTION_TERMINATION_DEADLINE',
      DEFAULT_DRAIN_DEADLINE_MS,
    ),
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
    adminPort: int(env, 'ZT_ADMIN_PORT', ADMIN_PORT, 0, 65535),
    statsPort: int(env, 'ZT_STATS_PORT', METRICS_PORT, 0, 65535),
    readinessPort: int(env, 'ZT_READINESS_PORT', READINESS_PORT, 0, 65535),
    outboundPort: int(env, 'ZT_OUTBOUND_PORT', DEFAULT_PORTS.outbound, 0, 65535),
    inboundPort: int(env, 'ZT_INBOUND_PORT', DEFAULT_PORTS.inbound, 0, 65535),
    inboundPlaintextPort: int(env, 'ZT_INBOUND_PLAINTEXT_PORT', DEFAULT_PORTS.inboundPlaintext, 0, 65535),
    socks5Port: int(env, 'ZT_SOCKS5_PORT', DEFAULT_SOCKS5_PORT, 0, 65535),
    perWorkloadListeners: bool(env, 'ZT_PER_WORKLOAD_LISTENERS', false),
    inpodEnabled,
    inpodUds: str(env, 'INPOD_UDS') ?? DEFAULT_INPOD_UDS,
    inpodMark: int(env, 'INPOD_MARK', DEFAULT_SOCKET_MARK, 0, 2 ** 32 - 1),
    enableOriginalSource: bool(env, 'ENABLE_ORIG_SRC', true),
    recentConnections: int(env, 'ZT_RECENT_CONNECTIONS', 500, 0, 100_000),
    ...loadDnsConfig(
      env,
      metadata,
      bindAddress.startsWith('127.') && !inpodEnabled ? bindAddress : undefined,
    ),
  };
}
