// The ZDS client: zt connects to the istio-cni node agent over a SOCK_SEQPACKET Unix socket,
// announces itself with ZdsHello, then answers every WorkloadRequest with an Ack, and reconnects with
// backoff when the node agent goes away (upstream's workloadmanager.rs / protocol.rs).

import { EventEmitter } from 'node:events';
import { Backoff } from '@zt/errors';
import { defaultLogger, type Logger } from '@zt/log';
import { closeFd, MessageTruncatedError, SeqpacketSocket } from '@zt/native';
import { decodeRequest, encodeAck, encodeHello } from './codec.ts';
import { InpodConfigError, InpodError, ZdsRequestError } from './errors.ts';
import { type ConnectionEnd, cniConnections, pendingProxies, requestErrors } from './metrics.ts';
import { type Pod, PodManager } from './pods.ts';
import { type InpodStatus, ReadinessGate, type RegisterTask } from './readiness.ts';

/** INPOD_UDS default, as upstream. */
export const DEFAULT_INPOD_UDS = '/var/run/ztunnel/ztunnel.sock';

export interface ZdsClientOptions {
  /** INPOD_UDS: the node agent's socket (default /var/run/ztunnel/ztunnel.sock). */
  path?: string;
  /** Where pods go; default a new PodManager with `trustDomain`. */
  pods?: PodManager;
  /** TRUST_DOMAIN, used when `pods` is not given (default cluster.local). */
  trustDomain?: string;
  logger?: Logger;
  /**
   * Reconnect backoff: the first retry waits `initialBackoffMs`, each further one twice the last, up
   * to `maxBackoffMs` (upstream's constants, 10 ms and 15 s; upstream doubles before its first wait).
   */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Largest request accepted (default 64 KiB); a longer one ends the connection. */
  maxMessageBytes?: number;
  /**
   * Starts a new pod's proxy (its listeners in `pod.netns`) before the add is acked. A rejection is
   * acked as an error, the pod stays pending (zt not ready) and the start is retried every
   * `startRetryMs` (upstream: 5 s) until it succeeds or the pod goes. Without it, podAdded is all.
   */
  startPod?: (pod: Pod) => Promise<void> | void;
  startRetryMs?: number;
}

export interface ZdsClientEvents {
  /** Connected and announced; the node agent's snapshot follows. */
  connected: [];
  /** The connection ended; zt reconnects after a backoff. */
  disconnected: [end: ConnectionEnd, error: Error | undefined];
  status: [status: InpodStatus];
  /** A request refused with an error Ack (already logged and counted). */
  requestError: [error: ZdsRequestError];
}

function closedError(): InpodError {
  return new InpodError(
    'ERR_ZT_INPOD_CLOSED',
    'the ZDS client was closed before the node agent sent its snapshot',
  );
}

