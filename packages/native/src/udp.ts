// UDP sockets bound inside another network namespace (the in-pod DNS proxy), handed to Node's
// dgram as fds. Node cannot create a socket in another namespace: the addon does it on a thread of
// its own (see open.c) and dgram adopts the bound fd.
import type { Socket as DgramSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { addon } from './binding.ts';
import { openBound, type SocketOptions } from './socket.ts';
import type { SocketAddress } from './sockopt.ts';

export interface UdpBindOptions extends SocketOptions {
  /** Numeric IP address to bind ('127.0.0.1', '::1', '0.0.0.0'). */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /**
   * SO_REUSEADDR, default false: on UDP it lets any later socket bind the same address and take
   * its datagrams, which a DNS listener must not allow (as Node's dgram default).
   */
  reuseAddr?: boolean;
  /** SO_REUSEPORT: several sockets (one per worker thread) share the port, the kernel spreads datagrams. */
  reusePort?: boolean;
  /** IPV6_V6ONLY for IPv6 hosts; default: the kernel's (dual stack). */
  ipv6Only?: boolean;
}

/** Creates a bound, non-blocking UDP socket and returns its fd (the caller owns it). */
export function openUdpSocket(options: UdpBindOptions): number {
  return openBound('openUdpSocket', options, {
    listen: false,
    udp: true,
    reuseAddr: options.reuseAddr ?? false,
  });
}

/**
 * Binds `socket` (created with `dgram.createSocket`, of the host's family: `udp4` for an IPv4
 * host, `udp6` for IPv6) to a UDP socket made by openUdpSocket, for example inside a pod's network
 * namespace. Resolves with the bound address once the socket is bound.
 */
export async function bindUdpSocket(socket: DgramSocket, options: UdpBindOptions): Promise<SocketAddress> {
  const fd = openUdpSocket(options);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ fd }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    // dgram adopts the fd only when it opens the handle; a refusal before that leaves it ours.
    try {
      addon('bindUdpSocket').closeFd(fd);
    } catch {
      // Already closed with the handle.
    }
    throw e;
  }
  const a = socket.address();
  return { address: a.address, port: a.port, family: isIPv6(a.address) ? 'IPv6' : 'IPv4' };
}
