import { Server, type Socket } from 'node:net';
import { NoFdError } from './errors.ts';

/** What the socket-option calls accept: a Node socket (TLS sockets too), a server, or a raw fd. */
export type FdTarget = Socket | Server | number;

interface WithHandle {
  _handle?: { fd?: number } | null;
}

/**
 * The file descriptor behind a Node socket or server. Node keeps it on the internal libuv handle
 * (`_handle.fd`, -1 until the socket connects or the server listens); this is the one place that
 * reaches into it.
 */
export function fdOf(target: FdTarget): number {
  if (typeof target === 'number') {
    if (!Number.isInteger(target) || target < 0) throw new NoFdError(`fd ${target}`);
    return target;
  }
  const fd = (target as unknown as WithHandle)._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new NoFdError(target instanceof Server ? 'the server' : 'the socket');
  }
  return fd;
}
