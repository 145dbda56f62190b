// A child process for the runtime-metrics GC test, run with --expose-gc: starts the monitor, forces
// `gcs` full collections over a heap with something in it, and prints the registry's text.
import { registry, startRuntimeMetrics } from '../index.ts';

const gcs = Number(process.argv[2] ?? 3);
const forceGc = (globalThis as { gc?: () => void }).gc;
if (!forceGc) throw new Error('run with --expose-gc');
startRuntimeMetrics('main');
let keep: unknown[] = [];
for (let i = 0; i < gcs; i++) {
  keep = Array.from({ length: 50_000 }, (_, j) => ({ j, s: `x${j}` }));
  forceGc();
  // The observer delivers its entries after the fact, on a later turn.
  await new Promise((r) => setImmediate(r));
}
process.stdout.write(await registry.metrics());
void keep;
