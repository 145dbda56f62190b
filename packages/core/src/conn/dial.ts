import { connect, type Socket } from 'node:net';
import type { SocketAddr } from '../addr.ts';
import type { FlowContext } from '../context.ts';

/** A plain TCP connection, from inside `netns` when given; resolves once connected. */
export function dialTcp(
  ctx: FlowContext,
  target: SocketAddr,
  netns?: string,
  timeoutMs = 10_000,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let s: Socket;
    if (netns && ctx.ops.connectInNetns) {
      s = ctx.ops.connectInNetns(netns, target);
    } else {
      s = connect({ host: target.address, port: target.port, allowHalfOpen: true, noDelay: true });
    }
    if (ctx.config.socketMark && ctx.ops.mark) ctx.ops.mark(s, ctx.config.socketMark);
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
