import type { DnsLimits } from '@zt/dns';
import { ZT_SOCKET_MARK } from '@zt/native';
import type { FlowControl } from '@zt/transport';
import type { TcpSocketOptions } from './conn/socket-options.ts';

/** Ports of one listener set; 0 picks a free port (tests). */
export interface ListenerPorts {
  /** 15001: captured outbound traffic. */
  outbound: number;
  /** 15006: inbound plaintext. */
  inboundPlaintext: number;
  /** 15008: inbound HBONE. */
  inbound: number;
}

export const DEFAULT_PORTS: ListenerPorts = { outbound: 15001, inboundPlaintext: 15006, inbound: 15008 };
/** Upstream's SOCKS5 port (UNSTABLE_ENABLE_SOCKS5), on loopback. */
export const DEFAULT_SOCKS5_PORT = 15080;
/** Peers are dialled on upstream's HBONE port. */
export const DEFAULT_HBONE_PORT = DEFAULT_PORTS.inbound;
/** CONNECTION_TERMINATION_DEADLINE: how long drain gives open connections (upstream: 5s). */
export const DEFAULT_DRAIN_DEADLINE_MS = 5000;
/** The SO_MARK of zt's own sockets in in-pod mode (upstream's default packet mark). */
export const DEFAULT_SOCKET_MARK = ZT_SOCKET_MARK;

export interface ListenerOptions {
  /** One set on the node address. Omit for none. A port set to -1 is not bound. */
  shared?: { address: string } & Partial<ListenerPorts>;
  /**
   * One set per workload of this node, following the state. `loopback`: bound on the workload's
   * IP in zt's own network namespace (the loopback demo). `netns`: bound inside the pod's network
   * namespace (in-pod mode, needs @zt/native and the pod's netns path from `setPodNetns`).
   */
  workloads?: {
    mode: 'loopback' | 'netns' /** Also bind the outbound port per workload (in-pod capture). */;
    bindOutbound?: boolean;
    /**
     * INPOD_PORT_REUSE (netns mode; default true): SO_REUSEPORT on the pod's listeners, so that a
     * new zt binds beside the old one and takes the pod over while the old one drains. Off, each
     * pod port can be bound once: only with one worker thread (each worker binds every pod).
     */
    reusePort?: boolean;
    /**
     * IPV6_ENABLED (netns mode; default true): bind the pod's listeners on `[::]`, dual stack, as
     * upstream binds its wildcard, so IPv6 and IPv4 traffic of a dual-stack pod are both served;
     * false binds `0.0.0.0` only. A pod whose kernel has no IPv6 gets `0.0.0.0`.
     */
    ipv6?: boolean;
  } & Partial<ListenerPorts>;
}

/** Everything a proxy needs besides certificates and a logger: plain data, cloneable to workers. */
export interface ProxyConfig {
  nodeName: string;
  network: string;
  trustDomain: string;
  listeners: ListenerOptions;
  /** UNSTABLE_ENABLE_SOCKS5: a SOCKS5 listener on loopback (port 0 allowed). */
  socks5?: { enabled: boolean; address?: string; port?: number };
  /** HBONE port of peers (upstream uses its own inbound port); default DEFAULT_HBONE_PORT. */
  hbonePort?: number;
  pool?: { maxStreamsPerConnection?: number; unusedReleaseTimeoutMs?: number; connectTimeoutMs?: number };
  http2?: Partial<FlowControl>;
  tls12Enabled?: boolean;
  /** CONNECTION_TERMINATION_DEADLINE, default DEFAULT_DRAIN_DEADLINE_MS. */
  drainDeadlineMs?: number;
  /** Mark zt's own sockets (DEFAULT_SOCKET_MARK) so in-pod capture rules skip them; needs @zt/native. */
  socketMark?: number;
  /**
   * In-pod inbound: connect to the pod's app from the client's own IP (IP_TRANSPARENT inside the
   * pod's namespace), as upstream does unless ENABLE_ORIG_SRC=false; the pod's routing (installed
   * by istio-cni) brings the app's replies back to zt. Best effort: when the kernel refuses the
   * source, zt connects from the pod's own address.
   */
  originalSource?: boolean;
  /**
   * LOCALHOST_APP_TUNNEL (default true, as upstream): in-pod, a workload's PROXY application
   * tunnel is reached on the pod's loopback, so only zt can reach it.
   */
  localhostAppTunnel?: boolean;
  /**
   * ENABLE_RESPONSE_BAGGAGE (default true, as upstream): an inbound HBONE CONNECT is answered 200
   * with a `baggage` header describing the destination workload, and a request's `baggage` labels
   * a source the state does not know. Off: neither.
   */
  responseBaggage?: boolean;
  /**
   * On-demand DNS for workloads known by hostname only: the servers to ask (`ip` or `ip:port`;
   * default the system's /etc/resolv.conf) and whether to ask for AAAA too (IPV6_ENABLED, default true).
   */
  dns?: { servers?: string[]; ipv6?: boolean };
  /**
   * KEEPALIVE_* and USER_TIMEOUT_ENABLED: TCP options on accepted outbound / plaintext inbound
   * connections and on the plain TCP connections zt dials; default DEFAULT_TCP_SOCKET_OPTIONS.
   */
  tcp?: TcpSocketOptions;
  /** ZT_RECENT_CONNECTIONS: closed connections each thread keeps for the admin page (default 500, 0: none). */
  recentConnections?: number;
  /**
   * Modules of custom transports, as absolute paths or URLs: every thread that runs flows (each
   * worker, or this thread with `workers: 0`) imports them when it starts and registers their
   * default export (a Transport or an array of them) in its own registry. `transports.register`
   * on the main thread does not reach worker threads; this does.
   */
  transportModules?: string[];
  /**
   * The DNS proxy (ISTIO_META_DNS_CAPTURE, default on). Served inside every pod's namespace in
   * in-pod mode (`listeners.workloads.mode: 'netns'`), on the node otherwise. Omit for none.
   */
  dnsProxy?: DnsProxyConfig;
}

/** The DNS proxy's settings (plain data: workers receive a copy). */
export interface DnsProxyConfig {
  /** ISTIO_META_DNS_PROXY_ADDR: default 127.0.0.1 and ::1 (where it exists), port 15053; port 0 picks one. */
  addresses?: { host: string; port: number }[];
  /** Where the forwarded names go: this resolv.conf's nameservers (default /etc/resolv.conf). */
  resolvConf?: string;
  /** Port of those nameservers (default 53; tests point it at their own server). */
  forwardPort?: number;
  /** CLUSTER_DOMAIN, default cluster.local. */
  clusterDomain?: string;
  /** PREFERED_SERVICE_NAMESPACE (upstream's spelling). */
  preferredServiceNamespace?: string;
  /** IPV6_ENABLED: false answers AAAA for mesh names empty. Default true. */
  ipv6Enabled?: boolean;
  /** The proxy's caps (@zt/dns DEFAULT_LIMITS otherwise). */
  limits?: Partial<DnsLimits>;
}

/** The address actually bound for a listener. */
export interface BoundListener {
  kind: 'outbound' | 'inboundPlaintext' | 'inbound' | 'socks5' | 'dns';
  /** `shared`, `socks5`, `dns` (UDP and TCP on this port), or the workload uid. */
  set: string;
  address: string;
  port: number;
}
