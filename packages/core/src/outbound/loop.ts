import { socketIp } from '@zt/xds';
import type { SocketAddr } from '../addr.ts';

/**
 * Upstream refuses an outbound connection to one of its own ports (15001, 15006, 15008 and the
 * SOCKS5 port) on loopback: that would be zt calling itself. zt also listens on node and pod
 * addresses, so the same holds for every address one of its listeners is bound to.
 */
export function isSelfCall(
  dst: SocketAddr,
  ownPorts: ReadonlySet<number>,
  ownAddresses: ReadonlySet<string>,
): boolean {
  if (!ownPorts.has(dst.port)) return false;
  const ip = socketIp(dst.address);
  return isLoopback(ip) || ownAddresses.has(ip);
}

export function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}
