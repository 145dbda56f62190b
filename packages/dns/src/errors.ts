import { ZtError } from '@zt/errors';

/** A listener could not be bound: the address is missing, the port is taken, or the netns is gone. */
export class DnsListenError extends ZtError {
  constructor(protocol: 'udp' | 'tcp', host: string, port: number, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      'ERR_ZT_DNS_LISTEN',
      `cannot listen for DNS over ${protocol} on ${hostPort(host, port)}: ${why}; check that the address exists and nothing else holds the port (ISTIO_META_DNS_PROXY_ADDR)`,
      { cause },
    );
    this.name = 'DnsListenError';
  }
}

/** A listener inside a pod's network namespace was asked for, but no bind function was given. */
export class DnsNetnsUnsupportedError extends ZtError {
  constructor(netns: string) {
    super(
      'ERR_ZT_DNS_NETNS_UNSUPPORTED',
      `cannot listen for DNS inside netns ${netns}: the DnsProxy was built without a \`bind\` (DnsBind) that creates sockets in another network namespace`,
    );
    this.name = 'DnsNetnsUnsupportedError';
  }
}

/** resolv.conf could not be read or names no usable nameserver. */
export class ResolvConfError extends ZtError {
  constructor(path: string, why: string, cause?: unknown) {
    super(
      'ERR_ZT_DNS_RESOLV_CONF',
      `cannot forward DNS queries with ${path}: ${why}; it needs at least one "nameserver <ip>" line`,
      cause === undefined ? undefined : { cause },
    );
    this.name = 'ResolvConfError';
  }
}

export type ForwardFailure = 'timeout' | 'unreachable' | 'malformed' | 'closed';

const FORWARD_CODES: Record<ForwardFailure, string> = {
  timeout: 'ERR_ZT_DNS_FORWARD_TIMEOUT',
  unreachable: 'ERR_ZT_DNS_FORWARD_UNREACHABLE',
  malformed: 'ERR_ZT_DNS_UPSTREAM_MALFORMED',
  closed: 'ERR_ZT_DNS_CLOSED',
};

/** A forwarded query got no usable answer; the client gets SERVFAIL. */
export class DnsForwardError extends ZtError {
  readonly reason: ForwardFailure;
  constructor(reason: ForwardFailure, detail: string, cause?: unknown) {
    super(
      FORWARD_CODES[reason],
      `DNS forward failed (${reason}): ${detail}; check the nameservers of resolv.conf and that they answer from this host`,
      cause === undefined ? undefined : { cause },
    );
    this.name = 'DnsForwardError';
    this.reason = reason;
  }
}

export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
