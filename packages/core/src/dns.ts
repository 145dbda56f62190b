// The DNS proxy (@zt/dns) as one data-plane thread serves it: on the node (shared listeners, the
// loopback lab) or inside each pod's network namespace (in-pod mode), next to the other listeners
// and following the same state. Every thread runs one, on SO_REUSEPORT sockets (see
// ARCHITECTURE.md, Threads).
import type { Socket as UdpSocket } from 'node:dgram';
import type { Server } from 'node:net';
import { type DnsBind, type DnsDump, type DnsListener, DnsProxy, dnsStateOf, SystemForwarder } from '@zt/dns';
import { errorMessage } from '@zt/errors';
import type { Logger } from '@zt/log';
import type { ProxyStateView } from '@zt/xds';
import type { SocketOps } from './context.ts';
import { NativeRequiredError } from './errors.ts';
import type { BoundListener, DnsProxyConfig } from './options.ts';

/** Upstream's DNS port (ISTIO_META_DNS_PROXY_ADDR defaults to localhost:15053). */
export const DEFAULT_DNS_PORT = 15053;
/** Upstream's `Address::Localhost`: both loopbacks; IPv6 is skipped where the namespace lacks `::1`. */
export const DEFAULT_DNS_ADDRESSES: readonly { host: string; port: number }[] = [
  { host: '127.0.0.1', port: DEFAULT_DNS_PORT },
  { host: '::1', port: DEFAULT_DNS_PORT },
];

export interface DnsServingDeps {
  log: Logger;
  view: () => ProxyStateView;
  ops: SocketOps;
  /** Network of clients found by source address (NETWORK). */
  network: string;
  /** SO_MARK of the in-pod sockets (zt's own traffic skips the pod's capture rules). */
  mark?: number;
}

/** Where a listener goes: one of the configured addresses, on the node or in a pod's namespace. */
interface Place {
  host: string;
  port: number;
  netns?: string;
  client?: string;
}

/**
 * One thread's DNS proxy and its listeners: the node's, or one set per pod (opened when the pod's
 * namespace is known, closed when the pod goes).
 */
export class DnsServing {
  readonly #config: DnsProxyConfig;
  readonly #deps: DnsServingDeps;
  readonly #log: Logger;
  #proxy: DnsProxy | undefined;
  readonly #pods = new Map<string, DnsListener[]>();
  #closed = false;

  constructor(config: DnsProxyConfig, deps: DnsServingDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#log = deps.log;
  }

  get addresses(): readonly { host: string; port: number }[] {
    return this.#config.addresses ?? DEFAULT_DNS_ADDRESSES;
  }

  /**
   * Builds the proxy (reads resolv.conf: throws ResolvConfError when it cannot). Separate from the
   * constructor so that a bad resolv.conf fails start-up with its message, not the worker's load.
   */
  #ensure(): DnsProxy {
    if (this.#proxy) return this.#proxy;
    const c = this.#config;
    const clusterDomain = c.clusterDomain ?? 'cluster.local';
    this.#proxy = new DnsProxy({
      state: () => dnsStateOf(this.#deps.view()),
      forwarder: SystemForwarder.fromResolvConf({
        clusterDomain,
        ...(c.resolvConf !== undefined ? { path: c.resolvConf } : {}),
        ...(c.forwardPort !== undefined ? { port: c.forwardPort } : {}),
      }),
      logger: this.#log,
      clusterDomain,
      network: this.#deps.network,
      ipv6Enabled: c.ipv6Enabled ?? true,
      ...(c.preferredServiceNamespace ? { preferredServiceNamespace: c.preferredServiceNamespace } : {}),
      ...(c.limits ? { limits: c.limits } : {}),
      // The node-level proxy also serves the node's own processes (the lab's tools, a shell):
      // unknown sources are forwarded rather than refused. A pod's listener always knows its client.
      unknownClients: 'forward',
      ...(this.#bind() ? { bind: this.#bind() } : {}),
    });
    return this.#proxy;
  }

  #bind(): DnsBind | undefined {
    const { listen, listenUdp } = this.#deps.ops;
    if (!listen || !listenUdp) return undefined;
    const mark = this.#deps.mark;
    return {
      udp: async (socket: UdpSocket, o) => {
        await listenUdp(socket, { ...o, ...(mark ? { mark } : {}) });
      },
      tcp: async (server: Server, o) => {
        await listen(server, { ...o, ...(mark ? { mark } : {}) });
      },
    };
  }

  /**
   * The node-level listeners. `fixed` (`dns/<host>` -> port) replaces configured 0 ports, so every
   * worker joins the SO_REUSEPORT group of the first.
   */
  async startNode(fixed: Record<string, number> = {}): Promise<BoundListener[]> {
    const proxy = this.#ensure();
    const bound: BoundListener[] = [];
    for (const a of this.addresses) {
      const l = await this.#listen(proxy, { host: a.host, port: fixed[`dns/${a.host}`] ?? a.port });
      if (l) bound.push({ kind: 'dns', set: 'dns', address: l.udp.address, port: l.udp.port });
    }
    return bound;
  }

  /** In-pod mode: the pods to serve now (uid -> netns path); others' listeners close. */
  async syncPods(want: ReadonlyMap<string, string>): Promise<void> {
    if (this.#closed) return;
    for (const [uid, listeners] of this.#pods) {
      if (want.has(uid)) continue;
      this.#pods.delete(uid);
      await Promise.all(listeners.map((l) => l.close()));
    }
    if (want.size === 0) return;
    if (!this.#bind())
      throw new NativeRequiredError('the DNS proxy inside pods (UDP and TCP in a network namespace)');
    const proxy = this.#ensure();
    for (const [uid, netns] of want) {
      if (this.#pods.has(uid)) continue;
      const listeners: DnsListener[] = [];
      try {
        for (const a of this.addresses) {
          const l = await this.#listen(proxy, { host: a.host, port: a.port, netns, client: uid });
          if (l) listeners.push(l);
        }
        this.#pods.set(uid, listeners);
      } catch (e) {
        // This pod goes without DNS until the next change retries; the other pods are served.
        await Promise.all(listeners.map((l) => l.close()));
        this.#log.error({ err: errorMessage(e), workload: uid, netns }, 'cannot bind the DNS proxy in a pod');
      }
    }
  }

  /**
   * One listener, or undefined when its address does not exist where it is bound (IPv6 loopback in
   * a namespace without IPv6, as upstream checks before binding `::1`). Other failures are thrown.
   */
  async #listen(proxy: DnsProxy, p: Place): Promise<DnsListener | undefined> {
    try {
      return await proxy.listen({ ...p, reusePort: true });
    } catch (e) {
      const code = (e as { cause?: NodeJS.ErrnoException }).cause?.code;
      if (p.host.includes(':') && (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT')) {
        this.#log.debug(
          { address: p.host, netns: p.netns, err: errorMessage(e) },
          'no IPv6 loopback here: the DNS proxy serves IPv4 only',
        );
        return undefined;
      }
      throw e;
    }
  }

  /** config_dump's DNS part (undefined until the proxy is built). */
  dump(): DnsDump | undefined {
    return this.#proxy?.dump();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#pods.clear();
    await this.#proxy?.close();
  }
}
