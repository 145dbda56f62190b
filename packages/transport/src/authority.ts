import { isIPv4, isIPv6 } from 'node:net';
import { InvalidAuthorityError } from './errors.ts';

export interface SocketAddress {
  readonly address: string;
  readonly port: number;
}

export interface Authority extends SocketAddress {
  readonly family: 4 | 6;
}

/** Parses an HBONE `:authority`: `a.b.c.d:port` or `[v6]:port`. Hostnames are refused. */
export function parseAuthority(authority: string): Authority {
  let host: string;
  let portText: string;
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    if (end < 0 || authority[end + 1] !== ':') throw new InvalidAuthorityError(authority);
    host = authority.slice(1, end);
    portText = authority.slice(end + 2);
    if (!isIPv6(host)) throw new InvalidAuthorityError(authority);
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon < 0) throw new InvalidAuthorityError(authority);
    host = authority.slice(0, colon);
    portText = authority.slice(colon + 1);
    if (!isIPv4(host)) throw new InvalidAuthorityError(authority);
  }
  if (!/^[0-9]{1,5}$/.test(portText)) throw new InvalidAuthorityError(authority);
  const port = Number(portText);
  if (port < 1 || port > 65535) throw new InvalidAuthorityError(authority);
  return { address: host, port, family: isIPv6(host) ? 6 : 4 };
}

export function formatAuthority(address: string, port: number): string {
  return isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}
