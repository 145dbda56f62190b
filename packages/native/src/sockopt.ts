// Socket options on sockets Node already owns: read the original destination of a redirected
// connection, mark zt's own traffic, allow transparent (TPROXY) and non-local binds.
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
