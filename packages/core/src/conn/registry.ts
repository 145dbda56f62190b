import { type AccessLine, accessLevel, type Logger, logAccess } from '@zt/log';
import {
  counter,
  type Counter as MetricCounter,
  tcpConnectionsClosed,
  tcpConnectionsFailed,
} from '@zt/metrics';
import { formatAddr, type SocketAddr } from '../addr.ts';
import type { ConnectionInfo } from '../types.ts';
import { flagFor } from './flags.ts';
import type { DerivedWorkload, LabelInput, ResponseFlag } from './labels.ts';
import type { RecentConnections } from './recent.ts';
import { seriesFor, type TrafficSeries } from './series.ts';

/** Connections refused before they were tracked (loop, bad SOCKS, unknown source...). */
export const earlyDenials: MetricCounter<'direction' | 'reason'> = counter(
  'zt_connections_early_denied_total',
  'Connections refused before proxying, by reason',
  ['direction', 'reason'],
);

/** Every flag but `-` is a failure to upstream. */
const FAILURE_FLAGS: ReadonlySet<ResponseFlag> = new Set([
  'DENY',
  'CONNECT',
  'TLS_FAILURE',
  'H2_HANDSHAKE_FAILURE',
  'NETWORK_POLICY',
  'IDENTITY_ERROR',
  'CERT_REVOKED',
]);

let nextId = 0;

export interface OpenParams {
  info: Omit<ConnectionInfo, 'id' | 'startedAt' | 'bytesSent' | 'bytesReceived' | 'verdict'> & {
    verdict?: ConnectionInfo['verdict'];
    policy?: string;
  };
  labels: LabelInput;
  /** The HBONE :authority, logged as dst.hbone_addr. */
  hboneAddr?: string;
  /**
   * Count the open later, at countOpen() or finish(): upstream counts a double HBONE connection
   * once the destination answered (or failed), with the labels its answer gave.
   */
  deferOpen?: boolean;
}

/** One proxied connection: its metrics, its row in the registry, its access-log line at the end. */
export class TrackedConnection {
  readonly info: ConnectionInfo;
  labelInput: LabelInput;
  readonly hboneAddr: string | undefined;
  readonly #registry: ConnectionRegistry;
  /** The label set's series, shared by every connection with the same labels. */
  #series: TrafficSeries;
  #openCounted = false;
  #abort: ((err: Error) => void) | undefined;
  #done = false;
  #abortReason: Error | undefined;

  constructor(registry: ConnectionRegistry, p: OpenParams) {
    this.#registry = registry;
    this.info = {
      ...p.info,
      id: `${registry.idPrefix}${++nextId}`,
      startedAt: Date.now(),
      bytesSent: 0,
      bytesReceived: 0,
      verdict: p.info.verdict ?? 'none',
    };
    this.labelInput = p.labels;
    this.hboneAddr = p.hboneAddr;
    this.#series = seriesFor(p.labels);
    if (!p.deferOpen) this.countOpen();
  }

