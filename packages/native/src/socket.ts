// TCP sockets with options set before bind/connect (mark, transparent, freebind, reuseport),
// optionally created inside another network namespace (in-pod mode), handed to Node as fds.
import { type Server, Socket } from 'node:net';
import { constants } from 'node:os';
import { getSystemErrorMessage, getSystemErrorName } from 'node:util';
import { addon, type RawOpenSpec } from './binding.ts';
import { call, NativeSyscallError } from './errors.ts';
import { FdWatcher, WRITABLE } from './poll.ts';
import type { SocketAddress } from './sockopt.ts';

/**
 * A network namespace: a path (`/var/run/netns/<name>`, `/proc/<pid>/ns/net`), a bare name
 * (resolved under /var/run/netns), or an open fd of such a file (kept open by the caller).
 */
export type NetnsRef = string | number;

export interface SocketOptions {
  /** Create the socket inside this network namespace; omitted: the caller's own. */
  netns?: NetnsRef;
  /** SO_MARK, e.g. ZT_SOCKET_MARK so the capture rules skip zt's own traffic. */
  mark?: number;
  /** IP_TRANSPARENT / IPV6_TRANSPARENT (TPROXY listeners, non-local source addresses). */
  transparent?: boolean;
  /** IP_FREEBIND: bind an address not configured (yet). */
  freebind?: boolean;
}

export interface ListenerOptions extends SocketOptions {
  /** Numeric IP address to bind ('0.0.0.0', '::', '127.0.0.1', a pod IP). */
  host: string;
  /** 0 picks a free port; read it back with `server.address()` or `localAddressOf(fd)`. */
  port: number;
  backlog?: number;
  /** SO_REUSEADDR, default true (as Node's own listeners). */
  reuseAddr?: boolean;
  /** SO_REUSEPORT, so each worker thread can own a listener on the same port. */
  reusePort?: boolean;
  /** IPV6_V6ONLY for IPv6 hosts; default: the kernel's (dual stack). */
  ipv6Only?: boolean;
}

export interface ConnectOptions extends SocketOptions {
  /** Numeric destination IP address and port. */
  host: string;
  port: number;
  /** Source address (and port) to bind before connecting, e.g. the client's IP with transparent. */
  localAddress?: string;
  localPort?: number;
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
}

export function netnsSpec(netns: NetnsRef | undefined): Pick<RawOpenSpec, 'netnsPath' | 'netnsFd'> {
  if (netns === undefined) return {};
  if (typeof netns === 'number') {
    if (!Number.isInteger(netns) || netns < 0)
      throw new RangeError(`netns fd must be a non-negative integer`);
    return { netnsFd: netns };
  }
  if (netns === '') throw new RangeError('netns must not be empty');
  return { netnsPath: netns.includes('/') ? netns : `/var/run/netns/${netns}` };
}

/** A port argument the kernel can take, or a RangeError naming it (UDP sockets share it). */
export function checkPort(port: number | undefined, what: string): void {
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new RangeError(`${what} must be an integer in 0..65535, got ${port}`);
  }
}

/** Creates a bound, listening TCP socket and returns its fd (the caller owns it). */
export function openListener(options: ListenerOptions): number {
  return openBound('openListener', options, {
    listen: true,
    backlog: options.backlog ?? 511,
    reuseAddr: options.reuseAddr ?? true,
  });
}

/** What a bound socket (a TCP listener, a UDP socket) is opened with, whatever its kind. */
export interface BindOptions extends SocketOptions {
  host: string;
  port: number;
  reusePort?: boolean;
  ipv6Only?: boolean;
}

/**
 * Opens a bound socket through the addon (inside `options.netns` when given) and returns its fd:
 * the options every kind shares, plus `kind` (TCP listener or UDP, and their own defaults).
 * `caller` names the API in the error when the addon is unavailable.
 */
export function openBound(
  caller: string,
  options: BindOptions,
  kind: Pick<RawOpenSpec, 'listen' | 'udp' | 'backlog' | 'reuseAddr'>,
): number {
  const native = addon(caller);
  checkPort(options.port, 'port');
  const spec: RawOpenSpec = {
    ...kind,
    address: options.host,
    port: options.port,
    reusePort: options.reusePort ?? false,
    mark: options.mark,
    transparent: options.transparent ?? false,
    freebind: options.freebind ?? false,
    ipv6Only: options.ipv6Only,
    ...netnsSpec(options.netns),
  };
  const where = options.netns === undefined ? undefined : `netns ${options.netns}`;
  return call(() => native.openSocket(spec), where).fd;
}

/**
 * Makes `server` listen on a socket made by openListener (for example inside a pod's namespace).
 * Resolves with the bound address once the server is listening.
 */
export async function listenServer(server: Server, options: ListenerOptions): Promise<SocketAddress> {
  const fd = openListener(options);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    // A failed listen() has already closed the handle, and the fd with it.
    if ((e as NodeJS.ErrnoException).syscall !== 'listen') addon('listenServer').closeFd(fd);
    throw e;
  }
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('listener is not an IP socket');
  return {
    address: address.address,
    port: address.port,
    family: address.family === 'IPv6' ? 'IPv6' : 'IPv4',
  };
}

function connectError(errno: number, detail?: string): NativeSyscallError {
  return new NativeSyscallError(
    getSystemErrorName(-errno),
    -errno,
    'connect',
    detail ?? getSystemErrorMessage(-errno),
  );
}

/** Opens a TCP connection and resolves with its fd once connected (the caller owns it). */
export async function openConnection(options: ConnectOptions): Promise<number> {
  const native = addon('openConnection');
  checkPort(options.port, 'port');
  checkPort(options.localPort, 'localPort');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const spec: RawOpenSpec = {
    listen: false,
    address: options.host,
    port: options.port,
    localAddress: options.localAddress,
    localPort: options.localPort,
    mark: options.mark,
    transparent: options.transparent ?? false,
    freebind: options.freebind ?? false,
    ...netnsSpec(options.netns),
  };
  const where = options.netns === undefined ? undefined : `netns ${options.netns}`;
  const { fd, pending } = call(() => native.openSocket(spec), where);
  if (!pending) return fd;
  const watcher = new FdWatcher(native, fd, true);
  let timer: NodeJS.Timeout | undefined;
  try {
    const timedOut = await Promise.race([
      watcher.wait(WRITABLE).then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    watcher.close(new Error('connect finished'));
    if (timedOut)
      throw connectError(
        constants.errno.ETIMEDOUT,
        `no answer from ${options.host}:${options.port} within ${timeoutMs} ms`,
      );
    const errno = native.socketError(fd);
    if (errno !== 0)
      throw connectError(errno, `${options.host}:${options.port}: ${getSystemErrorMessage(-errno)}`);
    return fd;
  } catch (e) {
    watcher.close(e as Error);
    native.closeFd(fd);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** openConnection wrapped in a connected net.Socket. */
export async function connectSocket(options: ConnectOptions): Promise<Socket> {
  const fd = await openConnection(options);
  return new Socket({ fd, readable: true, writable: true });
}
