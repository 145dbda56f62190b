import { createRequire } from 'node:module';
import type { Piscina } from 'piscina';
import type { GeneratedCsr } from './csr.ts';
import type { Identity } from './identity.ts';

// Source checkouts run the .ts file directly; built packages ship the .js next to this module.
const WORKER = new URL(`./csr-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

// piscina is loaded when a pool is made, so threads that only import this package skip it.
const require = createRequire(import.meta.url);

/**
 * Makes keys and CSRs in worker threads, so a burst of certificate requests (a node starting with
 * many pods) does not stall the main thread. Pass `pool.generate` as CaClient's `csrGenerator`.
 */
export class CsrWorkerPool {
  readonly #pool: Piscina;

  constructor(options: { threads?: number } = {}) {
    const threads = options.threads ?? 1;
    const { Piscina: Pool } = require('piscina') as typeof import('piscina');
    // No thread is kept while there is nothing to sign: it would hold its own copy of the x509
    // library (~30 MB RSS) for the ~24 h between rotations. One starts on demand (tens of ms).
    this.#pool = new Pool({
      filename: WORKER.href,
      minThreads: 0,
      maxThreads: threads,
      idleTimeout: 30_000,
    });
  }

  readonly generate = (identity: Identity): Promise<GeneratedCsr> =>
    this.#pool.run(identity.toString()) as Promise<GeneratedCsr>;

  close(): Promise<void> {
    return this.#pool.destroy();
  }
}
