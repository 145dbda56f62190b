// The message protocol between the main thread and a data-plane worker. Everything here is
// structured-clone safe: plain objects, no class instances (Identity travels as its URI).
import type { DnsDump } from '@zt/dns';
import type { LogFormat } from '@zt/log';
import type { MetricsSnapshot } from '@zt/metrics';
import type { StateSnapshot } from '@zt/xds';
import type { RecentDump } from '../conn/recent.ts';
import type { BoundListener, ProxyConfig } from '../options.ts';
import type { PodInfo } from '../pods.ts';
import type { CpuProfile } from '../profile.ts';
import type { ConnectionInfo } from '../types.ts';

/** A WorkloadCertificate on the wire. */
export interface WireCert {
  identity: string;
  certChain: string[];
  privateKey: string;
  roots: string[];
  notBefore: number;
  notAfter: number;
}

/** What a worker is started with (`workerData`). */
export interface WorkerInit {
  config: ProxyConfig;
  index: number;
  /** Generation of this worker slot (bumps on restart), part of connection ids. */
  generation: number;
  /** The main thread's logging as it is when the worker starts; `log-filter` messages follow it. */
  log: WorkerLogging;
}

/** How a worker logs: the main thread's current filter and format, to the same file descriptor. */
export interface WorkerLogging {
  /** RUST_LOG syntax, as `Logging.level()` formats it. */
  filter: string;
  format: LogFormat;
  fd: number;
}

/** Requests the main thread makes; each is answered by one `res` with the same id. */
export type WorkerRequest =
  | {
      t: 'start' /** Ports the first worker got for port-0 listeners, so all share them. */;
      ports?: Record<string, number>;
    }
  | { t: 'connections' }
  | { t: 'metrics' }
  | { t: 'drain'; deadlineMs: number }
  | { t: 'close' }
  /** The worker's recently closed connections (admin page). */
  | { t: 'recent' }
  /** The DNS proxy's dump (null when the proxy is off). */
  | { t: 'dns-dump' }
  /** In-pod: serve this pod; answered once its listeners are bound, or with the bind error. */
  | { t: 'pod-add'; pod: PodInfo }
  /** In-pod: the pod went; answered once its listeners are closed. */
  | { t: 'pod-del'; uid: string }
  /** Profile the worker's own thread for `seconds` (admin /debug/cpuprofile). */
  | { t: 'cpuprofile'; seconds: number };

export interface WorkerResults {
  start: BoundListener[];
  connections: ConnectionInfo[];
  metrics: MetricsSnapshot;
  drain: null;
  close: null;
  recent: RecentDump;
  'dns-dump': DnsDump | null;
  cpuprofile: CpuProfile;
  'pod-add': BoundListener[];
  'pod-del': null;
}

export type MainToWorker =
  | { t: 'req'; id: number; body: WorkerRequest }
  /** A new state; answered by `state-applied` with the same `seq` once the worker uses it. */
  | { t: 'state'; seq: number; snapshot: StateSnapshot }
  /** The main thread's log filter changed (admin `/logging`): the worker's scopes follow it. */
  | { t: 'log-filter'; filter: string }
  /** In-pod: every pod to serve (a new or restarted worker), replacing what it had. */
  | { t: 'pods'; pods: PodInfo[] }
  | { t: 'cert-res'; id: number; cert?: WireCert; error?: string }
  | { t: 'cert-rotated'; cert: WireCert };

export type WorkerToMain =
  | { t: 'res'; id: number; ok: true; value: WorkerResults[keyof WorkerResults] }
  | { t: 'res'; id: number; ok: false; error: string }
  | { t: 'cert-req'; id: number; identity: string }
  /** States up to `seq` are applied (or failed, logged by the worker): the proxy routes by them. */
  | { t: 'state-applied'; seq: number };
