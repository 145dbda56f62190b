import { backoffDelay } from '@zt/errors';
import { defaultLogger, type Logger } from '@zt/log';
import { type CertInfo, certInfo } from './certificate.ts';
import { type Clock, systemClock, type TimerHandle } from './clock.ts';
import { CertForgottenError, IdentityError } from './errors.ts';
import type { Identity } from './identity.ts';
import { countRotation, countState } from './metrics.ts';
import type { CertificateProvider, CertPriority, CertSource, WorkloadCertificate } from './types.ts';

/** Retries after failed CSRs: 0.5-1 s, then doubling with the same jitter, at most 150 s. */
const CSR_RETRY = { initialMs: 1000, maxMs: 150_000, jitter: true } as const;

export interface SecretManagerOptions {
  /** Who mints certificates: a CaClient, or a FakeCaProvider under FAKE_CA. */
  provider: CertificateProvider;
  /** At most this many certificate requests at once. Default 8, as upstream. */
  concurrency?: number;
  clock?: Clock;
  /** Source of jitter for backoff, [0, 1). */
  random?: () => number;
  logger?: Logger;
}

/** What the manager holds for one identity, as a tagged union. */
export type CertState =
  | { readonly t: 'initializing' }
  | { readonly t: 'available'; readonly cert: WorkloadCertificate }
  | { readonly t: 'unavailable'; readonly error: IdentityError };

/** One identity of the admin config_dump (upstream's `certificates` entries). Never the key. */
export interface CertsDump {
  readonly identity: string;
  readonly state: string;
  readonly certChain: readonly CertInfo[];
  readonly rootCerts: readonly CertInfo[];
}

// Scheduled refreshes rank below requests for pods being set up, which rank below live connections.
const RANK: Record<CertPriority | 'refresh', number> = { refresh: 0, prefetch: 1, connection: 2 };

interface Waiter {
  resolve(cert: WorkloadCertificate): void;
  reject(err: IdentityError): void;
}

interface Entry {
  readonly identity: Identity;
  state: CertState;
  waiters: Waiter[];
  /** Rank while waiting in the queue. */
  queued: number | undefined;
  seq: number;
  fetching: boolean;
  timer: TimerHandle | undefined;
  failures: number;
  /** Whether a certificate was ever issued, so the next one is a rotation. */
  issued: boolean;
}

/**
 * Certificates of the identities this node serves: one entry per identity, shared by every pod of
 * that service account. Fetches once per identity however many ask, at most `concurrency` at a
 * time (connections before prefetches), renews at half of each certificate's lifetime, and on
 * failure retries with backoff while the old certificate, until it expires, is still served.
 */
export class SecretManager implements CertSource {
  readonly #provider: CertificateProvider;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #concurrency: number;
  readonly #log: Logger;
  readonly #entries = new Map<string, Entry>();
  readonly #queue: Entry[] = [];
  readonly #listeners = new Set<(cert: WorkloadCertificate) => void>();
  readonly #infoCache = new WeakMap<WorkloadCertificate, { chain: CertInfo[]; roots: CertInfo[] }>();
  #inFlight = 0;
  #seq = 0;
  #closed = false;

