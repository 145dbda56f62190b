import { connect, type Socket } from 'node:net';
import type { SocketAddr } from '../addr.ts';
import type { FlowContext } from '../context.ts';

/** A plain TCP connection, from inside `netns` when given; resolves once connected. */
export async function dialTcp(
  ctx: FlowContext,
  target: SocketAddr,
  netns?: string,
  timeoutMs = 10_000,
): Promise<Socket> {
  const mark = ctx.config.socketMark;
  if (ctx.ops.connect && (netns || mark)) {
    try {
      return await ctx.ops.connect(target, { ...(netns ? { netns } : {}), ...(mark ? { mark } : {}) });
    } catch (e) {
      throw new DialError(target, (e as Error).message);
    }
  }
  return new Promise((resolve, reject) => {
    const s = connect({ host: target.address, port: target.port, allowHalfOpen: true, noDelay: true });
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

export class DialError extends Error {
  readonly code = 'ERR_DIAL';
  constructor(target: SocketAddr, why: string) {
    super(
      `connection to ${target.address}:${target.port} failed: ${why}; check that the destination is listening and no NetworkPolicy blocks it`,
    );
    this.name = 'DialError';
  }
}