  /**
   * Counts a deferred open, first relabelling the destination with what it said of itself
   * (upstream's with_derived_destination, with the identity the destination's mTLS proved).
   * Once counted, the labels stay.
   */
  countOpen(derived?: { workload: DerivedWorkload; identity: string }): void {
    if (this.#openCounted) return;
    this.#openCounted = true;
    if (derived) {
      this.labelInput = {
        ...this.labelInput,
        derivedDestination: derived.workload,
        destinationIdentity: derived.identity,
      };
      this.#series = seriesFor(this.labelInput);
    }
    this.#series.opened.add(1);
  }

  get closed(): boolean {
    return this.#done;
  }

  /** Bytes from the client towards the destination. */
  countToServer(n: number): void {
    // Istio counts request bytes (client to server) as "received" for both reporters.
    this.#series.received.add(n);
    if (this.info.direction === 'outbound') this.info.bytesSent += n;
    else this.info.bytesReceived += n;
  }

  /** Bytes from the destination back to the client. */
  countToClient(n: number): void {
    this.#series.sent.add(n);
    if (this.info.direction === 'outbound') this.info.bytesReceived += n;
    else this.info.bytesSent += n;
  }

  /** How the flow stops this connection from outside (policy change, drain deadline). */
  onAbort(fn: (err: Error) => void): void {
    this.#abort = fn;
    if (this.#abortReason) fn(this.#abortReason);
  }

  abort(err: Error): void {
    if (this.#done || this.#abortReason) return;
    this.#abortReason = err;
    this.#abort?.(err);
  }

  /** Records the close once: metrics, access log, out of the registry. */
  finish(err?: Error, flag: ResponseFlag = '-'): void {
    if (this.#done) return;
    this.#done = true;
    this.countOpen();
    const reason = err ?? this.#abortReason;
    // Without a flag of its own, an error close gets the flag upstream infers from its error.
    const effective: ResponseFlag =
      flag !== '-'
        ? flag
        : this.#abortReason && this.info.verdict === 'deny'
          ? 'DENY'
          : reason
            ? flagFor(reason)
            : '-';
    if (effective === '-') this.#series.closed.add(1);
    else {
      const labels = { ...this.#series.labels, response_flags: effective };
      tcpConnectionsClosed.inc(labels);
      if (FAILURE_FLAGS.has(effective)) tcpConnectionsFailed.inc(labels);
    }
    this.#registry.recent?.record(this.info, effective, reason);
    this.#registry.remove(this, reason);
  }
}

/** Told after a connection enters or leaves the registry (see MemoryRelease). */
export interface RegistryWatch {
  opened(): void;
  closed(): void;
}

/** The live connections of one proxy (one thread). */
export class ConnectionRegistry {
  readonly idPrefix: string;
  readonly #live = new Map<string, TrackedConnection>();
  readonly #log: Logger;
  readonly #idle: (() => void)[] = [];
  readonly #watch: RegistryWatch | undefined;
  /** Where closed connections are remembered for the admin page, when kept. */
  readonly recent: RecentConnections | undefined;

  /** `log` takes the access lines: the `access` scope's logger. */
  constructor(log: Logger, idPrefix = '', watch?: RegistryWatch, recent?: RecentConnections) {
    this.#log = log;
    this.idPrefix = idPrefix;
    this.#watch = watch;
    this.recent = recent;
  }

  open(p: OpenParams): TrackedConnection {
    const t = new TrackedConnection(this, p);
    this.#live.set(t.info.id, t);
    this.#watch?.opened();
    return t;
  }

  get size(): number {
    return this.#live.size;
  }

  list(): ConnectionInfo[] {
    return [...this.#live.values()].map((t) => ({
      ...t.info,
      src: { ...t.info.src },
      dst: { ...t.info.dst },
    }));
  }

  live(): TrackedConnection[] {
    return [...this.#live.values()];
  }

  /** Resolves when no connection is left. */
  idle(): Promise<void> {
    if (this.#live.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  remove(t: TrackedConnection, err: Error | undefined): void {
    if (!this.#live.delete(t.info.id)) return;
    accessLog(this.#log, t, err);
    this.#watch?.closed();
    if (this.#live.size === 0) for (const r of this.#idle.splice(0)) r();
  }
}

function accessLog(log: Logger, t: TrackedConnection, err: Error | undefined): void {
  // The fields cost more than the line's level check: build them only for a line that is written.
  if (!log.isLevelEnabled(accessLevel(err !== undefined))) return;
  const i = t.info;
  const l = t.labelInput;
  const mtls = l.mtls;
  const line: AccessLine = {
    'src.addr': formatAddr(i.src as SocketAddr),
    // As upstream: the pod's name, else the canonical service the source's baggage names.
    'src.workload': l.source ? l.source.name : l.derivedSource?.app,
    'src.namespace': l.source ? l.source.namespace : l.derivedSource?.namespace,
    'src.identity': mtls ? l.sourceIdentity : undefined,
    'dst.addr': formatAddr(i.dst as SocketAddr),
    'dst.hbone_addr': t.hboneAddr,
    'dst.service': l.service?.hostname,
    // As upstream: the pod's name, else the workload name the destination's baggage gave.
    'dst.workload': l.derivedDestination ? l.derivedDestination.workloadName : l.destination?.name,
    'dst.namespace': l.derivedDestination ? l.derivedDestination.namespace : l.destination?.namespace,
    'dst.identity': mtls ? l.destinationIdentity : undefined,
    direction: i.direction,
    bytes_sent: i.bytesSent,
    bytes_recv: i.bytesReceived,
    duration: `${Date.now() - i.startedAt}ms`,
    error: err?.message,
  };
  logAccess(log, line);
}