export class ZdsClient extends EventEmitter<ZdsClientEvents> {
  readonly path: string;
  readonly pods: PodManager;
  readonly #log: Logger;
  readonly #maxBytes: number;
  readonly #backoff: Backoff;
  #status: InpodStatus = { t: 'connecting', attempt: 0 };
  #socket: SeqpacketSocket | undefined;
  #running: Promise<void> | undefined;
  #closed = false;
  #wake: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #connections = 0;
  readonly #startPod: ((pod: Pod) => Promise<void> | void) | undefined;
  readonly #startRetryMs: number;
  /** Pods whose start failed, by uid, waiting for a retry. */
  readonly #pending = new Map<string, Pod>();
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(opts: ZdsClientOptions = {}) {
    super();
    this.path = opts.path ?? DEFAULT_INPOD_UDS;
    if (this.path === '')
      throw new InpodConfigError('INPOD_UDS is empty; set it to the istio-cni node agent socket path');
    this.#log = opts.logger ?? defaultLogger('inpod');
    this.pods = opts.pods ?? new PodManager({ trustDomain: opts.trustDomain, logger: this.#log });
    this.#backoff = new Backoff({
      initialMs: opts.initialBackoffMs ?? 10,
      maxMs: opts.maxBackoffMs ?? 15_000,
    });
    this.#maxBytes = opts.maxMessageBytes ?? 65_536;
    this.#startPod = opts.startPod;
    this.#startRetryMs = opts.startRetryMs ?? 5_000;
    this.pods.on('podRemoved', (pod) => {
      if (this.#unpend(pod.uid)) this.#checkReady();
    });
  }

  get status(): InpodStatus {
    return this.#status;
  }

  /** True once the current connection's snapshot is applied; false before and while disconnected. */
  get ready(): boolean {
    return this.#status.t === 'ready';
  }

  /** Uids of pods whose start failed and is being retried. */
  pendingPods(): string[] {
    return [...this.#pending.keys()];
  }

  /** Connections made so far (1 after the first). */
  get connections(): number {
    return this.#connections;
  }

  /**
   * Holds the app's "workload proxy manager" readiness task while not ready. Returns a function that
   * stops tracking.
   */
  bindReadiness(register: RegisterTask): () => void {
    const gate = new ReadinessGate(register, this.ready);
    const onStatus = (s: InpodStatus): void => {
      if (s.t !== 'closed') gate.update(s.t === 'ready');
    };
    this.on('status', onStatus);
    return () => {
      this.off('status', onStatus);
      gate.detach();
    };
  }

  /** Starts connecting (idempotent). */
  start(): void {
    if (this.#closed || this.#running) return;
    this.#running = this.#run();
  }

  /** Resolves once the status is ready (the first snapshot applied), or rejects when closed first. */
  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    if (this.#closed) return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      const onStatus = (s: InpodStatus): void => {
        if (s.t === 'ready') resolve();
        else if (s.t === 'closed') reject(closedError());
        else return;
        this.off('status', onStatus);
      };
      this.on('status', onStatus);
    });
  }

  /**
   * Disconnects and stops reconnecting. With `removePods` (default true) every pod is removed
   * (podRemoved with reason 'shutdown') and its netns fd closed.
   */
  async close(opts: { removePods?: boolean } = {}): Promise<void> {
    this.#closed = true;
    this.#socket?.close();
    clearTimeout(this.#timer);
    clearTimeout(this.#retryTimer);
    this.#pending.clear();
    pendingProxies.set(0);
    this.#wake?.();
    await this.#running;
    if (opts.removePods ?? true) this.pods.removeAll('shutdown');
    this.#setStatus({ t: 'closed' });
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#closed) {
      attempt += 1;
      let socket: SeqpacketSocket;
      try {
        socket = SeqpacketSocket.connect(this.path);
      } catch (e) {
        cniConnections.inc({ result: 'connect_failed' });
        const wait = this.#backoff.next();
        const message = (e as Error).message;
        this.#log.warn(
          `failed to connect to the Istio CNI node agent over ${this.path}, is the node agent healthy? ${message}; retrying in ${wait} ms`,
        );
        this.#setStatus({ t: 'connecting', attempt, lastError: message });
        await this.#sleep(wait);
        continue;
      }
      attempt = 0;
      this.#socket = socket;
      this.#connections += 1;
      const { end, error } = await this.#serve(socket);
      socket.close();
      this.#socket = undefined;
      if (this.#closed) break;
      cniConnections.inc({ result: end });
      this.#log.warn(
        { err: error },
        `connection to the Istio CNI node agent ended (${end}); zt is not ready until it has the pods again`,
      );
      this.#setStatus({ t: 'connecting', attempt: 0, ...(error ? { lastError: error.message } : {}) });
      this.#emit('disconnected', end, error);
      await this.#sleep(this.#backoff.next());
    }
  }

