// zt's configuration, read from upstream ztunnel's environment variables (src/config.rs upstream).
// Everything is parsed and validated up front: a bad value stops start-up with a message naming
// the variable, instead of surfacing later as a confusing runtime failure.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { type LogFormat, parseLogFormat } from '@zt/core';

export class ConfigError extends Error {
  readonly code = 'ERR_ZT_CONFIG';
  constructor(variable: string, value: string, expected: string) {
    super(`invalid ${variable}="${value}": expected ${expected}`);
    this.name = 'ConfigError';
  }
}

export interface Config {
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

type Env = Record<string, string | undefined>;

const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** humantime-style durations as upstream accepts them: `5s`, `24h`, `1m30s`, `250ms`. */
export function parseDuration(variable: string, text: string): number {
  const trimmed = text.trim();
  const re = /(\d+(?:\.\d+)?)\s*([a-z]+)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(trimmed); m !== null; m = re.exec(trimmed)) {
    const unit = UNITS[m[2] ?? ''];
    if (unit === undefined) break;
    total += Number(m[1]) * unit;
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== trimmed.length) {
    throw new ConfigError(variable, text, 'a duration such as 5s, 1m30s or 24h');
  }
  return Math.round(total);
}

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

function bool(env: Env, name: string, dflt: boolean): boolean {
  const v = str(env, name);
  if (v === undefined) return dflt;
  if (/^(true|1)$/i.test(v)) return true;
  if (/^(false|0)$/i.test(v)) return false;
  throw new ConfigError(name, v, 'true or false');
}

function int(env: Env, name: string, dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = str(env, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ConfigError(name, v, `an integer in [${min}, ${max}]`);
  return n;
}

function optInt(env: Env, name: string, min: number, max: number): number | undefined {
  return str(env, name) === undefined ? undefined : int(env, name, 0, min, max);
}

function duration(env: Env, name: string, dflt: number): number {
  const v = str(env, name);
  return v === undefined ? dflt : parseDuration(name, v);
}

function withPrefix(env: Env, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith(prefix) && k.length > prefix.length && v !== undefined) out[k.slice(prefix.length)] = v;
  }
  return out;
}

function uri(name: string, value: string): string {
  if (!/^(https?):\/\/[^/]+/.test(value))
    throw new ConfigError(name, value, 'a URI such as https://istiod:15012');
  return value;
}

/** Upstream's default: the cgroup-limited CPU count when known, else the machine's. */
function defaultWorkers(env: Env): number {
  const limit = str(env, 'ZTUNNEL_RESOURCE_CPU_LIMIT') ?? str(env, 'ZTUNNEL_CPU_LIMIT');
  if (limit !== undefined) {
    const cpus = limit.endsWith('m') ? Number(limit.slice(0, -1)) / 1000 : Number(limit);
    if (Number.isFinite(cpus) && cpus > 0) return Math.max(1, Math.ceil(cpus));
  }
  return availableParallelism();
}

