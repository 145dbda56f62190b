import {
  constants,
  createSecureServer,
  type Http2SecureServer,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Identity, WorkloadCertificate } from '@zt/identity';
import {
  ABUSE_LIMITS,
  classifySessionError,
  ERRORED_SESSION_GRACE_MS,
  HboneSessionError,
  MalformedStreamsError,
  StreamAudit,
} from './abuse.ts';
import { type HboneAuthority, parseHboneAuthority, type SocketAddress } from './authority.ts';
import {
  checkFlowControl,
  DEFAULT_FLOW_CONTROL,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  type FlowControl,
  PING_INTERVAL_MS,
  PING_TIMEOUT_MS,
  SERVER_MAX_CONCURRENT_STREAMS,
  SERVER_MAX_HEADER_LIST_SIZE,
} from './config.ts';
import { HboneError } from './errors.ts';
import { keepalive } from './keepalive.ts';
import { countTunnelOpened, metrics } from './metrics.ts';
import { HboneTunnel } from './stream.ts';
import { ALPN_H2, verifyClientIdentity } from './tls.ts';

/** The statuses upstream answers a CONNECT with. */
export type TunnelStatus = 200 | 400 | 401 | 503;

/** One inbound CONNECT, handed to `onTunnel`. Answer it exactly once with accept() or reject(). */
export interface InboundTunnel {
  /** The client's verified SPIFFE identity. */
  readonly peerIdentity: Identity;
  /** The identity whose certificate we presented (chosen by the local address). */
  readonly localIdentity: Identity;
  /**
   * The parsed `:authority`: where the client wants its bytes to go, an `ip:port` or, as upstream
   * accepts it, a service `hostname:port` (`'hostname' in authority`).
   */
  readonly authority: HboneAuthority;
  /** Our end of the TCP connection (the address the client dialed). */
  readonly local: SocketAddress;
  readonly remote: SocketAddress;
  readonly baggage: string | undefined;
  readonly forwarded: string | undefined;
  readonly traceparent: string | undefined;
  readonly headers: IncomingHttpHeaders;
  /** Sends 200 and returns the tunnel's byte stream (END_STREAM <-> end()). */
  accept(headers?: OutgoingHttpHeaders): HboneTunnel;
  /** Sends `status` (400 bad request, 401 denied by policy, 503 upstream unreachable) and ends. */
  reject(status: Exclude<TunnelStatus, 200>, headers?: OutgoingHttpHeaders): void;
}

export interface HboneServerOptions {
  /** The certificate to present on a connection that arrived at `local` (the destination). */
  certificateFor(local: SocketAddress): Promise<WorkloadCertificate>;
  onTunnel(tunnel: InboundTunnel): void;
  /** Accept TLS 1.2 too (upstream TLS12_ENABLED). Default TLS 1.3 only. */
  tls12Enabled?: boolean;
  flowControl?: Partial<FlowControl>;
  maxConcurrentStreams?: number;
  handshakeTimeoutMs?: number;
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  /**
   * Rejected connections and streams and sessions closed for what the peer sent, for the caller's
   * log (one line each). `reason` is the label they were counted under.
   */
  onError?(error: Error, remote: SocketAddress | undefined, reason: string): void;
}

interface ConnMeta {
  peer: Identity;
  localIdentity: Identity;
  local: SocketAddress;
  remote: SocketAddress;
}

/**
 * The HBONE server: mTLS (client certificate required, SPIFFE identity in our trust domain),
 * ALPN h2, HTTP/2 CONNECT only. The certificate is chosen per connection by its local address,
 * which SNI cannot do (clients dial IPs and send none). So each certificate gets its own
 * HTTP/2 secure server that never listens, and an accepted socket is injected into the one whose
 * certificate `certificateFor` picked; Node then does TLS, client verification and HTTP/2 as usual.
 */
