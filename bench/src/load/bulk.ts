// Bulk throughput: `connections` connections at once, each sending `bytesPerConnection` to the
// server and, when bidirectional, receiving as many back at the same time. Reports all bytes moved
// (both directions summed) over the wall time from the first connect to the last close.
import { performance } from 'node:perf_hooks';
import { BULK_HEADER, MODE_BULK, writeBytes } from '../server.ts';
import type { Target } from '../targets.ts';

export interface BulkOptions {
  connections: number;
  bytesPerConnection: number;
  bidirectional: boolean;
  timeoutMs?: number;
}

export interface BulkResult {
  bytes: number;
  seconds: number;
  gbps: number;
}

export class BulkError extends Error {
  readonly code = 'ERR_ZT_BENCH_BULK';
}

async function oneConnection(target: Target, opts: BulkOptions): Promise<number> {
  const sock = await target.open();
  const back = opts.bidirectional ? opts.bytesPerConnection : 0;
  const header = Buffer.alloc(BULK_HEADER);
  header[0] = MODE_BULK;
  header.writeBigUInt64BE(BigInt(back), 1);
  header.writeBigUInt64BE(BigInt(opts.bytesPerConnection), 9);
  let received = 0;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new BulkError(`${target.name}: bulk connection did not finish within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs ?? 600_000);
    sock.on('data', (d: Buffer) => {
      received += d.length;
    });
    sock.once('end', () => {
      clearTimeout(timer);
      sock.destroy();
      if (received !== back) {
        reject(
          new BulkError(`${target.name}: received ${received} of ${back} bytes before the server ended`),
        );
      } else resolve();
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  sock.resume();
  sock.write(header);
  // No end() here: the server's end says it has everything (see server.ts on half-close).
  await writeBytes(sock, opts.bytesPerConnection);
  await done;
  return opts.bytesPerConnection + back;
}

export async function runBulk(target: Target, opts: BulkOptions): Promise<BulkResult> {
  const t0 = performance.now();
  const moved = await Promise.all(
    Array.from({ length: opts.connections }, () => oneConnection(target, opts)),
  );
  const seconds = (performance.now() - t0) / 1000;
  const bytes = moved.reduce((a, b) => a + b, 0);
  return { bytes, seconds, gbps: (bytes * 8) / seconds / 1e9 };
}
