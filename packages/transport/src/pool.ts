import { constants, type OutgoingHttpHeaders } from 'node:http2';
import type { Socket } from 'node:net';
import type { CertSource, Identity } from '@zt/identity';
import { formatAuthority, type SocketAddress } from './authority.ts';
import { HboneConnection } from './client.ts';
import {
  DEFAULT_POOL_MAX_STREAMS_PER_CONNECTION,
  DEFAULT_POOL_UNUSED_RELEASE_TIMEOUT_MS,
  type FlowControl,
} from './config.ts';
import type { Dialer } from './dialer.ts';
import { PoolClosedError, StreamResetError } from './errors.ts';
import type { HboneTunnel } from './stream.ts';

export interface PoolOptions {
  /** Where certificates for source identities come from; fetched per new connection. */
  certs: CertSource;
  /** POOL_MAX_STREAMS_PER_CONNECTION, default 100; the peer's SETTINGS may lower it. */
  maxStreamsPerConnection?: number;
  /** POOL_UNUSED_RELEASE_TIMEOUT: a connection without tunnels this long is closed. Default 5 min. */
  unusedReleaseTimeoutMs?: number;
  /** Bind outgoing sockets to this local IP unless a request says otherwise. */
  localAddress?: string;
  tls12Enabled?: boolean;
  flowControl?: Partial<FlowControl>;
  connectTimeoutMs?: number;
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  /** Called with each TCP socket the pool dials, once connected (DialOptions.onSocket). */
  onSocket?: (socket: Socket) => void;
}

export interface TunnelRequest {
  /** The identity we connect as (the source workload's). */
  source: Identity;
  /** The peer must present one of these (destination workload or waypoint identities). */
  destinationIdentities: readonly Identity[];
  /** The peer proxy to dial, normally <ip>:15008. */
  address: SocketAddress;
  /** `:authority`, the final destination `ip:port`. Default: `address`. */
  authority?: string;
  /** baggage, forwarded, traceparent, ... */
  headers?: OutgoingHttpHeaders;
  /** Local IP for this request's connection (part of the pool key). */
  localAddress?: string;
  /** Opens this request's TCP connection (in-pod: from the source pod's namespace); its key is part of the pool key. */
  dialer?: Dialer;
}

/** A pooled connection from the first dial to its end. */
type Entry = Connecting | { t: 'ready'; conn: HboneConnection; idle?: NodeJS.Timeout };
interface Connecting {
  t: 'connecting';
  /** Opens waiting for this dial; each will take a stream. */
  waiters: number;
  ready: Promise<HboneConnection>;
}

export interface PoolStats {
  /** Connections successfully established since the pool was made. */
  connectionsOpened: number;
  /** Connections not closed yet (in the pool or draining). */
  connectionsLive: number;
  /** Dials in progress. */
  connecting: number;
}

/**
 * HBONE client pool keyed by (source identity, destination identities, destination address, local
 * address). Concurrent opens for one key share a dial; a connection carries at most
 * `maxStreamsPerConnection` tunnels; GOAWAY, errors and idleness take connections out.
 */
export class HbonePool {
  readonly #opts: PoolOptions;
  readonly #maxStreams: number;
  readonly #idleMs: number;
  readonly #entries = new Map<string, Entry[]>();
  readonly #live = new Set<HboneConnection>();
  #opened = 0;
  #closed = false;

  constructor(options: PoolOptions) {
    this.#opts = options;
    this.#maxStreams = options.maxStreamsPerConnection ?? DEFAULT_POOL_MAX_STREAMS_PER_CONNECTION;
    this.#idleMs = options.unusedReleaseTimeoutMs ?? DEFAULT_POOL_UNUSED_RELEASE_TIMEOUT_MS;
  }

