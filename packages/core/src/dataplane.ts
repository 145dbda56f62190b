import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { DnsDump } from '@zt/dns';
import { errorMessage } from '@zt/errors';
import { type CertSource, Identity } from '@zt/identity';
import { defaultLogging, type Logger, type Logging } from '@zt/log';
import { counter, type MetricsSnapshot, registry, WorkerMetrics } from '@zt/metrics';
import type { ProxyStateView, StateSnapshot } from '@zt/xds';
import type { RecentDump } from './conn/recent.ts';
import { InpodNotConfiguredError, WorkerExitedError, WorkerRequestError } from './errors.ts';
import { nativeSocketOps } from './native.ts';
import { type BoundListener, DEFAULT_DRAIN_DEADLINE_MS, type ProxyConfig } from './options.ts';
import type { PodInfo } from './pods.ts';
import type { CpuProfile } from './profile.ts';
import { ProxyEngine } from './proxy.ts';
import type { ConnectionInfo } from './types.ts';
import { toWire } from './worker/certs.ts';
import type { MainToWorker, WorkerInit, WorkerRequest, WorkerResults, WorkerToMain } from './worker/types.ts';

export interface DataPlaneOptions extends ProxyConfig {
  /** Data-plane worker threads (ZTUNNEL_WORKER_THREADS); 0 runs the proxy on this thread. */
  workers: number;
  /** Where workloads' certificates come from (the SecretManager). */
  certs: CertSource;
  /**
   * The main thread's logging. The data plane logs in its `proxy` and `access` scopes; workers
   * write in its format to its file descriptor and follow its filter, also after `setLevel`
   * (admin `/logging`). Default: @zt/log's process-wide logging.
   */
  logging?: Logging;
  /** In-process mode only: builds the read view of a snapshot (default: core's own). */
  viewOf?: (s: StateSnapshot) => ProxyStateView;
}

export interface WorkerRestartEvent {
  index: number;
  exitCode: number;
  restarts: number;
}

