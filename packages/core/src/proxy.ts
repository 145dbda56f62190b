import type { Server, Socket } from 'node:net';
import type { DnsDump } from '@zt/dns';
import { type CertSource, Identity, workloadIdentity } from '@zt/identity';
import type { Logger } from '@zt/log';
import { HbonePool, HboneServer } from '@zt/transport';
import type { ProxyStateView, StateSnapshot, Workload } from '@zt/xds';
import { ProxyState, socketIp } from '@zt/xds';
import { formatAddr, type SocketAddr } from './addr.ts';
import { MemoryRelease } from './conn/memory-release.ts';
import { DEFAULT_RECENT_CONNECTIONS, RecentConnections, type RecentDump } from './conn/recent.ts';
import { ConnectionRegistry, earlyDenials } from './conn/registry.ts';
import { applyTcpOptions, DEFAULT_TCP_SOCKET_OPTIONS } from './conn/socket-options.ts';
import type { FlowContext, SocketOps } from './context.ts';
import { DnsServing } from './dns.ts';
import {
  DrainDeadlineError,
  NativeRequiredError,
  NoLocalWorkloadError,
  Socks5Error,
  WorkloadGoneError,
} from './errors.ts';
import { localWorkloadAt } from './inbound/flow.ts';
import { serveTunnel } from './inbound/hbone.ts';
import { servePlaintext } from './inbound/plaintext.ts';
import { recheckInbound } from './inbound/recheck.ts';
import { Listeners, localWorkloads } from './listeners.ts';
import {
  type BoundListener,
  DEFAULT_DRAIN_DEADLINE_MS,
  DEFAULT_PORTS,
  DEFAULT_SOCKS5_PORT,
  type ListenerPorts,
  type ProxyConfig,
} from './options.ts';
import { proxyOutbound } from './outbound/outbound.ts';
import { negotiateSocks5, reply, SOCKS_REPLY } from './outbound/socks5.ts';
import { loadTransportModules } from './transports/modules.ts';
import { transports } from './transports/registry.ts';
import type { ConnectionInfo } from './types.ts';

export interface ProxyDeps {
  certs: CertSource;
  log: Logger;
  /** Where the access lines go (the `access` scope); default: a child of `log` with that scope. */
  accessLog?: Logger;
  /** The DNS proxy's logger (the `dns` scope, its access lines at debug); default: a child of `log`. */
  dnsLog?: Logger;
  ops?: SocketOps;
  /** Builds the read view of a snapshot (default: @zt/xds ProxyState). */
  viewOf?: (s: StateSnapshot) => ProxyStateView;
  /** Prefix of connection ids, to keep them unique across workers. */
  idPrefix?: string;
}

const EMPTY: StateSnapshot = { version: 0, workloads: [], services: [], policies: [] };

/**
 * One complete data plane on one thread: listeners, HBONE server and pool, flows, connection
 * registry. The DataPlane runs one per worker thread (or one on the main thread with workers: 0).
 */
export class ProxyEngine {
  readonly #config: ProxyConfig;
  readonly #deps: ProxyDeps;
  readonly #log: Logger;
  readonly #listeners: Listeners;
  readonly #registry: ConnectionRegistry;
  readonly #memory: MemoryRelease | undefined;
  readonly #pool: HbonePool;
  readonly #hbone: HboneServer;
  readonly #ctx: FlowContext;
  readonly #netns = new Map<string, string>();
  readonly #dns: DnsServing | undefined;
  #view: ProxyStateView;
  #dnsBound: BoundListener[] = [];
  #started = false;
  #draining = false;
  #reconcile: Promise<void> = Promise.resolve();
  #unregisterTransports: () => void = () => {};