  async #serve(socket: SeqpacketSocket): Promise<{ end: ConnectionEnd; error?: Error }> {
    this.pods.resetSnapshot();
    this.#setStatus({ t: 'syncing' });
    try {
      await socket.send(encodeHello());
    } catch (e) {
      return { end: 'error', error: e as Error };
    }
    this.#log.info(`connected to the Istio CNI node agent at ${this.path}`);
    this.#emit('connected');
    for (;;) {
      let msg: Awaited<ReturnType<SeqpacketSocket['recv']>>;
      try {
        msg = await socket.recv({ maxBytes: this.#maxBytes, maxFds: 8 });
      } catch (e) {
        if (!(e instanceof MessageTruncatedError)) return { end: 'error', error: e as Error };
        // The kernel dropped the rest of the packet: the stream cannot be trusted any more.
        requestErrors.inc({ reason: 'truncated' });
        this.#log.error({ err: e }, 'ZDS message from the node agent was truncated, reconnecting');
        await socket.send(encodeAck(`failure to read message: ${e.message}`)).catch((err: unknown) =>
          // Best effort: the connection is being dropped anyway (the truncation is logged above).
          this.#log.debug({ err }, 'could not tell the node agent about the truncated message'),
        );
        return { end: 'truncated', error: e };
      }
      if (msg === null) return { end: 'eof' };
      const error = await this.#handle(msg.data, msg.fds);
      if (this.pods.snapshotReceived) this.#backoff.reset();
      this.#checkReady();
      try {
        await socket.send(encodeAck(error));
      } catch (e) {
        return { end: 'error', error: e as Error };
      }
    }
  }

  /** Applies one request; returns the Ack's error text ('' on success). */
  async #handle(data: Buffer, fds: number[]): Promise<string> {
    try {
      let req: ReturnType<typeof decodeRequest>;
      try {
        req = decodeRequest(data);
      } catch (e) {
        for (const fd of fds) closeFd(fd);
        throw e;
      }
      const added = this.pods.apply(req, fds);
      if (added) return await this.#start(added);
      return '';
    } catch (e) {
      if (e instanceof ZdsRequestError) {
        requestErrors.inc({ reason: e.reason });
        this.#log.warn({ err: e }, `refused a ZDS request: ${e.message}`);
        this.#emit('requestError', e);
        return e.message;
      }
      this.#log.error({ err: e }, 'failed to apply a ZDS request');
      return `failure to process message: ${(e as Error).message}`;
    }
  }

  /** Runs startPod; on failure the pod is pending and a retry is scheduled. Returns the Ack error. */
  async #start(pod: Pod): Promise<string> {
    if (!this.#startPod) return '';
    try {
      await this.#startPod(pod);
      this.#unpend(pod.uid);
      return '';
    } catch (e) {
      if (pod.removed) return '';
      this.#pending.set(pod.uid, pod);
      pendingProxies.set(this.#pending.size);
      this.#scheduleRetry();
      this.#log.error(
        { err: e, uid: pod.uid },
        `failed to start the proxy of pod ${pod.namespace}/${pod.name}`,
      );
      return `failure to start proxy for pod ${pod.uid}: ${(e as Error).message}`;
    }
  }

  /** Forgets a pending pod; true when it was pending. */
  #unpend(uid: string): boolean {
    if (!this.#pending.delete(uid)) return false;
    pendingProxies.set(this.#pending.size);
    return true;
  }

  #scheduleRetry(): void {
    if (this.#retryTimer || this.#closed) return;
    this.#log.info({ uids: this.pendingPods() }, 'scheduling retry of pods that failed to start');
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#retryPending();
    }, this.#startRetryMs);
  }

  async #retryPending(): Promise<void> {
    for (const pod of [...this.#pending.values()]) {
      if (this.#closed) return;
      if (pod.removed) {
        this.#unpend(pod.uid);
        continue;
      }
      this.#log.info({ uid: pod.uid }, 'retrying pod start');
      await this.#start(pod);
    }
    this.#checkReady();
  }

  #checkReady(): void {
    if (this.#closed || !this.#socket) return;
    const ready = this.pods.snapshotReceived && this.#pending.size === 0;
    if (ready) this.#setStatus({ t: 'ready' });
    else if (this.#status.t === 'ready') this.#setStatus({ t: 'syncing' });
  }

  #sleep(ms: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
    }).then(() => {
      this.#wake = undefined;
      this.#timer = undefined;
    });
  }

  #setStatus(status: InpodStatus): void {
    const prev = this.#status;
    this.#status = status;
    if (prev.t !== status.t || status.t === 'connecting') this.#emit('status', status);
  }

  // A throwing listener is the app's bug; it must not stop the reconnect loop.
  #emit<K extends keyof ZdsClientEvents>(event: K, ...args: ZdsClientEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: ZdsClientEvents[K]) => boolean)(event, ...args);
    } catch (e) {
      this.#log.error({ err: e, event }, 'ZDS client event listener threw');
    }
  }
}
