/** An IP and a port; addresses are in canonical text form. */
export interface SocketAddr {
  address: string;
  port: number;
}

/** `ip:port`, IPv6 in brackets: the form of HBONE `:authority` and of logs. */
export function formatAddr(a: SocketAddr): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** Parses `ip:port` / `[ip6]:port`; undefined when malformed. */
export function parseAddr(s: string): SocketAddr | undefined {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(s) ?? /^([0-9.]+):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 0 || port > 65535) return undefined;
  return { address: (m[1] ?? '').toLowerCase(), port };
}
