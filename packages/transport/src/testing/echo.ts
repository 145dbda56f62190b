import { createServer, type Server, type Socket } from 'node:net';
import type { SocketAddress } from '../authority.ts';

export interface EchoServer {
  readonly address: SocketAddress;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

/** A TCP echo server on 127.0.0.1: writes back what it reads, half-closes when the client does. */
export async function startEchoServer(host = '127.0.0.1'): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => s.destroy());
    s.once('close', () => sockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('unexpected address');
  return {
    address: { address: addr.address, port: addr.port },
    get accepted() {
      return accepted;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
