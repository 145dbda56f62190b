// A TCP proxy in front of a control-plane server (xDS, CA) that a test can take down and bring
// back on the same port: "istiod is down" as zt sees it (connections cut, connects refused).
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: what zt is pointed at. */
  readonly address: string;
  readonly isUp: boolean;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    const s = createServer((c) => {
      const u = connect(target);
      for (const x of [c, u]) {
        sockets.add(x);
        x.once('close', () => sockets.delete(x));
        x.on('error', () => {
          c.destroy();
          u.destroy();
        });
      }
      c.pipe(u).pipe(c);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', resolve);
    });
    const a = s.address();
    if (a === null || typeof a === 'string') throw new Error('unexpected address');
    port = a.port;
    server = s;
  };
  const down = async () => {
    const s = server;
    server = undefined;
    for (const x of sockets) x.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  await listen();
  return {
    address: `http://127.0.0.1:${port}`,
    get isUp() {
      return server !== undefined;
    },
    down,
    up: () => (server ? Promise.resolve() : listen()),
    close: down,
  };
}

export function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}