// The worker's own file: TypeScript when run from source, JavaScript in a build (dist/).
const WORKER_ENTRY = new URL(
  `./worker/entry${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
  import.meta.url,
);

const workerRestarts = counter(
  'zt_worker_restarts_total',
  'Data-plane worker threads restarted after they died',
  ['reason'],
);

interface Slot {
  index: number;
  generation: number;
  worker: Worker;
  pending: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>;
  started: boolean;
  exiting: boolean;
  /** The highest state `seq` this worker has applied, and who waits for a higher one. */
  stateSeq: number;
  stateWaiters: { seq: number; resolve: () => void }[];
}

/**
 * The data plane as the app sees it. Owns N worker threads, each running a full ProxyEngine on shared
 * (SO_REUSEPORT) listeners, or one ProxyEngine on this thread when `workers` is 0. Pushes state and
 * certificates to the workers; gathers their connections and metrics.
 */
export class DataPlane extends EventEmitter<{ workerRestart: [WorkerRestartEvent]; workerError: [Error] }> {
  readonly #opts: DataPlaneOptions;
  readonly #logging: Logging;
  readonly #log: Logger;
  readonly #slots: Slot[] = [];
  readonly #metrics = new WorkerMetrics();
  #inproc: ProxyEngine | undefined;
  #state: StateSnapshot | undefined;
  /** In-pod: the pods to serve, by uid; every worker (restarted ones too) binds each. */
  readonly #pods = new Map<string, PodInfo>();
  #started: Promise<void> | undefined;
  #markStarted: () => void = () => {};
  #fixedPorts: Record<string, number> = {};
  #bound: BoundListener[] = [];
  #nextReq = 0;
  #stateSeq = 0;
  #closing = false;
  #restarts = 0;
  #unsubscribeRotate: (() => void) | undefined;
  readonly #unsubscribeLogFilter: () => void;

  constructor(opts: DataPlaneOptions) {
    super();
    this.#opts = opts;
    this.#logging = opts.logging ?? defaultLogging();
    this.#log = this.#logging.scope('proxy');
    this.#unsubscribeLogFilter = this.#logging.onChange((filter) => {
      for (const s of this.#slots) this.#post(s, { t: 'log-filter', filter });
    });
  }

  /** The proxy config as workers receive it (plain data only). */
  get #config(): ProxyConfig {
    const { workers: _w, certs: _c, logging: _l, viewOf: _v, ...config } = this.#opts;
    return config;
  }

  get restarts(): number {
    return this.#restarts;
  }

  /**
   * Sends the state to every worker (structured clone); latest wins. Resolves when every worker has
   * applied it (a failure is logged where it happens, never thrown here). Workers started later,
   * restarted ones included, begin with the latest state; before `start()` it resolves at once.
   */
  setState(snapshot: StateSnapshot): Promise<void> {
    this.#state = snapshot;
    const seq = ++this.#stateSeq;
    if (this.#inproc) {
      return this.#inproc
        .setState(snapshot)
        .catch((e: unknown) => this.#log.error({ err: e, version: snapshot.version }, 'state update failed'));
    }
    // Closing: no worker is left to apply it, and none will start.
    if (this.#closing) return Promise.resolve();
    const applied: Promise<void>[] = [];
    for (const s of this.#slots) {
      applied.push(this.#stateApplied(s, seq));
      this.#post(s, { t: 'state', seq, snapshot });
    }
    return Promise.all(applied).then(() => undefined);
  }

  #stateApplied(slot: Slot, seq: number): Promise<void> {
    if (slot.stateSeq >= seq) return Promise.resolve();
    return new Promise((resolve) => slot.stateWaiters.push({ seq, resolve }));
  }

  #onStateApplied(slot: Slot, seq: number): void {
    slot.stateSeq = Math.max(slot.stateSeq, seq);
    const waiting = slot.stateWaiters;
    slot.stateWaiters = [];
    for (const w of waiting) {
      if (w.seq <= slot.stateSeq) w.resolve();
      else slot.stateWaiters.push(w);
    }
  }

  /** In-pod mode: every pod to serve, replacing the last list (tests; the app adds and removes). */
  setPods(pods: readonly PodInfo[]): void {
    this.#pods.clear();
    for (const p of pods) this.#pods.set(p.uid, { ...p });
    const list = [...this.#pods.values()];
    this.#inproc?.setPods(list).catch((e: unknown) => this.#log.error({ err: e }, 'pod update failed'));
    for (const s of this.#slots) this.#post(s, { t: 'pods', pods: list });
  }

  /**
   * In-pod mode: serve a pod (istio-cni added it). Resolves once every worker has bound the pod's
   * listeners, rejects with the first bind error otherwise (the caller acks the add as failed and
   * retries: it is the only retry, state updates do not bind a failed pod again). Before start()
   * it waits for start. Rejects at once when the data plane has no in-pod listeners configured.
   */
  async addPod(pod: PodInfo): Promise<void> {
    const mode = this.#opts.listeners.workloads?.mode;
    if (mode !== 'netns') throw new InpodNotConfiguredError(pod, mode ?? 'none');
    this.#pods.set(pod.uid, { ...pod });
    this.#started ??= new Promise((resolve) => {
      this.#markStarted = resolve;
    });
    await this.#started;
    if (!this.#pods.has(pod.uid)) return;
    if (this.#inproc) {
      await this.#inproc.addPod(pod);
      return;
    }
    await Promise.all(this.#live().map((s) => this.#request(s, { t: 'pod-add', pod })));
  }

  /**
   * In-pod mode: the pod went; every worker closes its listeners and gives its connections the
   * drain deadline. Resolves once every worker closed the listeners (failures are logged).
   */
  async removePod(uid: string): Promise<void> {
    if (!this.#pods.delete(uid)) return;
    if (this.#inproc) return this.#inproc.removePod(uid);
    await Promise.all(
      this.#live().map((s) =>
        this.#request(s, { t: 'pod-del', uid }).catch((e: unknown) =>
          // A worker that died meanwhile starts again from the pod list, without this pod.
          this.#log.warn({ err: errorMessage(e), worker: s.index }, 'a worker failed to remove a pod'),
        ),
      ),
    );
  }

  #startDone(): void {
    if (!this.#started) this.#started = Promise.resolve();
    this.#markStarted();
  }

  /** Starts the listeners; resolves with the bound addresses when every worker listens. */
  async start(): Promise<BoundListener[]> {
    if (this.#opts.workers <= 0) {
      this.#inproc = new ProxyEngine(this.#config, {
        certs: this.#opts.certs,
        log: this.#log,
        accessLog: this.#logging.access,
        dnsLog: this.#logging.scope('dns'),
        ops: await nativeSocketOps(),
        ...(this.#opts.viewOf ? { viewOf: this.#opts.viewOf } : {}),
      });
      if (this.#state) await this.#inproc.setState(this.#state);
      await this.#inproc.setPods([...this.#pods.values()]);
      this.#bound = await this.#inproc.start();
      this.#startDone();
      return this.#bound;
    }
    this.#unsubscribeRotate = this.#opts.certs.onRotate((cert) => {
      for (const s of this.#slots) this.#post(s, { t: 'cert-rotated', cert: toWire(cert) });
    });
    // The first worker picks the free ports; the others join its SO_REUSEPORT groups.
    const first = this.#spawn(0, 0);
    this.#bound = await this.#startSlot(first);
    for (const b of this.#bound) {
      if (b.set === 'shared' || b.set === 'socks5') this.#fixedPorts[`${b.set}/${b.kind}`] = b.port;
      if (b.kind === 'dns') this.#fixedPorts[`dns/${b.address}`] = b.port;
    }
    const rest: Slot[] = [];
    for (let i = 1; i < this.#opts.workers; i++) rest.push(this.#spawn(i, 0));
    await Promise.all(rest.map((s) => this.#startSlot(s)));
    this.#startDone();
    return this.#bound;
  }

  bound(): BoundListener[] {
    return this.#bound;
  }

  #spawn(index: number, generation: number): Slot {
    // The filter as it is now: a worker restarted after a `/logging` change starts at the new level.
    const log = { filter: this.#logging.level(), format: this.#logging.format, fd: this.#logging.fd };
    const init: WorkerInit = { config: this.#config, index, generation, log };
    const worker = new Worker(WORKER_ENTRY, { workerData: init });
    const slot: Slot = {
      index,
      generation,
      worker,
      pending: new Map(),
      started: false,
      exiting: false,
      stateSeq: 0,
      stateWaiters: [],
    };
    this.#slots[index] = slot;
    worker.on('message', (m: WorkerToMain) => this.#onMessage(slot, m));
    worker.on('error', (e) => {
      this.#log.error({ err: e, worker: index }, 'data-plane worker crashed');
      this.emit('workerError', e);
    });
    worker.on('exit', (code) => this.#onExit(slot, code));
    if (this.#state) this.#post(slot, { t: 'state', seq: this.#stateSeq, snapshot: this.#state });
    if (this.#pods.size > 0) this.#post(slot, { t: 'pods', pods: [...this.#pods.values()] });
    return slot;
  }

  async #startSlot(slot: Slot): Promise<BoundListener[]> {
    const bound = await this.#request(slot, { t: 'start', ports: this.#fixedPorts });
    slot.started = true;
    return bound;
  }

  #onExit(slot: Slot, code: number): void {
    for (const p of slot.pending.values()) p.reject(new WorkerExitedError(slot.index, code));
    slot.pending.clear();
    this.#metrics
      .retire(`${slot.index}.${slot.generation}`)
      .catch((e: unknown) =>
        this.#log.debug(
          { err: errorMessage(e), worker: slot.index },
          "the dead worker's last metric values could not be kept; its counters restart from zero",
        ),
      );
    const waiting = slot.stateWaiters;
    slot.stateWaiters = [];
    if (this.#closing || slot.exiting || this.#slots[slot.index] !== slot) {
      // No worker will take its place: nothing is left to apply the state, so nobody waits for it.
      for (const w of waiting) w.resolve();
      return;
    }
    this.#restarts++;
    workerRestarts.inc({ reason: code === 0 ? 'exit' : 'crash' });
    this.#log.warn(
      { worker: slot.index, code },
      'data-plane worker died; restarting it (its connections are lost, the others go on)',
    );
    const next = this.#spawn(slot.index, slot.generation + 1);
    // The replacement starts from the latest state, so it answers whoever waited on the dead one.
    next.stateWaiters.push(...waiting);
    this.#startSlot(next).then(
      () => this.emit('workerRestart', { index: slot.index, exitCode: code, restarts: this.#restarts }),
      (e: unknown) => this.#log.error({ err: e, worker: slot.index }, 'restarted worker failed to start'),
    );
  }

  #onMessage(slot: Slot, m: WorkerToMain): void {
    if (m.t === 'state-applied') {
      this.#onStateApplied(slot, m.seq);
      return;
    }
    if (m.t === 'res') {
      const p = slot.pending.get(m.id);
      slot.pending.delete(m.id);
      if (m.ok) p?.resolve(m.value);
      else p?.reject(new WorkerRequestError(slot.index, m.error ?? 'failed'));
      return;
    }
    // cert-req: the SecretManager lives here.
    this.#opts.certs.fetchCertificate(parseIdentity(m.identity), 'connection').then(
      (cert) => this.#post(slot, { t: 'cert-res', id: m.id, cert: toWire(cert) }),
      (e: unknown) =>
        this.#post(slot, { t: 'cert-res', id: m.id, error: e instanceof Error ? e.message : String(e) }),
    );
  }

  #post(slot: Slot, m: MainToWorker): void {
    try {
      slot.worker.postMessage(m);
    } catch (e) {
      this.#log.debug({ err: e, worker: slot.index }, 'post to worker failed');
    }
  }

  #request<K extends WorkerRequest['t']>(
    slot: Slot,
    body: Extract<WorkerRequest, { t: K }>,
  ): Promise<WorkerResults[K]> {
    const id = ++this.#nextReq;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#post(slot, { t: 'req', id, body });
    });
  }

  #live(): Slot[] {
    return this.#slots.filter((s) => s.started);
  }

  /** Every live connection of every worker. */
  async connections(): Promise<ConnectionInfo[]> {
    if (this.#inproc) return this.#inproc.connections();
    const lists = await Promise.all(
      this.#live().map((s) =>
        this.#request(s, { t: 'connections' }).catch((e: unknown) => {
          this.#log.warn(
            { err: errorMessage(e), worker: s.index },
            'a worker did not list its connections; they are missing from this answer',
          );
          return [] as ConnectionInfo[];
        }),
      ),
    );
    return lists.flat();
  }

  /** Each thread's recently closed connections and denials (one dump per worker, newest first). */
  async recentConnections(): Promise<RecentDump[]> {
    if (this.#inproc) return [this.#inproc.recent()];
    const dumps = await Promise.all(
      this.#live().map((s) => this.#request(s, { t: 'recent' }).catch(() => null)),
    );
    return dumps.filter((d) => d !== null);
  }

  /**
   * The DNS proxy's config_dump part (upstream's dnsProxy / dnsResolverCfg / dnsResolverOpts, plus
   * zt's listeners, caps and in-flight work summed over the threads), or undefined when it is off.
   */
  async dnsDump(): Promise<DnsDump | undefined> {
    if (this.#inproc) return this.#inproc.dnsDump();
    const dumps = (
      await Promise.all(this.#live().map((s) => this.#request(s, { t: 'dns-dump' }).catch(() => undefined)))
    ).filter((d): d is DnsDump => d !== undefined && d !== null);
    const [first, ...rest] = dumps;
    if (!first) return undefined;
    // Every thread serves the same addresses with the same settings: one's view, the work of all.
    return {
      ...first,
      inFlight: {
        forwards: rest.reduce((n, d) => n + d.inFlight.forwards, first.inFlight.forwards),
        tcpConnections: rest.reduce((n, d) => n + d.inFlight.tcpConnections, first.inFlight.tcpConnections),
      },
    };
  }

  /** Indexes of the worker threads running now (none in in-process mode). */
  workerIndexes(): number[] {
    return this.#inproc ? [] : this.#live().map((s) => s.index);
  }

  /**
   * CPU profiles of worker threads, each taken by the worker's own inspector session for `seconds`:
   * every live worker, or the one at `index`. Empty in in-process mode (profile this thread instead).
   */
  async cpuProfiles(seconds: number, index?: number): Promise<{ worker: number; profile: CpuProfile }[]> {
    if (this.#inproc) return [];
    const slots = this.#live().filter((s) => index === undefined || s.index === index);
    return Promise.all(
      slots.map(async (s) => ({
        worker: s.index,
        profile: await this.#request(s, { t: 'cpuprofile', seconds }),
      })),
    );
  }

  /** A V8 heap snapshot of worker `index` (Node's Worker.getHeapSnapshot), or undefined if none runs. */
  async heapSnapshot(index: number): Promise<Readable | undefined> {
    const slot = this.#inproc ? undefined : this.#live().find((s) => s.index === index);
    return slot?.worker.getHeapSnapshot();
  }

  /**
   * The workers' metric values (registry.getMetricsAsJSON() in each, plus what dead workers'
   * counters had reached); aggregate with the main registry via `metricsText()` or
   * AggregatorRegistry.aggregate. Empty in in-process mode (the proxy records into this thread's
   * registry directly).
   */
  async metricsJson(): Promise<MetricsSnapshot[]> {
    if (this.#inproc) return [];
    await Promise.all(
      this.#live().map(async (s) => {
        try {
          this.#metrics.update(`${s.index}.${s.generation}`, await this.#request(s, { t: 'metrics' }));
        } catch {
          // A worker that died mid-request is retired by its exit handler.
        }
      }),
    );
    return this.#metrics.snapshots();
  }

  /** Prometheus text of this thread's registry plus every worker's. */
  async metricsText(): Promise<string> {
    await this.metricsJson();
    return this.#inproc ? registry.metrics() : this.#metrics.text(registry);
  }

  /** Stop accepting, GOAWAY, give open connections `deadlineMs`, close the rest. */
  async drain(deadlineMs = this.#opts.drainDeadlineMs ?? DEFAULT_DRAIN_DEADLINE_MS): Promise<void> {
    if (this.#inproc) return this.#inproc.drain(deadlineMs);
    await Promise.all(
      this.#live().map((s) =>
        this.#request(s, { t: 'drain', deadlineMs }).catch((e: unknown) =>
          // A worker that died meanwhile took its connections with it: nothing is left to drain there.
          this.#log.warn({ err: errorMessage(e), worker: s.index }, 'a worker failed to drain'),
        ),
      ),
    );
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#unsubscribeRotate?.();
    this.#unsubscribeLogFilter();
    if (this.#inproc) {
      await this.#inproc.close();
      return;
    }
    await Promise.all(
      this.#slots.map(async (s) => {
        s.exiting = true;
        // A worker gets a moment to close its connections cleanly; whatever it still holds then
        // goes with the thread, so close() always completes.
        await Promise.race([
          this.#request(s, { t: 'close' }).catch((e: unknown) =>
            this.#log.debug(
              { err: errorMessage(e), worker: s.index },
              'a worker failed to close its connections; terminating it closes them',
            ),
          ),
          sleep(2000, null, { ref: false }),
        ]);
        await s.worker.terminate();
      }),
    );
  }

  /** Test hook: the worker threads (to kill one). */
  get workerThreads(): readonly Worker[] {
    return this.#slots.map((s) => s.worker);
  }
}

function parseIdentity(s: string): Identity {
  return Identity.parse(s);
}
