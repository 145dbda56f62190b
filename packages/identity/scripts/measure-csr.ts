// Measures key+CSR generation and leaf signing, and how much they stall the main thread.
// Run: node --conditions=zt-source scripts/measure-csr.ts [count]
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type CsrGenerator, CsrWorkerPool, generateCsr, Identity } from '../src/index.ts';
import { TestCa } from '../src/testing/index.ts';

const N = Number(process.argv[2] ?? 400);
const CONCURRENCY = 8;
const id = Identity.parse('spiffe://cluster.local/ns/default/sa/echo');

async function measure(name: string, fn: () => Promise<unknown>): Promise<void> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  let started = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (started++ < N) await fn();
    }),
  );
  const wall = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0);
  h.disable();
  const ms = (ns: number) => (ns / 1e6).toFixed(1);
  console.log(
    `${name.padEnd(22)} ${(N / (wall / 1000)).toFixed(0).padStart(5)}/s  main thread busy ${(elu.active / N).toFixed(2)} ms/op (${(elu.utilization * 100).toFixed(0)}%)  loop delay p50 ${ms(h.percentile(50))} p99 ${ms(h.percentile(99))} max ${ms(h.max)} ms`,
  );
}

const inline: CsrGenerator = generateCsr;
for (let i = 0; i < 50; i++) await inline(id); // warm up the JIT
await measure('CSR on main thread', () => inline(id));
for (const threads of [1, 2]) {
  const pool = new CsrWorkerPool({ threads });
  for (let i = 0; i < 50; i++) await pool.generate(id);
  await measure(`CSR in pool (${threads} thr)`, () => pool.generate(id));
  await pool.close();
}
const ca = await TestCa.create();
const csr = await generateCsr(id);
await measure('sign CSR (TestCa)', () => ca.signCsr(csr.csrPem));
