// Connection rate: `concurrency` loops, each opening a new connection, sending a 1 KB request,
// reading the 1 KB response and closing (waiting for the close to complete), for `durationMs`.
import { performance } from 'node:perf_hooks';
import { MODE_ECHO } from '../server.ts';
import type { Target } from '../targets.ts';

export interface RateOptions {
  concurrency: number;
  durationMs: number;
  size?: number;
}

export interface RateResult {
  connections: number;
  errors: number;
  seconds: number;
  perSecond: number;
  /** First error seen, for the report when errors > 0. */
  firstError?: string;
}

function oneExchange(target: Target, request: Buffer, size: number): Promise<void> {
  return target.open().then(
    (sock) =>
      new Promise<void>((resolve, reject) => {
        let got = 0;
        const timer = setTimeout(() => sock.destroy(new Error('exchange timed out after 10 s')), 10_000);
        sock.on('data', (d: Buffer) => {
          got += d.length;
          if (got >= size) sock.end();
        });
        sock.once('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
        sock.once('close', () => {
          clearTimeout(timer);
          if (got >= size) resolve();
          else reject(new Error(`closed after ${got} of ${size} response bytes`));
        });
        sock.resume();
        sock.write(request);
      }),
  );
}

export async function runConnRate(target: Target, opts: RateOptions): Promise<RateResult> {
  const size = opts.size ?? 1024;
  const request = Buffer.alloc(size + 1, 0x62);
  request[0] = MODE_ECHO;
  let connections = 0;
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const until = t0 + opts.durationMs;
  const loop = async (): Promise<void> => {
    while (performance.now() < until) {
      try {
        await oneExchange(target, request, size);
        connections++;
      } catch (e) {
        errors++;
        firstError ??= (e as Error).message;
        // A refused or reset connection returns at once; do not spin on it.
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, loop));
  const seconds = (performance.now() - t0) / 1000;
  return {
    connections,
    errors,
    seconds,
    perSecond: connections / seconds,
    ...(firstError ? { firstError } : {}),
  };
}
