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
  InpodNotConfiguredError,
  ListenError,
  NativeRequiredError,
  NoLocalWorkloadError,
  PodWorkloadUnknownError,
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
import { POD_WORKLOAD_WAIT_MS, type PodInfo, PodWorkloads } from './pods.ts';
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
  /** In-pod: the pods istio-cni gave, by pod uid; their listener sets follow this map. */
  readonly #pods = new Map<string, PodInfo>();
  /** The pods whose listener set is bound (kept after removal until the set is retired). */
  readonly #boundPods = new Map<string, PodInfo>();
  /**
   * Why a pod's set last failed to bind, by pod uid, and whether a caller has been told. A failed
   * pod is not tried again on state updates: its retry is the ZDS client's (addPod again, with the
   * client's delay), so one attempt is one bind per thread and one log line (the client's).
   */
  readonly #bindErrors = new Map<string, { error: Error; reported: boolean }>();
  /** Each pod's HBONE server: it presents the pod's identity whatever local address was dialled. */
  readonly #podHbone = new Map<string, HboneServer>();
  /** Workload uid -> its pod's netns path, for the pods whose workload the state has. */
  readonly #netns = new Map<string, string>();
  readonly #podWorkloads: PodWorkloads;
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
      // As upstream's socket factory: every TCP socket zt dials gets KEEPALIVE_* and the user
      // timeout, the HBONE ones to peers and waypoints included.
      onSocket: (s) => applyTcpOptions(s, config.tcp ?? DEFAULT_TCP_SOCKET_OPTIONS, deps.ops ?? {}, deps.log),
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
    this.#podWorkloads = new PodWorkloads(() => this.#view, config.nodeName);
    this.#dns = config.dnsProxy
      ? new DnsServing(config.dnsProxy, {
          log: deps.dnsLog ?? deps.log.child({ scope: 'dns' }),
          view: () => this.#view,
          ops: this.#ctx.ops,
          network: config.network,
          ...(config.socketMark ? { mark: config.socketMark } : {}),
        })
      : undefined;
    this.#hbone = this.#hboneServer();
  }

  /** An HBONE server: the node's (certificate by local address), or one pod's (its identity). */
  #hboneServer(pod?: PodInfo): HboneServer {
    const config = this.#config;
    return new HboneServer({
      certificateFor: (local) => (pod ? this.#podCertificate(pod) : this.#certificateFor(local)),
      onTunnel: (t) => {
        const dstWl = pod ? this.#podWorkloads.find(pod) : undefined;
        serveTunnel(this.#ctx, t, dstWl).catch((e: unknown) =>
          this.#log.error({ err: e }, 'inbound tunnel failed'),
        );
      },
      ...(config.http2 ? { flowControl: config.http2 } : {}),
      ...(config.tls12Enabled ? { tls12Enabled: true } : {}),
      onError: (err, remote, reason) =>
        this.#log.warn(
          {
            err: err.message,
            reason,
            remote: remote && formatAddr(remote),
            ...(pod ? { pod: `${pod.namespace}/${pod.name}` } : {}),
          },
          'HBONE connection rejected',
        ),
    });
  }

  /** A pod's certificate, once its workload is known (upstream waits for it, as for its trust domain). */
  async #podCertificate(pod: PodInfo) {
    const w = await this.#podWorkloads.waitFor(pod);
    if (!w) {
      earlyDenials.inc({ direction: 'inbound', reason: 'unknown-pod-workload' });
      throw new PodWorkloadUnknownError(pod, this.#config.nodeName, POD_WORKLOAD_WAIT_MS);
    }
    return this.#deps.certs.fetchCertificate(
      Identity.parse(workloadIdentity(w, this.#config.trustDomain)),
      'connection',
    );
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
    this.#refreshNetns();
    this.#podWorkloads.stateChanged();
    const closed = recheckInbound(this.#ctx);
    if (closed > 0) this.#log.info({ closed, version: snapshot.version }, 'policy change closed connections');
    if (this.#started && !this.#draining) await this.#syncWorkloadListeners();
  }

  /** In-pod mode: every pod of this node (what upstream gets over ZDS), replacing the last list. */
  async setPods(pods: readonly PodInfo[]): Promise<void> {
    this.#pods.clear();
    for (const p of pods) this.#pods.set(p.uid, p);
    this.#refreshNetns();
    if (this.#started && !this.#draining) {
      await this.#syncWorkloadListeners();
      this.#reportBindErrors();
    }
  }

  /** Logs the bind failures nobody was told of (no addPod is waiting for them), once each. */
  #reportBindErrors(): void {
    for (const [uid, failed] of this.#bindErrors) {
      if (failed.reported) continue;
      failed.reported = true;
      const pod = this.#pods.get(uid);
      this.#log.warn(
        { err: failed.error.message, pod: pod && `${pod.namespace}/${pod.name}` },
        'cannot bind the pod listeners; they are tried again when istio-cni adds the pod again',
      );
    }
  }

  /**
   * In-pod mode: a pod to serve. Resolves with its listeners once they are bound (at once before
   * start(), which binds them), rejects with the bind error when they cannot be: the pod stays
   * known and a later addPod or state change tries again.
   */
  async addPod(pod: PodInfo): Promise<BoundListener[]> {
    const mode = this.#config.listeners.workloads?.mode;
    if (mode !== 'netns') throw new InpodNotConfiguredError(pod, mode ?? 'none');
    const known = this.#pods.get(pod.uid);
    // The same uid with another namespace is a re-created sandbox: its old listeners must go first.
    if (known && known.netns !== pod.netns) {
      this.#pods.delete(pod.uid);
      await this.#syncWorkloadListeners();
    }
    this.#pods.set(pod.uid, pod);
    this.#refreshNetns();
    if (!this.#started) return [];
    if (this.#draining) throw new DrainDeadlineError(0);
    const failed = this.#bindErrors.get(pod.uid);
    if (failed?.reported === false) {
      // start() just tried (the pod came before it): that attempt is this add's answer.
      failed.reported = true;
      throw failed.error;
    }
    // The caller has seen the last failure: this add is the retry.
    this.#bindErrors.delete(pod.uid);
    await this.#syncWorkloadListeners();
    const err = this.#bindErrors.get(pod.uid);
    if (err) {
      err.reported = true;
      throw err.error;
    }
    if (!this.#pods.has(pod.uid)) return [];
    if (!this.#listeners.has(pod.uid))
      throw new ListenError('pod listeners', '::', 0, new Error('the listener update failed (logged)'));
    return this.#listeners.bound().filter((b) => b.set === pod.uid);
  }

  /** In-pod mode: the pod went; its listeners close, its connections get the drain deadline. */
  async removePod(uid: string): Promise<void> {
    if (!this.#pods.delete(uid)) return;
    this.#refreshNetns();
    if (this.#started && !this.#draining) await this.#syncWorkloadListeners();
  }

  #refreshNetns(): void {
    this.#netns.clear();
    for (const pod of this.#pods.values()) {
      const w = this.#podWorkloads.find(pod);
      if (w) this.#netns.set(w.uid, pod.netns);
    }
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
    pod?: PodInfo,
  ): Promise<void> {
    // As upstream, the keepalive options go on what the outbound and plaintext listeners accept,
    // not on what 15008 accepts (upstream's inbound listener sets none; its peer's dial has them).
    const tcp = this.#config.tcp ?? DEFAULT_TCP_SOCKET_OPTIONS;
    const tune = (s: Socket) => applyTcpOptions(s, tcp, this.#ctx.ops, this.#log);
    const hbone = pod ? this.#podHboneServer(pod) : this.#hbone;
    const kinds: [keyof ListenerPorts, (s: Socket) => void][] = [
      ['inbound', (s) => hbone.handle(s)],
      [
        'inboundPlaintext',
        (s) => {
          tune(s);
          this.#onPlaintext(s, pod);
        },
      ],
      [
        'outbound',
        (s) => {
          tune(s);
          if (pod) this.#onPodOutbound(s, pod);
          else this.#onOutbound(s, workload);
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
  #retireWorkload(set: string, workloadUid: string | undefined = set): void {
    void this.#listeners.closeSet(set);
    const deadlineMs = this.#config.drainDeadlineMs ?? DEFAULT_DRAIN_DEADLINE_MS;
    const hbone = this.#podHbone.get(set);
    this.#podHbone.delete(set);
    const uid = workloadUid;
    setTimeout(() => {
      // The pod's HBONE server goes once its tunnels are aborted below (closing it first would
      // end the TLS connections under them without a reset the peers act on).
      if (hbone) setImmediate(() => void hbone.close(0));
      if (uid === undefined) return;
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
    const ports: ListenerPorts = {
      inbound: opt.inbound ?? DEFAULT_PORTS.inbound,
      inboundPlaintext: opt.inboundPlaintext ?? DEFAULT_PORTS.inboundPlaintext,
      outbound: opt.bindOutbound ? (opt.outbound ?? DEFAULT_PORTS.outbound) : -1,
    };
    if (opt.mode === 'netns') return this.#syncPods(ports);
    const want = new Map<string, Workload>();
    for (const w of localWorkloads(this.#view.snapshot().workloads, this.#config.nodeName))
      want.set(w.uid, w);
    for (const set of this.#listeners.sets()) {
      if (set === 'shared' || set === 'socks5') continue;
      if (!want.has(set)) this.#retireWorkload(set);
    }
    for (const [uid, w] of want) {
      if (this.#listeners.has(uid)) continue;
      for (const ip of w.workloadIps) {
        try {
          await this.#bindSet(uid, ip, ports, w);
        } catch (e) {
          this.#log.error(
            { err: (e as Error).message, workload: `${w.namespace}/${w.name}` },
            'cannot bind the workload listeners',
          );
        }
      }
    }
  }

  /**
   * In-pod: one listener set per pod istio-cni gave, bound from the pod alone (upstream binds from
   * ZDS's WorkloadInfo); the workload is looked up when connections come.
   */
  async #syncPods(ports: ListenerPorts): Promise<void> {
    for (const set of this.#listeners.sets()) {
      if (set === 'shared' || set === 'socks5') continue;
      const pod = this.#boundPods.get(set);
      if (this.#pods.get(set) === pod) continue;
      this.#boundPods.delete(set);
      this.#retireWorkload(set, pod && this.#podWorkloads.find(pod)?.uid);
    }
    for (const uid of this.#bindErrors.keys()) if (!this.#pods.has(uid)) this.#bindErrors.delete(uid);
    if (this.#dns) {
      const netns = new Map<string, string>();
      for (const pod of this.#pods.values()) netns.set(pod.uid, pod.netns);
      // Failures are logged per pod there; a pod without DNS keeps its other listeners.
      await this.#dns
        .syncPods(netns)
        .catch((e: unknown) => this.#log.error({ err: (e as Error).message }, 'the DNS proxy in pods'));
    }
    for (const pod of this.#pods.values()) {
      if (this.#listeners.has(pod.uid) || this.#bindErrors.has(pod.uid)) continue;
      try {
        // In the pod's namespace zt binds the wildcard address: REDIRECT sends captured outbound
        // traffic to the loopback, inbound arrives at the pod IP; `::` is dual stack (IPv4 arrives
        // v4-mapped), as upstream binds with IPv6 enabled.
        await this.#bindPod(pod, ports);
        this.#boundPods.set(pod.uid, pod);
        this.#bindErrors.delete(pod.uid);
      } catch (e) {
        // All or nothing: a pod half served would take some of its traffic and drop the rest.
        await this.#listeners.closeSet(pod.uid);
        this.#bindErrors.set(pod.uid, { error: e as Error, reported: false });
        // Whoever asked reports it once (addPod's caller, or setPods/start): not every thread.
        this.#log.debug(
          { err: (e as Error).message, pod: `${pod.namespace}/${pod.name}` },
          'cannot bind the pod listeners',
        );
      }
    }
  }

  async #bindPod(pod: PodInfo, ports: ListenerPorts): Promise<void> {
    if (this.#config.listeners.workloads?.ipv6 === false) {
      return this.#bindSet(pod.uid, '0.0.0.0', ports, undefined, pod.netns, pod);
    }
    try {
      await this.#bindSet(pod.uid, '::', ports, undefined, pod.netns, pod);
    } catch (e) {
      // No IPv6 in the pod's kernel (ipv6.disable=1): IPv4 is all it can have.
      if (!/EAFNOSUPPORT|family not supported|EADDRNOTAVAIL|not available/i.test((e as Error).message))
        throw e;
      await this.#listeners.closeSet(pod.uid);
      this.#log.debug({ pod: `${pod.namespace}/${pod.name}` }, 'no IPv6 in the pod; binding IPv4 only');
      await this.#bindSet(pod.uid, '0.0.0.0', ports, undefined, pod.netns, pod);
    }
  }

  #podHboneServer(pod: PodInfo): HboneServer {
    let server = this.#podHbone.get(pod.uid);
    if (!server) {
      server = this.#hboneServer(pod);
      this.#podHbone.set(pod.uid, server);
    }
    return server;
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

  /**
   * Captured outbound traffic of a pod: its workload is the source. It may still be on its way
   * from istiod: wait for it as upstream does, then refuse clearly (counted, logged).
   */
  #onPodOutbound(s: Socket, pod: PodInfo): void {
    const dst = this.#ctx.ops.originalDst?.(s);
    if (!dst) {
      this.#onOutbound(s, undefined);
      return;
    }
    // A connection to zt's own pod listener on the pod's loopback would be proxied to itself.
    const own = this.#config.listeners.workloads;
    const ownPorts = [
      own?.outbound ?? DEFAULT_PORTS.outbound,
      own?.inbound ?? DEFAULT_PORTS.inbound,
      own?.inboundPlaintext ?? DEFAULT_PORTS.inboundPlaintext,
    ];
    if ((dst.address.startsWith('127.') || dst.address === '::1') && ownPorts.includes(dst.port)) {
      earlyDenials.inc({ direction: 'outbound', reason: 'self-call' });
      this.#log.debug(
        { pod: `${pod.namespace}/${pod.name}`, port: dst.port },
        "refused a connection to zt's own pod listener",
      );
      s.destroy();
      return;
    }
    this.#podWorkloads
      .waitFor(pod)
      .then((w) => {
        if (w) return proxyOutbound(this.#ctx, s, dst, w);
        earlyDenials.inc({ direction: 'outbound', reason: 'unknown-pod-workload' });
        const err = new PodWorkloadUnknownError(pod, this.#config.nodeName, POD_WORKLOAD_WAIT_MS);
        this.#log.warn(
          {
            scope: 'access',
            'src.addr': formatAddr({ address: s.remoteAddress ?? '', port: s.remotePort ?? 0 }),
            'dst.addr': formatAddr(dst),
            direction: 'outbound',
            error: err.message,
          },
          'connection failed',
        );
        s.destroy();
      })
      .catch((e: unknown) => this.#log.error({ err: e }, 'outbound failed'));
  }

  #onPlaintext(s: Socket, pod?: PodInfo): void {
    const podWorkload = pod ? () => this.#podWorkloads.waitFor(pod) : undefined;
    servePlaintext(this.#ctx, s, podWorkload).catch((e: unknown) =>
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
    this.#podWorkloads.cancelAll();
    await this.#reconcile;
    const listenersClosed = Promise.all([this.#listeners.closeAll(), this.#dns?.close()]);
    const hboneClosed = Promise.all(
      [this.#hbone, ...this.#podHbone.values()].map((h) => h.close(deadlineMs)),
    );
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
