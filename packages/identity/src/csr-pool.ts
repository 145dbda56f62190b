import { Piscina } from 'piscina';
import type { GeneratedCsr } from './csr.ts';
import type { Identity } from './identity.ts';

// Source checkouts run the .ts file directly; built packages ship the .js next to this module.
const WORKER = new URL(`./csr-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/**
 * Makes keys and CSRs in worker threads, so a burst of certificate requests (a node starting with
 * many pods) does not stall the main thread. Pass `pool.generate` as CaClient's `csrGenerator`.
 */
export class CsrWorkerPool {
  readonly #pool: Piscina;

  constructor(options: { threads?: number } = {}) {
    const threads = options.threads ?? 1;
    this.#pool = new Piscina({
      filename: WORKER.href,
      minThreads: threads,
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
