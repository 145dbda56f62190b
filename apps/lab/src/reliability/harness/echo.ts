// Workload-side servers: an echo server that also hashes what it received (so a test can prove
// every byte arrived, not just that the same number came back), and a sink whose connections the
// test can cut.
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';

export interface HashEcho {
  readonly host: string;
  readonly port: number;
  /** sha256 (hex) of every byte each finished connection received, in order of completion. */
  readonly received: Set<string>;
  readonly sockets: Set<Socket>;
  accepted: number;
  close(): Promise<void>;
}

export async function startHashEcho(host: string, port = 0): Promise<HashEcho> {
  const received = new Set<string>();
  const sockets = new Set<Socket>();
  const state = { accepted: 0 };
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
    state.accepted++;
    sockets.add(s);
    const h = createHash('sha256');
    s.on('data', (d: Buffer) => {
      h.update(d);
      if (!s.write(d)) {
        s.pause();
        s.once('drain', () => s.resume());
      }
    });
    s.on('end', () => {
      received.add(h.digest('hex'));
      s.end();
    });
    s.on('error', () => s.destroy());
    s.once('close', () => sockets.delete(s));
  });
  server.maxConnections = 1_000_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: 4096 }, resolve);
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('unexpected address');
  return {
    host,
    port: addr.port,
    received,
    sockets,
    get accepted() {
      return state.accepted;
    },
    set accepted(v: number) {
      state.accepted = v;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
