// A SOCKS5 client (RFC 1928: no authentication, CONNECT to an IPv4 address) for entering the mesh
// through zt's SOCKS5 listener from a pod's IP, which is how zt knows the source workload.
import { connect, isIPv4, type Socket } from 'node:net';

export class Socks5Error extends Error {
  readonly code = 'ERR_ZT_BENCH_SOCKS5';
}

const REPLIES: Record<number, string> = {
  1: 'general failure',
  2: 'not allowed by ruleset',
  3: 'network unreachable',
  4: 'host unreachable',
  5: 'connection refused',
  6: 'TTL expired',
  7: 'command not supported',
  8: 'address type not supported',
};

/** Encodes the CONNECT request for an IPv4 destination. */
export function connectRequest(host: string, port: number): Buffer {
  if (!isIPv4(host)) throw new Socks5Error(`bench SOCKS5 client speaks IPv4 only, got ${host}`);
  const req = Buffer.alloc(10);
  req.set([5, 1, 0, 1], 0);
  req.set(host.split('.').map(Number), 4);
  req.writeUInt16BE(port, 8);
  return req;
}

/** Resolves with exactly `n` bytes; anything after them is pushed back onto the socket. */
function readExactly(sock: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf: Buffer | undefined;
    const onData = (chunk: Buffer): void => {
      buf = buf === undefined ? chunk : Buffer.concat([buf, chunk]);
      if (buf.length < n) return;
      cleanup();
      sock.pause();
      if (buf.length > n) sock.unshift(buf.subarray(n));
      resolve(buf.subarray(0, n));
    };
    const onEnd = (): void => {
      cleanup();
      reject(
        new Socks5Error(
          'the SOCKS5 proxy closed the connection during the handshake; is zt up with UNSTABLE_ENABLE_SOCKS5=true?',
        ),
      );
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const cleanup = (): void => {
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('error', onError);
    };
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('error', onError);
    // An earlier readExactly paused the socket; a new 'data' listener does not undo an explicit pause.
    sock.resume();
  });
}

export interface Socks5Options {
  proxy: { host: string; port: number };
  localAddress: string;
  /** Source port; 0 or absent lets the kernel pick one. */
  localPort?: number;
  dest: { host: string; port: number };
}

/** Opens `dest` through the SOCKS5 proxy from `localAddress`; resolves with the (paused) socket. */
export async function socks5Connect(opts: Socks5Options): Promise<Socket> {
  const request = connectRequest(opts.dest.host, opts.dest.port);
  const sock = connect({
    host: opts.proxy.host,
    port: opts.proxy.port,
    localAddress: opts.localAddress,
    ...(opts.localPort ? { localPort: opts.localPort } : {}),
  });
  sock.setNoDelay(true);
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    sock.write(Buffer.from([5, 1, 0]));
    const method = await readExactly(sock, 2);
    if (method[0] !== 5 || method[1] !== 0) throw new Socks5Error('the proxy refused the no-auth method');
    sock.write(request);
    const reply = await readExactly(sock, 10);
    const code = reply[1] ?? 1;
    if (code !== 0) {
      throw new Socks5Error(`the proxy answered CONNECT with ${code} (${REPLIES[code] ?? 'unknown'})`);
    }
    sock.removeAllListeners('error');
    return sock;
  } catch (e) {
    sock.destroy();
    throw e;
  }
}
