// The target server of every scenario, one port for all of them so a peer proxy pair needs one
// route. The first byte picks the mode:
//   'E'           echo everything that follows (connection rate, latency, idle connections);
//   'B' + u64 BE back + u64 BE expect
//                 bulk: send `back` bytes while discarding what arrives; end once `expect` bytes
//                 have arrived and all `back` bytes are sent. The client never half-closes: a TLS
//                 proxy such as stunnel turns a half-close into a full close (close_notify), which
//                 would cut the other direction short.
import { createServer, type Server, type Socket } from 'node:net';

export const MODE_ECHO = 0x45;
export const MODE_BULK = 0x42;
export const BULK_HEADER = 17;

/** One shared block of payload bytes (content is irrelevant; TLS encrypts it anyway). */
export const BLOCK = Buffer.alloc(256 * 1024, 0x61);

/** Writes `total` bytes of BLOCK to `sock` with backpressure; resolves when handed to the kernel. */
export function writeBytes(sock: Socket, total: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = total;
    const onError = (e: Error): void => reject(e);
    sock.once('error', onError);
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, BLOCK.length);
        left -= n;
        if (!sock.write(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n))) {
          sock.once('drain', pump);
          return;
        }
      }
      sock.off('error', onError);
      resolve();
    };
    pump();
  });
}

function handle(sock: Socket): void {
  sock.setNoDelay(true);
  sock.on('error', () => sock.destroy());
  let header: Buffer | undefined;
  const onData = (chunk: Buffer): void => {
    header = header === undefined ? chunk : Buffer.concat([header, chunk]);
    const mode = header[0];
    if (mode === MODE_ECHO) {
      sock.off('data', onData);
      if (header.length > 1) sock.write(header.subarray(1));
      sock.pipe(sock);
    } else if (mode === MODE_BULK) {
      if (header.length < BULK_HEADER) return;
      sock.off('data', onData);
      const toSend = Number(header.readBigUInt64BE(1));
      const expect = Number(header.readBigUInt64BE(9));
      let got = header.length - BULK_HEADER;
      let ended = got >= expect;
      let sent = toSend === 0;
      const finish = (): void => {
        if (ended && sent) sock.end();
      };
      if (!ended) {
        const onBody = (d: Buffer): void => {
          got += d.length;
          if (got >= expect) {
            sock.off('data', onBody);
            sock.resume();
            ended = true;
            finish();
          }
        };
        sock.on('data', onBody);
      }
      finish();
      if (!sent) {
        void writeBytes(sock, toSend).then(
          () => {
            sent = true;
            finish();
          },
          () => sock.destroy(),
        );
      }
    } else {
      sock.destroy();
    }
  };
  sock.on('data', onData);
}

export function startServer(host = '0.0.0.0', port = 0): Promise<Server> {
  const server = createServer({ noDelay: true, allowHalfOpen: true }, handle);
  server.maxConnections = 100_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 4096 }, () => resolve(server));
  });
}
