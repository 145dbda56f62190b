import { EventEmitter } from 'node:events';
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  constants,
  connect as h2connect,
  type OutgoingHttpHeaders,
} from 'node:http2';
import { Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { Identity, WorkloadCertificate } from '@zt/identity';
import { AlwaysReading } from './always-reading.ts';
import { formatAuthority, type SocketAddress } from './authority.ts';
import {
  CLIENT_MAX_HEADER_LIST_SIZE,
  checkFlowControl,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_FLOW_CONTROL,
  DEFAULT_POOL_MAX_STREAMS_PER_CONNECTION,
  type FlowControl,
  PING_INTERVAL_MS,
  PING_TIMEOUT_MS,
  STALL_FREE_WINDOW,
} from './config.ts';
import type { Dialer } from './dialer.ts';
import {
  ConnectTimeoutError,
  HboneConnectError,
  HboneConnectionError,
  HboneError,
  StreamResetError,
} from './errors.ts';
import { keepalive } from './keepalive.ts';
import { countTunnelOpened, metrics } from './metrics.ts';
import { HboneTunnel } from './stream.ts';
import { ALPN_H2, checkServerIdentity, secureContextFor, spiffeIdentities } from './tls.ts';

/** Where a client connection is in its life; `draining` means GOAWAY: no new tunnels. */
export type ConnectionState =
  | { readonly t: 'connecting' }
  | { readonly t: 'ready' }
  | { readonly t: 'draining'; readonly reason: string }
  | { readonly t: 'closed'; readonly error?: Error };

export interface DialOptions {
  /** Our certificate (the source workload's identity). */
  certificate: WorkloadCertificate;
  /** The server's URI SAN must be one of these. */
  expectedIdentities: readonly Identity[];
  /** The peer proxy, normally <destination or waypoint IP>:15008. */
  address: SocketAddress;
  /** Bind outgoing sockets to this local IP. */
  localAddress?: string;
  /** Opens the TCP connection instead of a plain connect (in-pod: from the pod's namespace). */
  dialer?: Dialer;
  /**
   * Called with the TCP socket once it is connected, before TLS starts (not when the dialer gives
   * another kind of stream): where the caller sets socket options, e.g. TCP keepalive, which
   * upstream puts on every socket it dials. Must not throw.
   */
  onSocket?: (socket: Socket) => void;
  tls12Enabled?: boolean;
  flowControl?: Partial<FlowControl>;
  connectTimeoutMs?: number;
  /** At most this many tunnels at once, and never more than the peer's SETTINGS allow. */
  maxStreams?: number;
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
}

export interface OpenOptions {
  /** `:authority`, `ip:port` of the final destination. */
  authority: string;
  /** Extra request headers: baggage, forwarded, traceparent... */
  headers?: OutgoingHttpHeaders;
}

/** One mTLS HTTP/2 connection to a peer proxy, carrying many CONNECT tunnels. */
export class HboneConnection extends EventEmitter<{ state: [ConnectionState]; idle: []; busy: [] }> {
  readonly address: SocketAddress;
  readonly peerIdentity: Identity;
  readonly #session: ClientHttp2Session;
  readonly #socket: { destroy(error?: Error): void };
  readonly #maxStreams: number;
  #state: ConnectionState = { t: 'ready' };
  #active = 0;

  private constructor(
    session: ClientHttp2Session,
    socket: { destroy(error?: Error): void },
    peer: Identity,
    opts: DialOptions,
  ) {
    super();
    this.#session = session;
    this.#socket = socket;
    this.address = opts.address;
    this.peerIdentity = peer;
    this.#maxStreams = opts.maxStreams ?? DEFAULT_POOL_MAX_STREAMS_PER_CONNECTION;
    metrics.connectionsOpened.inc({ side: 'client' });
    metrics.connectionsLive.inc({ side: 'client' });
    session.on('goaway', (code) => this.#setState({ t: 'draining', reason: `GOAWAY (code ${code})` }));
    session.on('error', (e) => this.#setState({ t: 'closed', error: e }));
    session.once('close', () => {
      metrics.connectionsLive.dec({ side: 'client' });
      this.#setState({ t: 'closed' });
    });
  }

  /** TCP, TLS (our certificate, their identity checked) and the HTTP/2 preface. */
  static async dial(opts: DialOptions): Promise<HboneConnection> {
    const where = formatAuthority(opts.address.address, opts.address.port);
    const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const fc = checkFlowControl({ ...DEFAULT_FLOW_CONTROL, ...opts.flowControl });
    let tls: TLSSocket | undefined;
    try {
      const started = Date.now();
      const raw = opts.dialer
        ? await withTimeout(
            opts.dialer.connect(opts.address),
            timeoutMs,
            () => new ConnectTimeoutError(where, timeoutMs),
          )
        : undefined;
      if (raw instanceof Socket) opts.onSocket?.(raw);
      tls = await new Promise<TLSSocket>((resolve, reject) => {
        const s = tlsConnect({
          ...(raw
            ? { socket: raw }
            : {
                host: opts.address.address,
                port: opts.address.port,
                ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
              }),
          secureContext: secureContextFor(opts.certificate, opts.tls12Enabled ?? false),
          ALPNProtocols: ALPN_H2,
          checkServerIdentity: checkServerIdentity(opts.expectedIdentities),
          rejectUnauthorized: true,
        });
        s.setNoDelay(true);
        const onSocket = opts.onSocket;
        // The TLS socket is the TCP socket here: its options can be set once it connects.
        if (!raw && onSocket) s.once('connect', () => onSocket(s));
        tls = s;
        const timer = setTimeout(
          () => {
            reject(new ConnectTimeoutError(where, timeoutMs));
            s.destroy();
          },
          Math.max(0, timeoutMs - (Date.now() - started)),
        );
        s.once('secureConnect', () => {
          clearTimeout(timer);
          s.off('error', reject);
          resolve(s);
        });
        s.once('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
      });
      if (tls.alpnProtocol !== 'h2') {
        throw new HboneError('ERR_ZT_HBONE_ALPN', `${where} did not negotiate ALPN h2; is it an HBONE port?`);
      }
      const peer = spiffeIdentities(tls.getPeerCertificate()).find((id) =>
        opts.expectedIdentities.some((e) => e.equals(id)),
      );
      if (!peer) throw new HboneError('ERR_ZT_HBONE_PEER_IDENTITY', `${where}: no expected identity`);
      const socket = tls;
      const session = h2connect(`https://${where}`, {
        // See AlwaysReading: with a small receive window the peer can always finish its writes.
        createConnection: () =>
          fc.connectionWindowSize > STALL_FREE_WINDOW ? new AlwaysReading(socket) : socket,
        settings: {
          enablePush: false,
          initialWindowSize: fc.streamWindowSize,
          maxFrameSize: fc.frameSize,
          maxHeaderListSize: CLIENT_MAX_HEADER_LIST_SIZE,
        },
        peerMaxConcurrentStreams: opts.maxStreams ?? DEFAULT_POOL_MAX_STREAMS_PER_CONNECTION,
        maxSessionMemory: Math.max(10, Math.ceil((fc.connectionWindowSize * 4) / 1e6)),
      });
      // Session errors are observed by the HboneConnection (its state turns closed with the error);
      // this listener only keeps one emitted before that from being an unhandled 'error'.
      session.on('error', () => {});
      if (fc.connectionWindowSize > 65_535) session.setLocalWindowSize(fc.connectionWindowSize);
      keepalive(session, opts.pingIntervalMs ?? PING_INTERVAL_MS, opts.pingTimeoutMs ?? PING_TIMEOUT_MS);
      return new HboneConnection(session, socket, peer, opts);
    } catch (e) {
      tls?.destroy();
      const err = e instanceof HboneError ? e : new HboneConnectionError(where, e);
      metrics.connectionsFailed.inc({ side: 'client', reason: err.code });
      throw err;
    }
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Tunnels open or opening on this connection. */
  get activeStreams(): number {
    return this.#active;
  }

  /** Our limit, lowered to the peer's SETTINGS_MAX_CONCURRENT_STREAMS once it is known. */
  get maxStreams(): number {
    const peer = this.#session.remoteSettings?.maxConcurrentStreams;
    return Math.min(this.#maxStreams, peer ?? Number.POSITIVE_INFINITY);
  }

  /** True when one more tunnel may be opened now. */
  get available(): boolean {
    return this.#state.t === 'ready' && this.#active < this.maxStreams;
  }

  /**
   * Sends CONNECT and resolves with the tunnel once the peer answers 200. Any other status rejects
   * with HboneConnectError carrying it. The slot is taken synchronously, so a caller may check
   * `available` and open in the same tick without overcommitting.
   */
  open(options: OpenOptions): Promise<HboneTunnel> {
    if (this.#state.t !== 'ready') {
      return Promise.reject(
        new HboneError('ERR_ZT_HBONE_CONNECTION_CLOSED', 'HBONE connection is not usable'),
      );
    }
    this.#active++;
    if (this.#active === 1) this.emit('busy');
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#active--;
      if (this.#active === 0) this.emit('idle');
    };
    let stream: ClientHttp2Stream;
    try {
      stream = this.#session.request(
        { ...options.headers, ':method': 'CONNECT', ':authority': options.authority },
        { endStream: false },
      );
    } catch (e) {
      release();
      return Promise.reject(e);
    }
    // on() for events that fire once anyway: once() keeps a wrapper per listener for the tunnel's life.
    stream.on('close', release);
    return new Promise<HboneTunnel>((resolve, reject) => {
      let settled = false;
      const onError = (e: Error) => {
        if (settled) return;
        settled = true;
        metrics.tunnelsFailed.inc({ side: 'client', reason: 'reset' });
        reject(new StreamResetError(stream.rstCode ?? constants.NGHTTP2_INTERNAL_ERROR, e.message));
      };
      stream.on('error', onError);
      stream.on('close', () =>
        onError(new Error('the connection closed before the peer answered the CONNECT')),
      );
      stream.on('response', (headers) => {
        if (settled) return;
        settled = true;
        stream.off('error', onError);
        const status = Number(headers[':status']);
        if (status === 200) {
          countTunnelOpened('client');
          resolve(new HboneTunnel(stream, headers));
          return;
        }
        metrics.tunnelsFailed.inc({ side: 'client', reason: String(status) });
        stream.close(constants.NGHTTP2_NO_ERROR);
        reject(new HboneConnectError(status, options.authority));
      });
    });
  }

  /** GOAWAY: open tunnels finish, no new ones. */
  close(): void {
    if (this.#state.t === 'ready') this.#setState({ t: 'draining', reason: 'closed by us' });
    if (!this.#session.closed) this.#session.close();
  }

  /**
   * Now, not gracefully. A destroyed session only ends its socket and waits for that end to flush,
   * which to a peer that stopped reading never happens: the socket goes as well.
   */
  destroy(error?: Error): void {
    this.#session.destroy(error);
    this.#socket.destroy();
  }

  #setState(next: ConnectionState): void {
    if (this.#state.t === 'closed') return;
    if (next.t === 'draining' && this.#state.t === 'draining') return;
    this.#state = next;
    this.emit('state', next);
  }
}

/** `p`, or the error `onTimeout` makes once `ms` have passed; a socket that arrives late is closed. */
function withTimeout<T extends { destroy(): void }>(
  p: Promise<T>,
  ms: number,
  onTimeout: () => Error,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(onTimeout());
    }, ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        if (late) v.destroy();
        else resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