  constructor(config: ProxyConfig, deps: ProxyDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#log = deps.log;
    this.#listeners = new Listeners(deps.log);
    const ops = deps.ops;
    this.#memory = ops?.releaseFreeMemory
      ? new MemoryRelease(
          () => this.#releaseFreeMemory(ops),
          () => this.#registry.size,
        )
      : undefined;
    this.#registry = new ConnectionRegistry(
      deps.accessLog ?? deps.log.child({ scope: 'access' }),
      deps.idPrefix ?? '',
      this.#memory,
      new RecentConnections(config.recentConnections ?? DEFAULT_RECENT_CONNECTIONS),
    );
    this.#view = (deps.viewOf ?? ((s) => new ProxyState(s)))(EMPTY);
    this.#pool = new HbonePool({
      certs: deps.certs,
      ...(config.pool?.maxStreamsPerConnection !== undefined
        ? { maxStreamsPerConnection: config.pool.maxStreamsPerConnection }
        : {}),
      ...(config.pool?.unusedReleaseTimeoutMs !== undefined
        ? { unusedReleaseTimeoutMs: config.pool.unusedReleaseTimeoutMs }
        : {}),
      ...(config.pool?.connectTimeoutMs !== undefined
        ? { connectTimeoutMs: config.pool.connectTimeoutMs }
        : {}),
      ...(config.http2 ? { flowControl: config.http2 } : {}),
      ...(config.tls12Enabled ? { tls12Enabled: true } : {}),
    });
    const ownPorts = new Set<number>();
    const ownAddresses = new Set<string>();
    this.#ctx = {
      config,
      log: deps.log,
      registry: this.#registry,
      pool: this.#pool,
      certs: deps.certs,
      ops: deps.ops ?? {},
      view: () => this.#view,
      ownPorts,
      ownAddresses,
      netnsOf: (uid) => this.#netns.get(uid),
    };
    this.#dns = config.dnsProxy
      ? new DnsServing(config.dnsProxy, {
          log: deps.dnsLog ?? deps.log.child({ scope: 'dns' }),
          view: () => this.#view,
          ops: this.#ctx.ops,
          network: config.network,
          ...(config.socketMark ? { mark: config.socketMark } : {}),
        })
      : undefined;
    this.#hbone = new HboneServer({
      certificateFor: (local) => this.#certificateFor(local),
      onTunnel: (t) => {
        serveTunnel(this.#ctx, t).catch((e: unknown) => this.#log.error({ err: e }, 'inbound tunnel failed'));
      },
      ...(config.http2 ? { flowControl: config.http2 } : {}),
      ...(config.tls12Enabled ? { tls12Enabled: true } : {}),
      onError: (err, remote, reason) =>
        this.#log.warn(
          { err: err.message, reason, remote: remote && formatAddr(remote) },
          'HBONE connection rejected',
        ),
    });
  }

  get view(): ProxyStateView {
    return this.#view;
  }

  async #certificateFor(local: SocketAddr) {
    const w = localWorkloadAt(this.#ctx, local.address);
    if (!w) throw new NoLocalWorkloadError(this.#config.nodeName, local.address);
    return this.#deps.certs.fetchCertificate(
      Identity.parse(workloadIdentity(w, this.#config.trustDomain)),
      'connection',
    );
  }

  /** Replaces the state: re-checks open inbound connections and follows the per-workload listeners. */
  async setState(snapshot: StateSnapshot): Promise<void> {
    this.#view = (this.#deps.viewOf ?? ((s) => new ProxyState(s)))(snapshot);
    const closed = recheckInbound(this.#ctx);
    if (closed > 0) this.#log.info({ closed, version: snapshot.version }, 'policy change closed connections');
    if (this.#started && !this.#draining) await this.#syncWorkloadListeners();
  }

  /** Pod network namespaces for in-pod mode, by workload uid (what upstream gets over ZDS). */
  async setPodNetns(map: Record<string, string>): Promise<void> {
    this.#netns.clear();
    for (const [k, v] of Object.entries(map)) this.#netns.set(k, v);
    if (this.#started && !this.#draining) await this.#syncWorkloadListeners();
  }

  /**
   * Binds the listeners. `fixed` (`<set>/<kind>` -> port) replaces configured 0 ports, so that
   * every worker joins the SO_REUSEPORT group the first one created.
   */
  async start(fixed: Record<string, number> = {}): Promise<BoundListener[]> {
    const c = this.#config;
    // Before any listener: no connection may be routed before the program's transports are in.
    if (c.transportModules?.length)
      this.#unregisterTransports = await loadTransportModules(c.transportModules, transports);
    const shared = c.listeners.shared;
    if (shared) {
      const p = {
        ...DEFAULT_PORTS,
        ...stripUndefined({
          outbound: shared.outbound,
          inbound: shared.inbound,
          inboundPlaintext: shared.inboundPlaintext,
        }),
      };
      for (const k of ['outbound', 'inbound', 'inboundPlaintext'] as const)
        p[k] = fixed[`shared/${k}`] ?? p[k];
      await this.#bindSet('shared', shared.address, p, undefined);
    }
    if (c.socks5?.enabled) {
      const port = fixed['socks5/socks5'] ?? c.socks5.port ?? DEFAULT_SOCKS5_PORT;
      const b = await this.#listeners.bind('socks5', 'socks5', c.socks5.address ?? '127.0.0.1', port, (s) =>
        this.#onSocks(s),
      );
      this.#own(b);
    }
    // The DNS proxy on the node, unless it is served inside each pod (in-pod mode).
    const dnsBound =
      this.#dns && c.listeners.workloads?.mode !== 'netns' ? await this.#dns.startNode(fixed) : [];
    this.#dnsBound = dnsBound;
    this.#started = true;
    await this.#syncWorkloadListeners();
    return this.bound();
  }

  bound(): BoundListener[] {
    return [...this.#listeners.bound(), ...this.#dnsBound];
  }

  /** The DNS proxy's part of config_dump, if it runs on this thread. */
  dnsDump(): DnsDump | undefined {
    return this.#dns?.dump();
  }

  #own(b: BoundListener): void {
    this.#ctx.ownPorts.add(b.port);
    this.#ctx.ownAddresses.add(socketIp(b.address));
  }

  async #bindSet(
    set: string,
    address: string,
    ports: ListenerPorts,
    workload: Workload | undefined,
    netns?: string,
  ): Promise<void> {
    // As upstream, the keepalive options go on what the outbound and plaintext listeners accept;
    // HBONE (15008) connections have HTTP/2 PINGs of their own.
    const tcp = this.#config.tcp ?? DEFAULT_TCP_SOCKET_OPTIONS;
    const tune = (s: Socket) => applyTcpOptions(s, tcp, this.#ctx.ops, this.#log);
    const kinds: [keyof ListenerPorts, (s: Socket) => void][] = [
      ['inbound', (s) => this.#hbone.handle(s)],
      [
        'inboundPlaintext',
        (s) => {
          tune(s);
          this.#onPlaintext(s);
        },
      ],
      [
        'outbound',
        (s) => {
          tune(s);
          this.#onOutbound(s, workload);
        },
      ],
    ];
    for (const [kind, handler] of kinds) {
      const port = ports[kind];
      if (port < 0) continue;
      const listen = netns ? this.#netnsListen(netns, address, port) : undefined;
      if (netns && !listen)
        throw new NativeRequiredError('in-pod listeners (listen inside a network namespace)');
      const b = await this.#listeners.bind(set, kind, address, port, handler, listen);
      // In-pod listeners sit in another namespace: their ports are not zt's own in this one.
      if (!netns) this.#own(b);
    }
  }

  #syncWorkloadListeners(): Promise<void> {
    // Serialized: two quick updates must not bind the same set twice.
    this.#reconcile = this.#reconcile
      .then(() => this.#doSync())
      .catch((e: unknown) => this.#log.error({ err: e }, 'per-workload listeners'));
    return this.#reconcile;
  }

  /**
   * A workload left this node (or its pod namespace went away): stop accepting for it at once, and
   * give its open connections, both directions, the drain deadline before they are aborted, as
   * upstream drains a deleted pod's proxy.
   */
  #retireWorkload(uid: string): void {
    void this.#listeners.closeSet(uid);
    const deadlineMs = this.#config.drainDeadlineMs ?? DEFAULT_DRAIN_DEADLINE_MS;
    setTimeout(() => {
      let aborted = 0;

      for (const t of this.#registry.live()) {
        const l = t.labelInput;
        if (t.closed || (l.source?.uid !== uid && l.destination?.uid !== uid)) continue;
        t.abort(new WorkloadGoneError(uid, `left this node ${deadlineMs}ms ago`));
        aborted++;
      }
      if (aborted > 0)
        this.#log.info({ workload: uid, aborted }, 'closed the connections of a removed workload');
    }, deadlineMs).unref();
  }

  async #doSync(): Promise<void> {
    const opt = this.#config.listeners.workloads;
    if (!opt) return;
    const want = new Map<string, Workload>();
    for (const w of localWorkloads(this.#view.snapshot().workloads, this.#config.nodeName)) {
      // In-pod mode serves a pod once its namespace is known (upstream learns it over ZDS).
      if (opt.mode === 'netns' && !this.#netns.has(w.uid)) continue;
      want.set(w.uid, w);
    }
    for (const set of this.#listeners.sets()) {
      if (set === 'shared' || set === 'socks5') continue;
      if (!want.has(set)) this.#retireWorkload(set);
    }
    const ports: ListenerPorts = {
      inbound: opt.inbound ?? DEFAULT_PORTS.inbound,
      inboundPlaintext: opt.inboundPlaintext ?? DEFAULT_PORTS.inboundPlaintext,
      outbound: opt.bindOutbound ? (opt.outbound ?? DEFAULT_PORTS.outbound) : -1,
    };
    if (this.#dns && opt.mode === 'netns') {
      const pods = new Map<string, string>();
      for (const uid of want.keys()) {
        const netns = this.#netns.get(uid);
        if (netns) pods.set(uid, netns);
      }
      // Failures are logged per pod there; a pod without DNS keeps its other listeners.
      await this.#dns
        .syncPods(pods)
        .catch((e: unknown) => this.#log.error({ err: (e as Error).message }, 'the DNS proxy in pods'));
    }
    for (const [uid, w] of want) {
      if (this.#listeners.has(uid)) continue;
      const netns = opt.mode === 'netns' ? this.#netns.get(uid) : undefined;
      // In the pod's namespace zt binds the wildcard address: REDIRECT sends captured outbound
      // traffic to 127.0.0.1, inbound arrives at the pod IP.
      const addresses = netns ? ['0.0.0.0'] : w.workloadIps;
      for (const ip of addresses) {
        try {
          await this.#bindSet(uid, ip, ports, w, netns);
        } catch (e) {
          this.#log.error(
            { err: (e as Error).message, workload: `${w.namespace}/${w.name}` },
            'cannot bind the workload listeners',
          );
        }
      }
    }
  }

  #netnsListen(netns: string, host: string, port: number): ((server: Server) => Promise<number>) | undefined {
    const listen = this.#ctx.ops.listen;
    if (!listen) return undefined;
    const mark = this.#config.socketMark;
    const reusePort = this.#config.listeners.workloads?.reusePort ?? true;
    return (server) => listen(server, { host, port, netns, reusePort, ...(mark ? { mark } : {}) });
  }

  #onOutbound(s: Socket, workload: Workload | undefined): void {
    const dst = this.#ctx.ops.originalDst?.(s);
    if (!dst) {
      s.destroy();
      this.#log.warn(
        { src: s.remoteAddress },
        'outbound connection without an original destination (SO_ORIGINAL_DST unavailable); use SOCKS5 or build @zt/native',
      );
      return;
    }
    proxyOutbound(this.#ctx, s, dst, workload).catch((e: unknown) =>
      this.#log.error({ err: e }, 'outbound failed'),
    );
  }

  #onPlaintext(s: Socket): void {
    servePlaintext(this.#ctx, s).catch((e: unknown) =>
      this.#log.error({ err: e }, 'inbound plaintext failed'),
    );
  }

  #onSocks(s: Socket): void {
    s.resume();
    // A client error ends the socket; what it ended is logged by whoever reads it (the SOCKS5
    // negotiation's rejection, or the relay's access line).
    s.on('error', () => s.destroy());
    negotiateSocks5(s)
      .then(
        (target) => {
          // As upstream: success is sent once the target is known, before the upstream connects.
          s.write(reply(SOCKS_REPLY.succeeded));
          return proxyOutbound(this.#ctx, s, target);
        },
        (e: unknown) => {
          const reason = e instanceof Socks5Error ? e.reason : 'socks5-io';
          earlyDenials.inc({ direction: 'outbound', reason });
          this.#log.warn(
            {
              reason,
              err: e instanceof Error ? e.message : String(e),
              'src.addr': formatAddr({ address: s.remoteAddress ?? '', port: s.remotePort ?? 0 }),
            },
            'SOCKS5 connection refused',
          );
          // The error reply is queued: let it flush, but do not wait on a client that stopped reading.
          s.end();
          setTimeout(() => s.destroy(), 1000).unref();
        },
      )
      .catch((e: unknown) => this.#log.error({ err: e }, 'socks5 failed'));
  }

  connections(): ConnectionInfo[] {
    return this.#registry.list();
  }

  /** The connections that closed lately, and the denials among them, newest first. */
  recent(): RecentDump {
    return this.#registry.recent?.dump() ?? { closed: [], denials: [], capacity: 0 };
  }

  get liveConnections(): number {
    return this.#registry.size;
  }

  /**
   * Stop accepting, GOAWAY the HBONE peers, give open connections `deadlineMs`, then close what
   * is left. Resolves when no connection is left.
   */
  async drain(deadlineMs = this.#config.drainDeadlineMs ?? DEFAULT_DRAIN_DEADLINE_MS): Promise<void> {
    if (this.#draining) return this.#registry.idle();
    this.#draining = true;
    await this.#reconcile;
    const listenersClosed = Promise.all([this.#listeners.closeAll(), this.#dns?.close()]);
    const hboneClosed = this.#hbone.close(deadlineMs);
    const timer = setTimeout(() => {
      for (const t of this.#registry.live()) t.abort(new DrainDeadlineError(deadlineMs));
    }, deadlineMs);
    await Promise.all([listenersClosed, hboneClosed, this.#registry.idle()]);
    clearTimeout(timer);
  }

  /** Runs on a timer: a failure is logged, never thrown into the event loop. */
  #releaseFreeMemory(ops: SocketOps): void {
    try {
      ops.releaseFreeMemory?.();
      this.#log.debug({ rssMB: Math.round(process.memoryUsage.rss() / 2 ** 20) }, 'released free memory');
    } catch (e) {
      this.#log.warn({ err: (e as Error).message }, 'releasing free memory failed');
    }
  }

  async close(): Promise<void> {
    await this.drain(0);
    this.#memory?.stop();
    await this.#pool.close();
    this.#unregisterTransports();
  }
}

function stripUndefined<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}