export class HboneServer {
  readonly #opts: HboneServerOptions;
  readonly #fc: FlowControl;
  readonly #servers = new WeakMap<WorkloadCertificate, Http2SecureServer>();
  readonly #meta = new WeakMap<ServerHttp2Session, ConnMeta>();
  readonly #audits = new Map<ServerHttp2Session, StreamAudit>();
  #auditTimer: NodeJS.Timeout | undefined;
  readonly #sessions = new Set<ServerHttp2Session>();
  readonly #handshaking = new Set<Socket>();
  /** Sockets handed to the TLS server after close() began, until they close. */
  readonly #lateHandshakes = new Set<Socket>();
  /** The TLS sockets under live sessions: a destroyed session may leave its socket open (below). */
  readonly #tlsSockets = new Set<Socket>();
  readonly #owned: NetServer[] = [];
  readonly #attached = new Map<NetServer, (s: Socket) => void>();
  #closing = false;

  constructor(options: HboneServerOptions) {
    this.#opts = options;
    this.#fc = checkFlowControl({ ...DEFAULT_FLOW_CONTROL, ...options.flowControl });
  }

  /** Listens on a socket of our own (tests, standalone programs). */
  async listen(port = 0, host = '127.0.0.1'): Promise<SocketAddress> {
    const server = createNetServer({ noDelay: true });
    this.#owned.push(server);
    this.attach(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('unexpected listener address');
    return { address: addr.address, port: addr.port };
  }

  /** Serves the connections of a listener the caller owns (per-pod, reusePort...). */
  attach(server: NetServer): void {
    const listener = (s: Socket) => this.handle(s);
    this.#attached.set(server, listener);
    server.on('connection', listener);
  }

  /** Serves one accepted TCP connection. */
  handle(socket: Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    const local: SocketAddress = { address: socket.localAddress ?? '', port: socket.localPort ?? 0 };
    socket.setNoDelay(true);
    this.#handshaking.add(socket);
    socket.once('close', () => this.#handshaking.delete(socket));
    const onEarlyError = (e: Error) => this.#fail('socket', e, socket);
    socket.on('error', onEarlyError);
    this.#opts.certificateFor(local).then(
      (cert) => {
        if (socket.destroyed) return;
        socket.off('error', onEarlyError);
        // From here the TLS server owns it: its handshakeTimeout and tlsClientError take over, and
        // a session that completes during close() is refused with GOAWAY in #onSession. Until it
        // closes, close()'s deadline may still destroy it.
        this.#handshaking.delete(socket);
        if (this.#closing) {
          this.#lateHandshakes.add(socket);
          socket.once('close', () => this.#lateHandshakes.delete(socket));
        }
        this.#serverFor(cert).emit('connection', socket);
      },
      (e: unknown) => this.#fail('certificate', e instanceof Error ? e : new Error(String(e)), socket),
    );
  }

  #fail(reason: string, err: Error, socket: Socket | undefined): void {
    metrics.connectionsFailed.inc({ side: 'server', reason });
    const remote = socket ? { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 } : undefined;
    this.#opts.onError?.(err, remote, reason);
    socket?.destroy();
  }

  #serverFor(cert: WorkloadCertificate): Http2SecureServer {
    const existing = this.#servers.get(cert);
    if (existing) return existing;
    const server = createSecureServer({
      cert: cert.certChain.join('\n'),
      key: cert.privateKey,
      ca: [...cert.roots],
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: this.#opts.tls12Enabled ? 'TLSv1.2' : 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      ALPNProtocols: ALPN_H2,
      allowHTTP1: false,
      handshakeTimeout: this.#opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      unknownProtocolTimeout: 1000,
      settings: {
        maxConcurrentStreams: this.#opts.maxConcurrentStreams ?? SERVER_MAX_CONCURRENT_STREAMS,
        maxHeaderListSize: SERVER_MAX_HEADER_LIST_SIZE,
        initialWindowSize: this.#fc.streamWindowSize,
        maxFrameSize: this.#fc.frameSize,
        enablePush: false,
      },
      // Node counts buffered frames against this (MB); large windows need more than the 10 MB default.
      ...ABUSE_LIMITS,
      maxSessionMemory: Math.max(10, Math.ceil((this.#fc.connectionWindowSize * 4) / 1e6)),
    });
    server.on('tlsClientError', (e, s) => this.#fail('tls', e, s));
    server.on('secureConnection', (tls: Socket) => {
      this.#tlsSockets.add(tls);
      tls.once('close', () => this.#tlsSockets.delete(tls));
    });
    server.on('unknownProtocol', (s) => {
      this.#fail('alpn', new HboneError('ERR_ZT_HBONE_ALPN', 'HBONE client did not negotiate ALPN h2'), s);
    });
    server.on('session', (session) => this.#onSession(session, cert));
    server.on('stream', (stream, headers) => this.#onStream(stream, headers));
    this.#servers.set(cert, server);
    return server;
  }

  #onSession(session: ServerHttp2Session, cert: WorkloadCertificate): void {
    const socket = session.socket as TLSSocket;
    const local = { address: socket.localAddress ?? '', port: socket.localPort ?? 0 };
    const remote = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    if (this.#closing) {
      // A client whose handshake was under way when drain began: GOAWAY before any stream, so
      // its CONNECT is refused unprocessed and a pool sends it again elsewhere (the next zt of a
      // hand-off), where a reset handshake would have failed its connection.
      session.on('error', () => {});
      session.close();
      // A client that never closes after the GOAWAY does not keep it open.
      setTimeout(() => socket.destroy(), ERRORED_SESSION_GRACE_MS).unref();
      return;
    }
    let peer: Identity;
    try {
      peer = verifyClientIdentity(socket, cert.identity.trustDomain);
    } catch (e) {
      metrics.connectionsFailed.inc({ side: 'server', reason: 'identity' });
      this.#opts.onError?.(e as Error, remote, 'identity');
      session.destroy();
      return;
    }
    this.#meta.set(session, { peer, localIdentity: cert.identity, local, remote });
    this.#sessions.add(session);
    metrics.connectionsOpened.inc({ side: 'server' });
    metrics.connectionsLive.inc({ side: 'server' });
    session.on('error', (e) => this.#onSessionError(session, e, remote));
    const audit = new StreamAudit();
    this.#audits.set(session, audit);
    this.#auditTimer ??= setInterval(() => this.#sweep(), 1000).unref();
    session.once('close', () => {
      this.#sessions.delete(session);
      this.#audits.delete(session);
      this.#reportLost(audit.sweep(session, true), remote);
      if (this.#audits.size === 0) {
        clearInterval(this.#auditTimer);
        this.#auditTimer = undefined;
      }
      metrics.connectionsLive.dec({ side: 'server' });
    });
    if (this.#fc.connectionWindowSize > 65_535) session.setLocalWindowSize(this.#fc.connectionWindowSize);
    keepalive(
      session,
      this.#opts.pingIntervalMs ?? PING_INTERVAL_MS,
      this.#opts.pingTimeoutMs ?? PING_TIMEOUT_MS,
    );
  }

  /** One count and one report per errored session; its socket goes even if the peer does not read. */
  #onSessionError(session: ServerHttp2Session, err: Error, remote: SocketAddress): void {
    const reason = classifySessionError(err);
    metrics.connectionsFailed.inc({ side: 'server', reason });
    this.#opts.onError?.(new HboneSessionError(reason, err), remote, reason);
    const socket = session.socket;
    if (socket && !socket.destroyed) setTimeout(() => socket.destroy(), ERRORED_SESSION_GRACE_MS).unref();
  }

  #sweep(): void {
    for (const [session, audit] of this.#audits) {
      const meta = this.#meta.get(session);
      this.#reportLost(audit.sweep(session), meta?.remote);
    }
  }

  #reportLost(lost: number, remote: SocketAddress | undefined): void {
    if (lost <= 0) return;
    metrics.tunnelsFailed.inc({ side: 'server', reason: 'malformed' }, lost);
    this.#opts.onError?.(new MalformedStreamsError(lost), remote, 'malformed');
  }

  #onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const session = stream.session as ServerHttp2Session | undefined;
    if (session) this.#audits.get(session)?.delivered(stream.id);
    const meta = session ? this.#meta.get(session) : undefined;
    stream.on('error', () => {
      // Reset by the peer or destroyed; the caller sees it through the stream it accepted.
    });
    if (!meta) {
      stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    const method = headers[':method'];
    if (method !== 'CONNECT') {
      this.#refuse(stream, 405, 'method', `HBONE accepts CONNECT only, got ${method}`, meta);
      return;
    }
    const rawAuthority = headers[':authority'] ?? '';
    let authority: HboneAuthority;
    try {
      authority = parseHboneAuthority(rawAuthority);
    } catch (e) {
      this.#refuse(stream, 400, 'authority', (e as Error).message, meta);
      return;
    }
    let answered = false;
    const once = () => {
      if (answered) throw new HboneError('ERR_ZT_HBONE_ANSWERED', 'this HBONE tunnel was already answered');
      answered = true;
    };
    const tunnel: InboundTunnel = {
      peerIdentity: meta.peer,
      localIdentity: meta.localIdentity,
      authority,
      local: meta.local,
      remote: meta.remote,
      baggage: str(headers['baggage']),
      forwarded: str(headers['forwarded']),
      traceparent: str(headers['traceparent']),
      headers,
      accept: (extra) => {
        once();
        countTunnelOpened('server');
        stream.respond({ ...extra, ':status': 200 });
        return new HboneTunnel(stream);
      },
      reject: (status, extra) => {
        once();
        metrics.tunnelsFailed.inc({ side: 'server', reason: String(status) });
        if (!stream.destroyed) stream.respond({ ...extra, ':status': status }, { endStream: true });
      },
    };
    try {
      this.#opts.onTunnel(tunnel);
    } catch (e) {
      this.#opts.onError?.(e as Error, meta.remote, 'internal');
      if (!answered) tunnel.reject(503);
    }
  }

  #refuse(stream: ServerHttp2Stream, status: number, reason: string, message: string, meta: ConnMeta) {
    metrics.tunnelsFailed.inc({ side: 'server', reason });
    this.#opts.onError?.(new HboneError('ERR_ZT_HBONE_BAD_REQUEST', message), meta.remote, reason);
    if (!stream.destroyed) stream.respond({ ':status': status }, { endStream: true });
  }

  get stats(): { sessions: number; handshaking: number } {
    return { sessions: this.#sessions.size, handshaking: this.#handshaking.size };
  }

  /**
   * Drain: stop accepting, send GOAWAY on every connection, let open tunnels finish, and destroy
   * what is still open after `deadlineMs`.
   */
  async close(deadlineMs = 5000): Promise<void> {
    this.#closing = true;
    for (const [server, listener] of this.#attached) server.off('connection', listener);
    this.#attached.clear();
    const listenersClosed = this.#owned.map((s) => new Promise<void>((r) => s.close(() => r())));
    const sessionsClosed = [...this.#sessions].map(
      (s) =>
        new Promise<void>((r) => {
          if (s.destroyed) return r();
          s.once('close', () => r());
          s.close();
        }),
    );
    const deadline = setTimeout(() => {
      for (const s of this.#sessions) s.destroy();
      // A destroyed session only ends its socket, and emits 'close' once that end has flushed: to
      // a peer that stopped reading it never does, and close() would wait for ever (seen with an
      // east-west gateway whose client zt held its pooled connection). Past the deadline, the
      // sockets go too.
      for (const t of this.#tlsSockets) t.destroy();
      // Handshakes still under way (drain lets them finish, see handle()) go too.
      for (const h of [...this.#handshaking, ...this.#lateHandshakes]) h.destroy();
    }, deadlineMs);
    await Promise.all([...sessionsClosed, ...listenersClosed]);
    clearTimeout(deadline);
  }
}

function str(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}
