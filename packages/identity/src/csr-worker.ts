// Runs in a piscina worker thread: key generation and CSR encoding, off the main thread.
import { type GeneratedCsr, generateCsr } from './csr.ts';

export default function generate(identity: string): Promise<GeneratedCsr> {
  return generateCsr(identity);
}
