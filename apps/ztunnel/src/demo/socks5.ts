// A minimal SOCKS5 client (RFC 1928, no auth, CONNECT to an IPv4 address) for the demo's sample
// workloads: they reach the mesh through zt's SOCKS5 listener, from their own pod address, which
// is how zt knows who they are without iptables (and without root).
import { connect, isIPv4, type Socket } from 'node:net';

export class Socks5Error extends Error {
  readonly code = 'ERR_ZT_DEMO_SOCKS5';
}

function readExactly(sock: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < n) return;
      cleanup();
      const rest = buf.subarray(n);
      if (rest.length > 0) sock.unshift(rest);
      resolve(buf.subarray(0, n));
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Socks5Error('proxy closed the connection during the SOCKS5 handshake'));
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
  });
}

/** Opens `dest` through the SOCKS5 proxy at `proxy`, from `localAddress`; resolves with the socket. */
export async function socks5Connect(opts: {
  proxy: { host: string; port: number };
  localAddress: string;
  dest: { host: string; port: number };
}): Promise<Socket> {
  if (!isIPv4(opts.dest.host)) throw new Socks5Error(`demo client speaks IPv4 only, got ${opts.dest.host}`);
  const sock = connect({ host: opts.proxy.host, port: opts.proxy.port, localAddress: opts.localAddress });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  try {
    sock.write(Buffer.from([5, 1, 0]));
    const method = await readExactly(sock, 2);
    if (method[0] !== 5 || method[1] !== 0) throw new Socks5Error('proxy refused the no-auth method');
    const port = Buffer.alloc(2);
    port.writeUInt16BE(opts.dest.port);
    const ip = Buffer.from(opts.dest.host.split('.').map(Number));
    sock.write(Buffer.concat([Buffer.from([5, 1, 0, 1]), ip, port]));
    const reply = await readExactly(sock, 10);
    if (reply[1] !== 0) throw new Socks5Error(`proxy answered SOCKS5 reply code ${reply[1]}`);
    return sock;
  } catch (e) {
    sock.destroy();
    throw e;
  }
}
