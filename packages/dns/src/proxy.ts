import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server } from 'node:net';
import type { Logger } from '@zt/log';
import type { Answer } from 'dns-packet';
import { DnsForwardError, DnsListenError, DnsNetnsUnsupportedError, hostPort } from './errors.ts';
import type { Forwarder, ForwarderDump } from './forwarder.ts';
import { type DnsLimits, PerSourceCount, resolveLimits, SourceRateLimiter, WarnThrottle } from './limits.ts';
import { type AddressType, type MeshAnswer, MeshLookup } from './lookup.ts';
import {
  encodeResponse,
  errorResponse,
  headerOnly,
  parseQuery,
  type Query,
  RCODE,
  type RejectReason,
  udpLimit,
} from './message.ts';
import { type DnsLabels, type DnsMetrics, dnsMetrics } from './metrics.ts';
import type { DnsClient, DnsStateView } from './state.ts';
import { serveTcp, TcpConnections } from './tcp.ts';
import { serveUdp } from './udp.ts';

/** The part of a @zt/log logger the proxy uses (give it a scope's logger, e.g. `logging.scope('dns')`). */
export type DnsLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error' | 'isLevelEnabled'>;

/**
 * Binds sockets inside another network namespace (in-pod mode): core provides it over @zt/native.
 * Each resolves once the socket is bound (UDP) or listening (TCP).
 */
export interface DnsBind {
  udp(socket: UdpSocket, o: { host: string; port: number; netns: string }): Promise<void>;
  tcp(server: Server, o: { host: string; port: number; netns: string }): Promise<void>;
}

export interface DnsProxyOptions {
  /** The current workload state; called per query (it is replaced on every xDS update). */
  state: () => DnsStateView;
  forwarder: Forwarder;
  logger: DnsLogger;
  /** Default: dnsMetrics(), in @zt/metrics' registry. */
  metrics?: DnsMetrics;
  limits?: Partial<DnsLimits>;
  /** The cluster's DNS domain (upstream's CLUSTER_DOMAIN), default `cluster.local`. */
  clusterDomain?: string;
  /** Network of clients found by source address (upstream's NETWORK), default ''. */
  network?: string;
  /** Upstream's PREFERED_SERVICE_NAMESPACE. */
  preferredServiceNamespace?: string;
  /** false: AAAA for mesh names answers empty (upstream's IPV6_ENABLED). Default true. */
  ipv6Enabled?: boolean;
  /**
   * A query from an address no workload has: `servfail` (default, as upstream, whose per-pod
   * proxy always knows its client) or `forward` (a node-level proxy serving non-mesh processes).
   */
  unknownClients?: 'servfail' | 'forward';
  /** Needed to listen inside a network namespace. */
  bind?: DnsBind;
}

export interface DnsListenOptions {
  /** Numeric IP to bind ('127.0.0.1', '::1', '0.0.0.0'). */
  host: string;
  /** 0 picks a free port, the same for UDP and TCP. */
  port: number;
  /** Bind inside this network namespace (needs DnsProxyOptions.bind). */
  netns?: string;
  /**
   * The workload (uid) every query on this listener comes from: in-pod mode serves one pod per
   * listener, as upstream, whatever the source address. Unset: found by source address.
   */
  client?: string;
  /** SO_REUSEPORT on both sockets (one listener per worker thread). */
  reusePort?: boolean;
}

export interface BoundAddress {
  address: string;
  port: number;
}

export interface DnsListener {
  readonly udp: BoundAddress;
  readonly tcp: BoundAddress;
  readonly netns?: string;
  readonly client?: string;
  /** Stops this listener; its TCP connections are closed. */
  close(): Promise<void>;
}

export interface QueryContext {
  protocol: 'udp' | 'tcp';
  source: { address: string; port: number };
  /** Workload uid the query is attributed to, whatever its source (a per-pod listener's). */
  client?: string;
}