export function loadConfig(env: Env = process.env): Config {
  const defaultIstiod =
    env['KUBERNETES_SERVICE_HOST'] !== undefined
      ? 'https://istiod.istio-system.svc:15012'
      : 'https://localhost:15012';
  const fakeCa = bool(env, 'FAKE_CA', false);
  const localXdsPath = str(env, 'LOCAL_XDS_PATH');
  const localXds = str(env, 'LOCAL_XDS');
  if (localXdsPath !== undefined && localXds !== undefined) {
    throw new ConfigError('LOCAL_XDS', '<inline>', 'only one of LOCAL_XDS_PATH and LOCAL_XDS, not both');
  }
  const clusterId = str(env, 'ISTIO_META_CLUSTER_ID') ?? str(env, 'CLUSTER_ID') ?? 'Kubernetes';
  const proxyMetadata = withPrefix(env, 'ISTIO_META_');
  const defaultToken = './var/run/secrets/tokens/istio-token';
  return {
    xdsAddress: uri('XDS_ADDRESS', str(env, 'XDS_ADDRESS') ?? defaultIstiod),
    caAddress: fakeCa ? undefined : uri('CA_ADDRESS', str(env, 'CA_ADDRESS') ?? defaultIstiod),
    xdsRootCaPath: str(env, 'XDS_ROOT_CA') ?? './var/run/secrets/istio/root-cert.pem',
    caRootCaPath: str(env, 'CA_ROOT_CA') ?? './var/run/secrets/istio/root-cert.pem',
    // Unset: the projected token when it exists, else no authorization header (as upstream).
    authTokenPath: str(env, 'AUTH_TOKEN') ?? (existsSync(defaultToken) ? defaultToken : undefined),
    clusterId,
    clusterDomain: str(env, 'CLUSTER_DOMAIN') ?? 'cluster.local',
    trustDomain: str(env, 'TRUST_DOMAIN') ?? 'cluster.local',
    network: str(env, 'NETWORK') ?? '',
    localXdsPath,
    localXds,
    fakeCa,
    secretTtlMs: duration(env, 'SECRET_TTL', 24 * 3_600_000),
    xdsHeaders: withPrefix(env, 'XDS_HEADER_'),
    caHeaders: withPrefix(env, 'CA_HEADER_'),
    proxyMetadata,
    instanceIp: str(env, 'INSTANCE_IP') ?? '127.0.0.1',
    podName: str(env, 'POD_NAME') ?? 'ztunnel',
    podNamespace: str(env, 'POD_NAMESPACE') ?? 'istio-system',
    nodeName: str(env, 'NODE_NAME') ?? '',
    serviceAccount: str(env, 'SERVICE_ACCOUNT') ?? 'ztunnel',
    workerThreads: int(env, 'ZTUNNEL_WORKER_THREADS', defaultWorkers(env), 0, 256),
    connectionTerminationDeadlineMs: duration(env, 'CONNECTION_TERMINATION_DEADLINE', 5000),
    poolMaxStreamsPerConnection: int(env, 'POOL_MAX_STREAMS_PER_CONNECTION', 100, 1, 100_000),
    poolUnusedReleaseTimeoutMs: duration(env, 'POOL_UNUSED_RELEASE_TIMEOUT', 5 * 60_000),
    http2StreamWindowSize: optInt(env, 'HTTP2_STREAM_WINDOW_SIZE', 65_535, 2 ** 31 - 1),
    http2ConnectionWindowSize: optInt(env, 'HTTP2_CONNECTION_WINDOW_SIZE', 65_535, 2 ** 31 - 1),
    http2FrameSize: optInt(env, 'HTTP2_FRAME_SIZE', 16_384, 2 ** 24 - 1),
    tls12Enabled: bool(env, 'TLS12_ENABLED', false),
    socks5Enabled: bool(env, 'UNSTABLE_ENABLE_SOCKS5', false),
    logLevel: str(env, 'RUST_LOG') ?? 'info',
    logFormat: parseLogFormat(str(env, 'LOG_FORMAT')),
    bindAddress: str(env, 'ZT_BIND_ADDRESS') ?? '0.0.0.0',
    adminPort: int(env, 'ZT_ADMIN_PORT', 15000, 0, 65535),
    statsPort: int(env, 'ZT_STATS_PORT', 15020, 0, 65535),
    readinessPort: int(env, 'ZT_READINESS_PORT', 15021, 0, 65535),
    outboundPort: int(env, 'ZT_OUTBOUND_PORT', 15001, 0, 65535),
    inboundPort: int(env, 'ZT_INBOUND_PORT', 15008, 0, 65535),
    inboundPlaintextPort: int(env, 'ZT_INBOUND_PLAINTEXT_PORT', 15006, 0, 65535),
    socks5Port: int(env, 'ZT_SOCKS5_PORT', 15080, 0, 65535),
    perWorkloadListeners: bool(env, 'ZT_PER_WORKLOAD_LISTENERS', false),
    inpodEnabled: bool(env, 'INPOD_ENABLED', false),
    inpodUds: str(env, 'INPOD_UDS') ?? '/var/run/ztunnel/ztunnel.sock',
    inpodMark: int(env, 'INPOD_MARK', 1337, 0, 2 ** 32 - 1),
    enableOriginalSource: bool(env, 'ENABLE_ORIG_SRC', true),
    recentConnections: int(env, 'ZT_RECENT_CONNECTIONS', 500, 0, 100_000),
  };
}
