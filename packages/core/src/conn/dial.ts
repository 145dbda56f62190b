import { connect, type Socket } from 'node:net';
import type { SocketAddr } from '../addr.ts';
import type { FlowContext } from '../context.ts';
import { DialError } from '../errors.ts';
import { pooledReadOptions, trackPooledReads } from './read-pool.ts';
import { applyTcpOptions, DEFAULT_TCP_SOCKET_OPTIONS } from './socket-options.ts';

/**
 * A plain TCP connection, from inside `netns` when given, and from the client's `source` IP when
 * given and the config asks for original-source (in-pod inbound); resolves once connected. A
 * socket Node connects itself (no netns, no mark) reads into pooled buffers (read-pool.ts): it
 * emits no 'data', and relay() is what reads it.
 */
export async function dialTcp(
  ctx: Pick<FlowContext, 'config' | 'ops' | 'log'>,
  target: SocketAddr,
  netns?: string,
  source?: string,
  timeoutMs = 10_000,
): Promise<Socket> {
  const s = await connectTcp(ctx, target, netns, source, timeoutMs);
  applyTcpOptions(s, ctx.config.tcp ?? DEFAULT_TCP_SOCKET_OPTIONS, ctx.ops, ctx.log);
  return s;
}

async function connectTcp(
  ctx: Pick<FlowContext, 'config' | 'ops' | 'log'>,
  target: SocketAddr,
  netns: string | undefined,
  source: string | undefined,
  timeoutMs: number,
): Promise<Socket> {
  const mark = ctx.config.socketMark;
  const opsConnect = ctx.ops.connect;
  if (opsConnect && (netns || mark)) {
    const base = { ...(netns ? { netns } : {}), ...(mark ? { mark } : {}) };
    if (netns && source && ctx.config.originalSource) {
      try {
        return await opsConnect(target, { ...base, localAddress: source, transparent: true });
      } catch (e) {
        // A refused setsockopt or bind (no CAP_NET_ADMIN, an address family mismatch) falls back
        // to the pod's own address; a failed connect is the destination's answer and stands.
        if ((e as { syscall?: string }).syscall === 'connect')
          throw new DialError(target, (e as Error).message);
        ctx.log.debug({ err: e, source }, 'original source refused; connecting from the pod address');
      }
    }
    try {
      return await opsConnect(target, base);
    } catch (e) {
      throw new DialError(target, (e as Error).message);
    }
  }
  return new Promise((resolve, reject) => {
    const s = connect({
      host: target.address,
      port: target.port,
      allowHalfOpen: true,
      noDelay: true,
      ...pooledReadOptions(),
    });
    trackPooledReads(s);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new DialError(target, 'timed out'));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.off('error', onErr);
      resolve(s);
    });
    const onErr = (e: Error) => {
      clearTimeout(timer);
      reject(new DialError(target, e.message));
    };
    s.once('error', onErr);
  });
}