/** What `dump()` returns; config_dump's DNS part (upstream's dnsProxy / dnsResolverCfg / dnsResolverOpts). */
export interface DnsDump extends ForwarderDump {
  dnsProxy: true;
  dnsProxyAddr: string[];
  clusterDomain: string;
  listeners: Array<{ udp: string; tcp: string; netns?: string; client?: string }>;
  limits: DnsLimits;
  inFlight: { forwards: number; tcpConnections: number };
}

const TTL = 30;
const MAX_TCP_MESSAGE = 0xffff;

interface ListenerEntry {
  listener: DnsListener;
  udp: UdpSocket;
  tcp: Server;
}

/**
 * The DNS proxy: A/AAAA queries for mesh names are answered from the workload state, everything
 * else is forwarded. One instance serves any number of listeners (node-level, or one per pod).
 */
export class DnsProxy {
  readonly #state: () => DnsStateView;
  readonly #forwarder: Forwarder;
  readonly #log: DnsLogger;
  readonly #metrics: DnsMetrics;
  readonly #limits: DnsLimits;
  readonly #mesh: MeshLookup;
  readonly #network: string;
  readonly #unknown: 'servfail' | 'forward';
  readonly #bind: DnsBind | undefined;
  readonly #rate: SourceRateLimiter;
  readonly #forwardsBySource = new PerSourceCount();
  readonly #tcp = new TcpConnections();
  readonly #warn = new WarnThrottle();
  readonly #listeners = new Set<ListenerEntry>();
  readonly #abort = new AbortController();
  #forwards = 0;
  #closed = false;