  constructor(options: SecretManagerOptions) {
    this.#provider = options.provider;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#concurrency = options.concurrency ?? 8;
    if (!(this.#concurrency >= 1)) throw new RangeError('SecretManager concurrency must be at least 1');
    this.#log = options.logger ?? defaultLogger('identity');
  }

  /**
   * A certificate for `identity` valid now. The first request starts managing the identity; while
   * it is unavailable (the last fetch failed and no valid certificate is left) this rejects at once
   * with the last error, and a retry is already scheduled.
   */
  fetchCertificate(identity: Identity, priority: CertPriority = 'connection'): Promise<WorkloadCertificate> {
    if (this.#closed)
      return Promise.reject(new IdentityError('ERR_ZT_CERT_CLOSED', 'the certificate manager is closed'));
    const key = identity.toString();
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = {
        identity,
        state: { t: 'initializing' },
        waiters: [],
        queued: undefined,
        seq: 0,
        fetching: false,
        timer: undefined,
        failures: 0,
        issued: false,
      };
      this.#entries.set(key, entry);
      countState('initializing', 1);
    }
    const state = entry.state;
    if (state.t === 'available' && this.#clock.now() < state.cert.notAfter.getTime()) {
      return Promise.resolve(state.cert);
    }
    if (state.t === 'unavailable') return Promise.reject(state.error);
    // Initializing, or the kept certificate just expired: wait for the fetch under way, asking for
    // one (or a higher rank for the queued one) if needed.
    this.#enqueue(entry, RANK[priority]);
    const e = entry;
    return new Promise((resolve, reject) => e.waiters.push({ resolve, reject }));
  }

  onRotate(listener: (cert: WorkloadCertificate) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops managing `identity` (no pod uses it anymore); requests waiting for it reject. */
  forget(identity: Identity): void {
    const key = identity.toString();
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    this.#drop(entry, new CertForgottenError(key));
  }

  /** The state of one identity, or undefined when it is not managed. */
  state(identity: Identity): CertState | undefined {
    return this.#entries.get(identity.toString())?.state;
  }

  /** Every identity for the admin config_dump, sorted; public certificate data only. */
  dump(): CertsDump[] {
    return [...this.#entries.values()]
      .map((e): CertsDump => {
        const { identity, state } = e;
        if (state.t === 'initializing')
          return { identity: identity.toString(), state: 'Initializing', certChain: [], rootCerts: [] };
        if (state.t === 'unavailable') {
          return {
            identity: identity.toString(),
            state: `Unavailable: ${state.error.message}`,
            certChain: [],
            rootCerts: [],
          };
        }
        let info = this.#infoCache.get(state.cert);
        if (!info) {
          info = { chain: state.cert.certChain.map(certInfo), roots: state.cert.roots.map(certInfo) };
          this.#infoCache.set(state.cert, info);
        }
        return {
          identity: identity.toString(),
          state: 'Available',
          certChain: info.chain,
          rootCerts: info.roots,
        };
      })
      .sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
  }

  /** Cancels every timer and rejects waiting requests; fetches under way finish unseen. */
  close(): void {
    this.#closed = true;
    for (const entry of this.#entries.values()) {
      this.#drop(entry, new IdentityError('ERR_ZT_CERT_CLOSED', 'the certificate manager is closed'));
    }
    this.#entries.clear();
  }

  #drop(entry: Entry, err: IdentityError): void {
    entry.timer?.cancel();
    entry.timer = undefined;
    if (entry.queued !== undefined) {
      this.#queue.splice(this.#queue.indexOf(entry), 1);
      entry.queued = undefined;
    }
    countState(entry.state.t, -1);
    const waiters = entry.waiters;
    entry.waiters = [];
    for (const w of waiters) w.reject(err);
  }

  #enqueue(entry: Entry, rank: number): void {
    if (entry.fetching) return;
    entry.timer?.cancel();
    entry.timer = undefined;
    if (entry.queued === undefined) {
      entry.seq = this.#seq++;
      this.#queue.push(entry);
      entry.queued = rank;
    } else {
      entry.queued = Math.max(entry.queued, rank);
    }
    this.#pump();
  }

  #pump(): void {
    while (this.#inFlight < this.#concurrency && this.#queue.length > 0) {
      let best = 0;
      for (let i = 1; i < this.#queue.length; i++) {
        const a = this.#queue[i] as Entry;
        const b = this.#queue[best] as Entry;
        if ((a.queued as number) > (b.queued as number) || (a.queued === b.queued && a.seq < b.seq)) best = i;
      }
      const [entry] = this.#queue.splice(best, 1) as [Entry];
      entry.queued = undefined;
      this.#start(entry);
    }
  }

  #start(entry: Entry): void {
    entry.fetching = true;
    this.#inFlight++;
    let result: Promise<WorkloadCertificate>;
    try {
      result = this.#provider.fetchCertificate(entry.identity);
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (cert) => this.#settle(entry, () => this.#succeeded(entry, cert)),
      (err: unknown) => this.#settle(entry, () => this.#failed(entry, err)),
    );
  }

  #settle(entry: Entry, handle: () => void): void {
    this.#inFlight--;
    entry.fetching = false;
    // A forgotten identity's result is dropped.
    if (this.#entries.get(entry.identity.toString()) === entry) handle();
    this.#pump();
  }

  #succeeded(entry: Entry, cert: WorkloadCertificate): void {
    const renewed = entry.issued;
    entry.issued = true;
    entry.failures = 0;
    this.#setState(entry, { t: 'available', cert });
    const notBefore = cert.notBefore.getTime();
    const refreshAt = notBefore + (cert.notAfter.getTime() - notBefore) / 2;
    // At least a second, so a CA handing out certificates already past half-life cannot spin us.
    this.#schedule(entry, Math.max(refreshAt - this.#clock.now(), 1000));
    const waiters = entry.waiters;
    entry.waiters = [];
    for (const w of waiters) w.resolve(cert);
    if (renewed) {
      countRotation();
      this.#log.info({ identity: entry.identity.toString(), notAfter: cert.notAfter }, 'certificate renewed');
      for (const listener of this.#listeners) {
        try {
          listener(cert);
        } catch (err) {
          this.#log.error({ err }, 'certificate rotation listener threw');
        }
      }
    }
  }

  #failed(entry: Entry, cause: unknown): void {
    const err =
      cause instanceof IdentityError
        ? cause
        : new IdentityError(
            'ERR_ZT_CERT_FETCH',
            `certificate fetch failed: ${(cause as Error)?.message ?? cause}`,
            { cause },
          );
    entry.failures++;
    const delay = backoffDelay(entry.failures, { ...CSR_RETRY, random: this.#random });
    const now = this.#clock.now();
    const id = entry.identity.toString();
    const state = entry.state;
    if (state.t === 'available' && now < state.cert.notAfter.getTime()) {
      const expiresIn = state.cert.notAfter.getTime() - now;
      this.#log.info(
        { identity: id, err: err.message, retryMs: Math.min(delay, expiresIn) },
        'certificate renewal failed; keeping the current certificate until it expires',
      );
      this.#schedule(entry, Math.min(delay, expiresIn));
      return;
    }
    this.#log.warn(
      { identity: id, err: err.message, retryMs: delay },
      'certificate fetch failed and no valid certificate is left',
    );
    this.#setState(entry, { t: 'unavailable', error: err });
    this.#schedule(entry, delay);
    const waiters = entry.waiters;
    entry.waiters = [];
    for (const w of waiters) w.reject(err);
  }

  #schedule(entry: Entry, delayMs: number): void {
    entry.timer?.cancel();
    entry.timer = this.#clock.setTimer(() => {
      entry.timer = undefined;
      this.#enqueue(entry, RANK.refresh);
    }, delayMs);
  }

  #setState(entry: Entry, state: CertState): void {
    if (entry.state.t !== state.t) {
      countState(entry.state.t, -1);
      countState(state.t, 1);
    }
    entry.state = state;
  }
}
