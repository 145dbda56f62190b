// Socket options on sockets Node already owns: read the original destination of a redirected
// connection, mark zt's own traffic, allow transparent (TPROXY) and non-local binds, time TCP
// keepalive probes and the user timeout.
import { addon, type RawAddress } from './binding.ts';
import { call } from './errors.ts';
import { type FdTarget, fdOf } from './fd.ts';

/** An IP socket address, with Node's family names. */
export interface SocketAddress {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

/** The mark upstream ztunnel puts on its own sockets so the capture rules let them through. */
export const ZT_SOCKET_MARK = 1337;

export function toSocketAddress(raw: RawAddress): SocketAddress {
  return { address: raw.address, port: raw.port, family: raw.family === 4 ? 'IPv4' : 'IPv6' };
}

/**
 * The destination the client meant before an iptables REDIRECT/DNAT sent the connection to us
 * (SO_ORIGINAL_DST, or IP6T_SO_ORIGINAL_DST for IPv6). Call it on an accepted socket.
 * Throws NativeSyscallError ENOENT when the connection was not NATed.
 */
export function originalDst(socket: FdTarget): SocketAddress {
  const native = addon('originalDst');
  const fd = fdOf(socket);
  return toSocketAddress(call(() => native.getOriginalDst(fd)));
}

function checkMark(mark: number): void {
  if (!Number.isInteger(mark) || mark < 0 || mark > 0xffffffff) {
    throw new RangeError(`mark must be an integer in 0..4294967295, got ${mark}`);
  }
}

/**
 * Sets SO_MARK (needs CAP_NET_ADMIN). For outbound connections the mark must be on the socket
 * before the SYN leaves: use `connectSocket({ mark })` instead of marking after `net.connect`.
 */
export function setMark(target: FdTarget, mark: number): void {
  checkMark(mark);
  const native = addon('setMark');
  const fd = fdOf(target);
  call(() => native.setSockOpt(fd, 'mark', mark));
}

/** Reads SO_MARK back. */
export function getMark(target: FdTarget): number {
  const native = addon('getMark');
  const fd = fdOf(target);
  return call(() => native.getSockOpt(fd, 'mark'));
}

/**
 * IP_TRANSPARENT (IPV6_TRANSPARENT on IPv6 sockets): lets a listener accept TPROXY'd connections
 * for any address and an outbound socket bind a non-local source. Needs CAP_NET_ADMIN. Must be set
 * before bind to matter; `openListener({ transparent: true })` does that.
 */
export function setTransparent(target: FdTarget, on = true): void {
  const native = addon('setTransparent');
  const fd = fdOf(target);
  call(() => native.setSockOpt(fd, 'transparent', on ? 1 : 0));
}

export function getTransparent(target: FdTarget): boolean {
  const native = addon('getTransparent');
  const fd = fdOf(target);
  return call(() => native.getSockOpt(fd, 'transparent')) !== 0;
}

/** IP_FREEBIND: bind to an address not (yet) configured on any interface. */
export function setFreebind(target: FdTarget, on = true): void {
  const native = addon('setFreebind');
  const fd = fdOf(target);
  call(() => native.setSockOpt(fd, 'freebind', on ? 1 : 0));
}

export function getFreebind(target: FdTarget): boolean {
  const native = addon('getFreebind');
  const fd = fdOf(target);
  return call(() => native.getSockOpt(fd, 'freebind')) !== 0;
}

/** TCP keepalive as Linux times it: the probes start after `idleSeconds` without traffic. */
export interface TcpKeepalive {
  /** TCP_KEEPIDLE: seconds of silence before the first probe (1..32767). */
  idleSeconds: number;
  /** TCP_KEEPINTVL: seconds between unanswered probes (1..32767). */
  intervalSeconds: number;
  /** TCP_KEEPCNT: unanswered probes before the connection is dropped (1..127). */
  count: number;
}

/** The kernel's limits (MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT). */
export const TCP_KEEPALIVE_LIMITS = { seconds: 32_767, count: 127 } as const;

function checkRange(what: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max)
    throw new RangeError(`${what} must be an integer in ${min}..${max}, got ${v}`);
}

/**
 * SO_KEEPALIVE on, with the idle time, probe interval and probe count all set (Node's
 * `setKeepAlive` sets only the idle time and leaves the other two at the host's defaults).
 */
export function setTcpKeepalive(target: FdTarget, ka: TcpKeepalive): void {
  checkRange('idleSeconds', ka.idleSeconds, 1, TCP_KEEPALIVE_LIMITS.seconds);
  checkRange('intervalSeconds', ka.intervalSeconds, 1, TCP_KEEPALIVE_LIMITS.seconds);
  checkRange('count', ka.count, 1, TCP_KEEPALIVE_LIMITS.count);
  const native = addon('setTcpKeepalive');
  const fd = fdOf(target);
  call(() => native.setSockOpt(fd, 'keepidle', ka.idleSeconds));
  call(() => native.setSockOpt(fd, 'keepintvl', ka.intervalSeconds));
  call(() => native.setSockOpt(fd, 'keepcnt', ka.count));
  call(() => native.setSockOpt(fd, 'keepalive', 1));
}

/** The keepalive timing of a socket; undefined when SO_KEEPALIVE is off. */
export function getTcpKeepalive(target: FdTarget): TcpKeepalive | undefined {
  const native = addon('getTcpKeepalive');
  const fd = fdOf(target);
  if (call(() => native.getSockOpt(fd, 'keepalive')) === 0) return undefined;
  return {
    idleSeconds: call(() => native.getSockOpt(fd, 'keepidle')),
    intervalSeconds: call(() => native.getSockOpt(fd, 'keepintvl')),
    count: call(() => native.getSockOpt(fd, 'keepcnt')),
  };
}

/**
 * TCP_USER_TIMEOUT: how long sent data may stay unacknowledged before the kernel drops the
 * connection (0: the kernel's default, retransmissions decide).
 */
export function setTcpUserTimeout(target: FdTarget, ms: number): void {
  checkRange('user timeout (ms)', ms, 0, 0x7fffffff);
  const native = addon('setTcpUserTimeout');
  const fd = fdOf(target);
  call(() => native.setSockOpt(fd, 'usertimeout', ms));
}

export function getTcpUserTimeout(target: FdTarget): number {
  const native = addon('getTcpUserTimeout');
  const fd = fdOf(target);
  return call(() => native.getSockOpt(fd, 'usertimeout'));
}

/** getsockname of a raw fd (Node's `address()` for fds it does not wrap); undefined for non-IP. */
export function localAddressOf(target: FdTarget): SocketAddress | undefined {
  const native = addon('localAddressOf');
  const fd = fdOf(target);
  const raw = call(() => native.getSockName(fd));
  return raw === undefined ? undefined : toSocketAddress(raw);
}

/** Closes a raw fd this package handed out (received over SCM_RIGHTS, or never wrapped by Node). */
export function closeFd(fd: number): void {
  const native = addon('closeFd');
  const checked = fdOf(fd);
  call(() => native.closeFd(checked));
}