  constructor(o: DnsProxyOptions) {
    this.#state = o.state;
    this.#forwarder = o.forwarder;
    this.#log = o.logger;
    this.#metrics = o.metrics ?? dnsMetrics();
    this.#limits = resolveLimits(o.limits);
    this.#mesh = new MeshLookup({
      clusterDomain: o.clusterDomain ?? 'cluster.local',
      ...(o.preferredServiceNamespace ? { preferredServiceNamespace: o.preferredServiceNamespace } : {}),
      ipv6Enabled: o.ipv6Enabled ?? true,
    });
    this.#network = o.network ?? '';
    this.#unknown = o.unknownClients ?? 'servfail';
    this.#bind = o.bind;
    this.#rate = new SourceRateLimiter(
      this.#limits.queriesPerSecondPerSource,
      this.#limits.maxTrackedSources,
    );
  }

  /** Binds UDP and TCP on one address (inside `netns` when given). */
  async listen(o: DnsListenOptions): Promise<DnsListener> {
    if (this.#closed) throw new DnsListenError('udp', o.host, o.port, new Error('the DNS proxy is closed'));
    if (o.netns !== undefined && !this.#bind) throw new DnsNetnsUnsupportedError(o.netns);
    // Port 0: UDP picks a port, TCP takes the same one (a client retrying over TCP after TC uses
    // the same address); if TCP finds it taken, start over.
    const attempts = o.port === 0 ? 8 : 1;
    let lastError: unknown;
    for (let i = 0; i < attempts; i++) {
      const udp = await this.#bindUdp(o, o.port);
      const port = udp.address().port;
      try {
        const tcp = await this.#listenTcp(o, port);
        return this.#register(o, udp, tcp);
      } catch (e) {
        udp.close();
        lastError = e;
        if (!(e instanceof DnsListenError && (e.cause as NodeJS.ErrnoException)?.code === 'EADDRINUSE'))
          break;
      }
    }
    throw lastError;
  }

  async #bindUdp(o: DnsListenOptions, port: number): Promise<UdpSocket> {
    const socket = createSocket({
      type: isIPv6(o.host) ? 'udp6' : 'udp4',
      ...(o.reusePort ? { reuseAddr: true, reusePort: true } : {}),
    });
    try {
      if (o.netns !== undefined && this.#bind) {
        await this.#bind.udp(socket, { host: o.host, port, netns: o.netns });
      } else {
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind({ address: o.host, port }, () => {
            socket.off('error', reject);
            resolve();
          });
        });
      }
    } catch (e) {
      try {
        socket.close();
      } catch {
        // Never bound.
      }
      throw new DnsListenError('udp', o.host, port, e);
    }
    return socket;
  }

  async #listenTcp(o: DnsListenOptions, port: number): Promise<Server> {
    const server = createServer({ noDelay: true, allowHalfOpen: true });
    try {
      if (o.netns !== undefined && this.#bind) {
        await this.#bind.tcp(server, { host: o.host, port, netns: o.netns });
      } else {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: o.host, port, ...(o.reusePort ? { reusePort: true } : {}) }, () => {
            server.off('error', reject);
            resolve();
          });
        });
      }
    } catch (e) {
      server.close();
      throw new DnsListenError('tcp', o.host, port, e);
    }
    return server;
  }

  #register(o: DnsListenOptions, udp: UdpSocket, tcp: Server): DnsListener {
    const ua = udp.address();
    const ta = tcp.address();
    const tcpAddr =
      ta && typeof ta === 'object' ? { address: ta.address, port: ta.port } : { address: o.host, port: 0 };
    const pinned = o.client;
    const answer = (msg: Buffer, protocol: 'udp' | 'tcp', source: { address: string; port: number }) =>
      this.handle(msg, { protocol, source, ...(pinned !== undefined ? { client: pinned } : {}) });
    serveUdp(udp, {
      answer: (msg, source) => answer(msg, 'udp', source),
      socketError: (err) =>
        this.#log.warn({ err, address: hostPort(ua.address, ua.port) }, 'DNS UDP socket error'),
    });
    serveTcp(
      tcp,
      {
        answer: (msg, source) => answer(msg, 'tcp', source),
        reject: (reason, detail, source, protocol) => this.#reject(reason, detail, source, protocol),
      },
      this.#limits,
      this.#tcp,
      pinned,
    );
    tcp.on('error', (err) =>
      this.#log.warn({ err, address: hostPort(tcpAddr.address, tcpAddr.port) }, 'DNS TCP listener error'),
    );
    let closed = false;
    const entry: ListenerEntry = {
      udp,
      tcp,
      listener: {
        udp: { address: ua.address, port: ua.port },
        tcp: tcpAddr,
        ...(o.netns !== undefined ? { netns: o.netns } : {}),
        ...(pinned !== undefined ? { client: pinned } : {}),
        close: async () => {
          if (closed) return;
          closed = true;
          this.#listeners.delete(entry);
          await closeSockets(udp, tcp, this.#tcp);
        },
      },
    };
    this.#listeners.add(entry);
    this.#log.info(
      {
        udp: hostPort(ua.address, ua.port),
        tcp: hostPort(tcpAddr.address, tcpAddr.port),
        ...(o.netns !== undefined ? { netns: o.netns } : {}),
        component: 'dns',
      },
      'starting local DNS server',
    );
    return entry.listener;
  }

  /**
   * Answers one message as a listener would: the response to send back, or undefined when nothing
   * should be sent (unreadable, a response, rate limited over UDP). Never throws.
   */
  async handle(msg: Buffer, ctx: QueryContext): Promise<Buffer | undefined> {
    try {
      return await this.#handle(msg, ctx);
    } catch (err) {
      // A defect (say, an address in the state dns-packet cannot encode): logged, nothing sent.
      this.#log.error({ err, source: ctx.source.address, protocol: ctx.protocol }, 'DNS query failed');
      return undefined;
    }
  }

  async #handle(msg: Buffer, ctx: QueryContext): Promise<Buffer | undefined> {
    const started = performance.now();
    const source = ctx.source.address;
    if (!this.#rate.take(sourceKey(ctx))) {
      this.#reject(
        'rate_limited',
        `over ${this.#limits.queriesPerSecondPerSource} queries/s`,
        source,
        ctx.protocol,
      );
      // Over TCP the peer is real (handshake done): tell it. Over UDP a reply could be reflected.
      return ctx.protocol === 'tcp' && msg.length >= 12
        ? headerOnly(msg.readUInt16BE(0), msg.readUInt16BE(2), RCODE.REFUSED)
        : undefined;
    }
    const parsed = parseQuery(msg);
    if (parsed.rejection) {
      const r = parsed.rejection;
      this.#reject(r.reason, r.detail, source, ctx.protocol);
      return r.reply;
    }
    const q = parsed.query;
    const maxSize = ctx.protocol === 'udp' ? udpLimit(q, this.#limits.maxUdpPayload) : MAX_TCP_MESSAGE;
    let state: DnsStateView;
    let client: DnsClient | undefined;
    try {
      state = this.#state();
      client =
        ctx.client !== undefined
          ? state.clientByUid(ctx.client)
          : state.clientByAddress(this.#network, source);
    } catch (err) {
      this.#log.error({ err }, 'DNS state unavailable');
      return errorResponse(q, RCODE.SERVFAIL);
    }
    const labels = this.#labels(q, ctx.protocol, client);
    if (!client && this.#unknown === 'servfail') {
      this.#metrics.requests.inc(labels);
      this.#access(q, ctx, undefined, 'unknown source', 0, started);
      return errorResponse(q, RCODE.SERVFAIL);
    }
    const type = q.question.type;
    if (client && q.plainName && (type === 'A' || type === 'AAAA') && (q.question.class ?? 'IN') === 'IN') {
      let found: MeshAnswer | undefined;
      try {
        found = this.#mesh.lookup(state, client, q.name, type, this.#forwarder.searchDomains(client));
      } catch (err) {
        this.#log.error({ err, name: q.name }, 'DNS mesh lookup failed');
        return errorResponse(q, RCODE.SERVFAIL);
      }
      if (found) {
        this.#metrics.requests.inc(labels);
        const answers = meshRecords(q, found, type);
        this.#access(q, ctx, client, found.result, found.addresses.length, started);
        return encodeResponse(q, { rcode: RCODE.NOERROR, authoritative: true, answers }, maxSize);
      }
    }
    return this.#forward(msg, q, ctx, client, labels, maxSize, started);
  }

  async #forward(
    msg: Buffer,
    q: Query,
    ctx: QueryContext,
    client: DnsClient | undefined,
    labels: DnsLabels,
    maxSize: number,
    started: number,
  ): Promise<Buffer> {
    const source = ctx.source.address;
    const key = sourceKey(ctx);
    this.#metrics.requests.inc(labels);
    if (this.#forwards >= this.#limits.maxForwardsInFlight) {
      this.#reject('forward_cap', `${this.#forwards} forwards in flight`, source, ctx.protocol);
      this.#access(q, ctx, client, 'forwarding refused (cap)', 0, started);
      return errorResponse(q, RCODE.SERVFAIL);
    }
    if (this.#forwardsBySource.get(key) >= this.#limits.maxForwardsPerSource) {
      this.#reject(
        'source_cap',
        `${this.#forwardsBySource.get(key)} forwards in flight from ${source}`,
        source,
        ctx.protocol,
      );
      this.#access(q, ctx, client, 'forwarding refused (source cap)', 0, started);
      return errorResponse(q, RCODE.SERVFAIL);
    }
    this.#metrics.upstreamRequests.inc(labels);
    this.#forwards++;
    this.#forwardsBySource.inc(key);
    const t0 = performance.now();
    try {
      const answer = await this.#forwarder.forward({
        query: msg,
        id: q.id,
        question: q.question,
        maxSize,
        signal: this.#abort.signal,
      });
      this.#access(q, ctx, client, 'forwarded', answer.readUInt16BE(6), started);
      return answer;
    } catch (err) {
      const reason = err instanceof DnsForwardError ? err.reason : 'unreachable';
      // Closing is no upstream failure; the client gets nothing anyway (its socket is closed).
      if (reason !== 'closed') this.#metrics.upstreamFailures.inc(labels);
      if (reason === 'malformed')
        this.#reject('upstream_malformed', (err as Error).message, source, ctx.protocol);
      this.#access(q, ctx, client, `forwarding failed (${(err as Error).message})`, 0, started);
      return errorResponse(q, RCODE.SERVFAIL);
    } finally {
      this.#metrics.upstreamDuration.observe(labels, (performance.now() - t0) / 1000);
      this.#forwards--;
      this.#forwardsBySource.dec(key);
    }
  }

  #labels(q: Query, protocol: 'udp' | 'tcp', client: DnsClient | undefined): DnsLabels {
    return {
      request_query_type: queryTypeLabel(q.question.type),
      request_protocol: protocol,
      source_canonical_service: client?.canonicalName || 'unknown',
      source_canonical_revision: client?.canonicalRevision || 'unknown',
    };
  }

  /** The access log: one debug line per query, as upstream's `dns` target. */
  #access(
    q: Query,
    ctx: QueryContext,
    client: DnsClient | undefined,
    result: string,
    endpoints: number,
    started: number,
  ): void {
    if (!this.#log.isLevelEnabled('debug')) return;
    this.#log.debug(
      {
        'src.workload': client?.name ?? 'unknown',
        'src.namespace': client?.namespace ?? 'unknown',
        'src.addr': hostPort(ctx.source.address, ctx.source.port),
        protocol: ctx.protocol,
        query: q.question.type,
        domain: q.question.name,
        result,
        endpoints,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      },
      'dns',
    );
  }

  #reject(reason: RejectReason, detail: string, source: string, protocol: 'udp' | 'tcp'): void {
    this.#metrics.rejected.inc({ reason });
    const count = this.#warn.admit(reason);
    if (count !== undefined) {
      this.#log.warn({ reason, detail, source, protocol, count }, 'DNS message rejected');
    }
  }

  /** The DNS part of config_dump. */
  dump(): DnsDump {
    const listeners = [...this.#listeners].map((e) => ({
      udp: hostPort(e.listener.udp.address, e.listener.udp.port),
      tcp: hostPort(e.listener.tcp.address, e.listener.tcp.port),
      ...(e.listener.netns !== undefined ? { netns: e.listener.netns } : {}),
      ...(e.listener.client !== undefined ? { client: e.listener.client } : {}),
    }));
    return {
      dnsProxy: true,
      dnsProxyAddr: [...new Set(listeners.map((l) => l.udp))],
      clusterDomain: this.#mesh.clusterDomain,
      listeners,
      ...this.#forwarder.dump(),
      limits: { ...this.#limits },
      inFlight: { forwards: this.#forwards, tcpConnections: this.#tcp.total },
    };
  }

  /** Closes every listener and ends forwards in flight (their clients get nothing). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    await Promise.all([...this.#listeners].map((e) => e.listener.close()));
  }
}

/**
 * Whom the per-source caps count a query against: the pinned workload of a per-pod listener
 * (pods in different network namespaces may share source addresses, 127.0.0.1 first of all),
 * otherwise the source address.
 */
function sourceKey(ctx: QueryContext): string {
  return ctx.client !== undefined ? `workload:${ctx.client}` : ctx.source.address;
}

function meshRecords(q: Query, found: MeshAnswer, type: AddressType): Answer[] {
  const asked = q.question.name;
  let owner = asked;
  const out: Answer[] = [];
  if (found.cnameLabels !== undefined && found.addresses.length > 0) {
    // Named by the asked name's own leading labels, so the client's spelling is kept.
    const target = asked.replace(/\.$/, '').split('.').slice(0, found.cnameLabels).join('.');
    out.push({ type: 'CNAME', name: asked, ttl: TTL, class: 'IN', data: target });
    owner = target;
  }
  for (const ip of found.addresses) out.push({ type, name: owner, ttl: TTL, class: 'IN', data: ip });
  return out;
}

/** Upstream's label value: the record type in lower case; numeric types fold into `unknown`. */
function queryTypeLabel(type: string): string {
  return type.startsWith('UNKNOWN_') ? 'unknown' : type.toLowerCase();
}

async function closeSockets(udp: UdpSocket, tcp: Server, conns: TcpConnections): Promise<void> {
  await new Promise<void>((resolve) => {
    try {
      udp.close(() => resolve());
    } catch {
      resolve();
    }
  });
  const open = [...conns.open].filter(([, server]) => server === tcp).map(([s]) => s);
  await new Promise<void>((resolve) => {
    tcp.close(() => resolve());
    for (const s of open) s.destroy();
  });
}
