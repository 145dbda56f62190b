// The DNS proxy's settings, read as upstream reads them (src/config.rs): on unless the proxy
// metadata's DNS_CAPTURE is not `true`, its address from DNS_PROXY_ADDR. The proxy metadata is the
// one config-proxy.ts merges (the mesh config, PROXY_CONFIG, then the ISTIO_META_* variables).

import { isIP } from 'node:net';
import { DEFAULT_DNS_ADDRESSES, DEFAULT_DNS_PORT } from '@zt/core';
import { bool, ConfigError, type Env, int, str } from './config-env.ts';

export interface DnsConfig {
  /** ISTIO_META_DNS_CAPTURE (proxy metadata DNS_CAPTURE): default on, as upstream. */
  dnsProxy: boolean;
  /** ISTIO_META_DNS_PROXY_ADDR: `localhost:<port>` (both loopbacks) or `<ip>:<port>`. */
  dnsProxyAddr: { host: string; port: number }[];
  /** IPV6_ENABLED (default true): AAAA answers for mesh names, AAAA lookups of hostname workloads, the admin API on ::1 too. */
  ipv6Enabled: boolean;
  /** PREFERED_SERVICE_NAMESPACE (upstream's spelling): which namespace wins a shared hostname. */
  preferredServiceNamespace: string | undefined;
  /** zt extension ZT_DNS_RESOLV_CONF: the resolv.conf whose servers get forwarded names (default /etc/resolv.conf). */
  dnsResolvConf: string | undefined;
  /** zt extension ZT_DNS_FORWARD_PORT: the port of those servers (default 53; labs and tests). */
  dnsForwardPort: number | undefined;
  /** zt extension ZT_DNS_QPS_PER_SOURCE: queries per second one source may send (default @zt/dns's). */
  dnsQpsPerSource: number | undefined;
}

/** `localhost:<port>` or a numeric `<ip>:<port>` (`[v6]:port` too), as upstream's Address::new. */
function dnsAddress(value: string): { host: string; port: number }[] {
  const name = 'ISTIO_META_DNS_PROXY_ADDR';
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value);
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port > 65535)
    throw new ConfigError(name, value, 'localhost:<port> or <ip>:<port>');
  const host = m[1] ?? m[2] ?? '';
  if (host === 'localhost') return DEFAULT_DNS_ADDRESSES.map((a) => ({ host: a.host, port }));
  if (isIP(host) === 0) throw new ConfigError(name, value, 'localhost:<port> or a numeric <ip>:<port>');
  return [{ host, port }];
}

/**
 * `loopback`: zt's own loopback address when the node-level listeners are bound to one
 * (ZT_BIND_ADDRESS=127.x outside in-pod mode, the lab's several nodes on one host): the default
 * DNS address is then that address, port 15053, so the nodes keep apart as their other listeners do.
 */
export function loadDnsConfig(env: Env, metadata: Record<string, string>, loopback?: string): DnsConfig {
  const capture = metadata['DNS_CAPTURE'];
  const addr = metadata['DNS_PROXY_ADDR'];
  const qps = str(env, 'ZT_DNS_QPS_PER_SOURCE');
  const port = str(env, 'ZT_DNS_FORWARD_PORT');
  return {
    // As upstream: anything but `true` (any case) turns it off once set.
    dnsProxy: capture === undefined || capture.toLowerCase() === 'true',
    dnsProxyAddr:
      addr !== undefined && addr !== ''
        ? dnsAddress(addr)
        : loopback !== undefined
          ? [{ host: loopback, port: DEFAULT_DNS_PORT }]
          : DEFAULT_DNS_ADDRESSES.map((a) => ({ host: a.host, port: DEFAULT_DNS_PORT })),
    ipv6Enabled: bool(env, 'IPV6_ENABLED', true),
    preferredServiceNamespace: str(env, 'PREFERED_SERVICE_NAMESPACE'),
    dnsResolvConf: str(env, 'ZT_DNS_RESOLV_CONF'),
    dnsForwardPort: port === undefined ? undefined : int(env, 'ZT_DNS_FORWARD_PORT', 53, 1, 65535),
    dnsQpsPerSource: qps === undefined ? undefined : int(env, 'ZT_DNS_QPS_PER_SOURCE', 0, 1, 10_000_000),
  };
}
