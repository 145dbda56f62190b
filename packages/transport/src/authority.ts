import { isIPv4, isIPv6 } from 'node:net';
import { InvalidAuthorityError } from './errors.ts';

export interface SocketAddress {
  readonly address: string;
  readonly port: number;
}

/** An `ip:port` `:authority`: the final destination of a tunnel. */
export interface Authority extends SocketAddress {
  readonly family: 4 | 6;
}

/**
 * A `hostname:port` `:authority`: a service by its hostname and service port. Upstream sends it
 * through a network gateway (double HBONE): the gateway picks an endpoint of the service on its
 * network, and the endpoint's zt maps the service port to the workload's port.
 */
export interface HostAuthority {
  readonly hostname: string;
  readonly port: number;
}

/** Either form of an HBONE `:authority`; tell them apart with `'hostname' in a`. */
export type HboneAuthority = Authority | HostAuthority;

function parsePort(authority: string, text: string, hostnames = false): number {
  if (!/^[0-9]{1,5}$/.test(text)) throw new InvalidAuthorityError(authority, hostnames);
  const port = Number(text);
  if (port < 1 || port > 65535) throw new InvalidAuthorityError(authority, hostnames);
  return port;
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
  const port = parsePort(authority, portText);
  return { address: host, port, family: isIPv6(host) ? 6 : 4 };
}

// A DNS name as Kubernetes writes service hostnames: dot-separated labels of letters, digits,
// '-' and '_' (no leading or trailing '-'), 253 characters at most. Anything else in a URI host
// (userinfo, percent escapes, an IP in another spelling) is not a service hostname.
const LABEL = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
const DOTTED_NUMBERS = /^[0-9.]+$/;

function isHostname(host: string): boolean {
  if (host.length === 0 || host.length > 253 || DOTTED_NUMBERS.test(host)) return false;
  const labels = host.endsWith('.') ? host.slice(0, -1).split('.') : host.split('.');
  return labels.every((l) => LABEL.test(l));
}

/**
 * Parses an HBONE `:authority` as upstream's HboneAddress does: an `ip:port` socket address when
 * it is one, otherwise `hostname:port` (a service hostname, as a network gateway receives it, and
 * as the inner tunnel of double HBONE names its destination). Hostnames are lower-cased.
 */
export function parseHboneAuthority(authority: string): HboneAuthority {
  if (authority.startsWith('[')) return parseAuthority(authority);
  const colon = authority.lastIndexOf(':');
  if (colon < 0) throw new InvalidAuthorityError(authority, true);
  const host = authority.slice(0, colon);
  if (isIPv4(host)) return parseAuthority(authority);
  if (!isHostname(host)) throw new InvalidAuthorityError(authority, true);
  return { hostname: host.toLowerCase(), port: parsePort(authority, authority.slice(colon + 1), true) };
}

export function formatAuthority(address: string, port: number): string {
  return isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The `:authority` text of either form. */
export function formatHboneAuthority(a: HboneAuthority): string {
  return 'hostname' in a ? `${a.hostname}:${a.port}` : formatAuthority(a.address, a.port);
}
