import type { FlowControl } from '@zt/transport';
import type { LogFormat } from './log-format.ts';

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
  /** HBONE port of peers (upstream uses its own inbound port); default 15008. */
  hbonePort?: number;
  pool?: { maxStreamsPerConnection?: number; unusedReleaseTimeoutMs?: number; connectTimeoutMs?: number };
  http2?: Partial<FlowControl>;
  tls12Enabled?: boolean;
  /** CONNECTION_TERMINATION_DEADLINE, default 5000. */
  drainDeadlineMs?: number;
  /** Mark zt's own sockets (SO_MARK 1337) so in-pod capture rules skip them; needs @zt/native. */
  socketMark?: number;
  /**
   * In-pod inbound: connect to the pod's app from the client's own IP (IP_TRANSPARENT inside the
   * pod's namespace), as upstream does unless ENABLE_ORIG_SRC=false; the pod's routing (installed
   * by istio-cni) brings the app's replies back to zt. Best effort: when the kernel refuses the
   * source, zt connects from the pod's own address.
   */
  originalSource?: boolean;
  /** ZT_RECENT_CONNECTIONS: closed connections each thread keeps for the admin page (default 500, 0: none). */
  recentConnections?: number;
  /** pino level for the proxy's (and access) logs in workers. */
  logLevel?: string;
  /** LOG_FORMAT of the workers' lines (default plain, as upstream). */
  logFormat?: LogFormat;
}

/** The address actually bound for a listener. */
export interface BoundListener {
  kind: 'outbound' | 'inboundPlaintext' | 'inbound' | 'socks5';
  /** `shared`, `socks5`, or the workload uid. */
  set: string;
  address: string;
  port: number;
}