  /**
   * Opens a tunnel, reusing a connection for the same key when one has room. A CONNECT the peer
   * refused unprocessed (REFUSED_STREAM, as a GOAWAY does to streams past its last stream id), or
   * one that lost the race with the connection turning unusable, is sent again on another
   * connection: the peer never saw it, so nothing runs twice. That race is what a draining zt
   * (the old one of a rolling update) causes for the peers' pooled connections to it.
   */
  async open(req: TunnelRequest): Promise<HboneTunnel> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#openOnce(req);
      } catch (e) {
        // The refusal is already counted (zt_hbone_tunnels_failed_total, reason "reset").
        if (attempt >= OPEN_ATTEMPTS || !refusedUnprocessed(e) || this.#closed) throw e;
      }
    }
  }

  async #openOnce(req: TunnelRequest): Promise<HboneTunnel> {
    if (this.#closed) throw new PoolClosedError();
    const authority = req.authority ?? formatAuthority(req.address.address, req.address.port);
    const open = { authority, ...(req.headers ? { headers: req.headers } : {}) };
    const key = poolKey(req, this.#opts.localAddress);
    let list = this.#entries.get(key);
    if (!list) {
      list = [];
      this.#entries.set(key, list);
    }
    for (const e of list) {
      if (e.t === 'ready' && e.conn.available) return e.conn.open(open);
    }
    for (const e of list) {
      if (e.t === 'connecting' && e.waiters < this.#maxStreams) {
        e.waiters++;
        const conn = await e.ready;
        return conn.open(open);
      }
    }
    const entry = { t: 'connecting', waiters: 1 } as Connecting;
    list.push(entry);
    entry.ready = this.#dial(key, req, entry);
    const conn = await entry.ready;
    return conn.open(open);
  }

  async #dial(key: string, req: TunnelRequest, current: Connecting): Promise<HboneConnection> {
    const localAddress = req.localAddress ?? this.#opts.localAddress;
    let conn: HboneConnection;
    try {
      const certificate = await this.#opts.certs.fetchCertificate(req.source, 'connection');
      conn = await HboneConnection.dial({
        certificate,
        expectedIdentities: req.destinationIdentities,
        address: req.address,
        maxStreams: this.#maxStreams,
        ...(localAddress ? { localAddress } : {}),
        ...(req.dialer ? { dialer: req.dialer } : {}),
        ...pick(this.#opts),
      });
    } catch (e) {
      this.#remove(key, (x) => x === current);
      throw e;
    }
    this.#opened++;
    this.#live.add(conn);
    const ready: Entry = { t: 'ready', conn };
    this.#replace(key, (x) => x === current, ready);
    if (this.#closed) conn.close();
    const armIdle = () => {
      clearTimeout(ready.idle);
      ready.idle = setTimeout(() => conn.close(), this.#idleMs);
      ready.idle.unref();
    };
    conn.on('idle', armIdle);
    conn.on('busy', () => clearTimeout(ready.idle));
    conn.on('state', (s) => {
      if (s.t === 'ready') return;
      clearTimeout(ready.idle);
      this.#remove(key, (x) => x === ready);
      if (s.t === 'closed') this.#live.delete(conn);
    });
    // Waiters open right after this resolves; if none do, the idle timer still releases it.
    queueMicrotask(() => {
      if (conn.activeStreams === 0) armIdle();
    });
    return conn;
  }

  #remove(key: string, match: (e: Entry) => boolean): void {
    const list = this.#entries.get(key);
    if (!list) return;
    const i = list.findIndex(match);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#entries.delete(key);
  }

  #replace(key: string, match: (e: Entry) => boolean, next: Entry): void {
    const list = this.#entries.get(key);
    const i = list ? list.findIndex(match) : -1;
    if (list && i >= 0) list[i] = next;
    else this.#entries.set(key, [...(list ?? []), next]);
  }

  get stats(): PoolStats {
    let connecting = 0;
    for (const list of this.#entries.values()) for (const e of list) if (e.t === 'connecting') connecting++;
    return { connectionsOpened: this.#opened, connectionsLive: this.#live.size, connecting };
  }

  /**
   * Closes every connection gracefully (GOAWAY; open tunnels finish) and destroys what is still
   * open after `deadlineMs`. New opens are refused from now on.
   */
  async close(deadlineMs = 5000): Promise<void> {
    this.#closed = true;
    const conns = [...this.#live];
    const waits = conns.map(
      (conn) =>
        new Promise<void>((r) => {
          if (conn.state.t === 'closed') return r();
          conn.on('state', (s) => s.t === 'closed' && r());
          conn.close();
        }),
    );
    const deadline = setTimeout(() => {
      for (const conn of conns) conn.destroy();
    }, deadlineMs);
    await Promise.all(waits);
    clearTimeout(deadline);
  }
}

/** Tries of one open: the first, and the retries after refusals by connections going away. */
const OPEN_ATTEMPTS = 3;

/** Errors that prove the peer did not process the CONNECT, so sending it again is safe. */
function refusedUnprocessed(e: unknown): boolean {
  if (e instanceof StreamResetError) return e.http2Code === constants.NGHTTP2_REFUSED_STREAM;
  const code = (e as { code?: unknown } | undefined)?.code;
  return (
    code === 'ERR_ZT_HBONE_CONNECTION_CLOSED' ||
    code === 'ERR_HTTP2_GOAWAY_SESSION' ||
    code === 'ERR_HTTP2_INVALID_SESSION'
  );
}

function poolKey(req: TunnelRequest, defaultLocal: string | undefined): string {
  const ids = req.destinationIdentities;
  // Nearly every route expects one identity: no array to map and sort for each connection.
  const dst = ids.length === 1 ? String(ids[0]) : ids.map(String).sort().join(',');
  const addr = formatAuthority(req.address.address, req.address.port);
  return `${req.source}|${dst}|${addr}|${req.localAddress ?? defaultLocal ?? ''}|${req.dialer?.key ?? ''}`;
}

function pick(o: PoolOptions) {
  return {
    ...(o.tls12Enabled !== undefined ? { tls12Enabled: o.tls12Enabled } : {}),
    ...(o.flowControl ? { flowControl: o.flowControl } : {}),
    ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
    ...(o.pingIntervalMs !== undefined ? { pingIntervalMs: o.pingIntervalMs } : {}),
    ...(o.pingTimeoutMs !== undefined ? { pingTimeoutMs: o.pingTimeoutMs } : {}),
    ...(o.onSocket ? { onSocket: o.onSocket } : {}),
  };
}
