// The kernel-TLS spike's measurement (issue #21 §7, bench-only):
//   node --conditions=zt-source bench/src/ktls/compare.ts [--rounds N] [--mib M]
// Moves M MiB (default 1024) through one HTTP/2 CONNECT tunnel of an HBONE-shaped pair, variants
// interleaved ABAB for N rounds (default 3): "tls" (today's path) against "plain" (the same session
// without encryption, the ceiling of any TLS offload), and "ktls" when this kernel has kernel TLS.
// Prints each run, the medians, and new/old ratios; CPU is both processes' user+system per GiB.
// It also times the negotiated AEAD alone (node:crypto) to bound what the kernel
// would still spend encrypting and decrypting: kernel TLS moves that work, it does not remove it.
import { spawn } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { kernelTlsSupport } from '@zt/native';
import { writeTlsFiles } from '../peers/tls.ts';

const PAIR = fileURLToPath(new URL('./pair.ts', import.meta.url));
const GIB = 1024 ** 3;

export type KtlsVariant = 'tls' | 'plain' | 'ktls';

export interface KtlsRun {
  variant: KtlsVariant;
  gbitPerS: number;
  cpuSecondsPerGib: number;
  cipher: string;
}

function lines(child: ReturnType<typeof spawn>): AsyncIterator<string> {
  if (!child.stdout) throw new Error('child has no stdout');
  return createInterface({ input: child.stdout })[Symbol.asyncIterator]();
}

async function next(it: AsyncIterator<string>, what: string): Promise<Record<string, unknown>> {
  const r = await it.next();
  if (r.done) throw new Error(`${what} exited without a result`);
  return JSON.parse(r.value) as Record<string, unknown>;
}

async function runOnce(variant: KtlsVariant, bytes: number, tlsEnv: string): Promise<KtlsRun> {
  const env = { ...process.env, ZT_KTLS_TLS: tlsEnv };
  const node = [...process.execArgv.filter((a) => a.startsWith('--conditions')), PAIR];
  const server = spawn(process.execPath, [...node, 'server', variant], {
    env,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const sout = lines(server);
    const { port } = (await next(sout, 'server')) as { port: number };
    const client = spawn(process.execPath, [...node, 'client', variant, String(port), String(bytes)], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [c, s] = await Promise.all([next(lines(client), 'client'), next(sout, 'server')]);
    if (s['bytes'] !== bytes) throw new Error(`${variant}: server counted ${s['bytes']} of ${bytes} bytes`);
    const ms = c['ms'] as number;
    const cpuUs = (c['cpuUs'] as number) + (s['cpuUs'] as number);
    return {
      variant,
      gbitPerS: (bytes * 8) / (ms / 1000) / 1e9,
      cpuSecondsPerGib: cpuUs / 1e6 / (bytes / GIB),
      cipher: String(c['cipher']),
    };
  } finally {
    server.stdin?.end();
    server.kill();
  }
}

/**
 * CPU seconds to seal and to open 1 GiB with the AEAD of `suite`, in 64 KiB updates of one cipher
 * context, the least of three passes after a warm-up: close to the primitive's bulk rate (`openssl
 * speed` agrees on a quiet machine),
 * without node:crypto's per-call cost (16 KiB updates cost 2x) or page faults of fresh 1 MiB
 * outputs. The kernel pays about this per record byte, plus its own record framing.
 */
export function aeadSecondsPerGib(suite: string, mib = 256): { seal: number; open: number } {
  const algo =
    suite === 'TLS_AES_128_GCM_SHA256'
      ? 'aes-128-gcm'
      : suite === 'TLS_CHACHA20_POLY1305_SHA256'
        ? 'chacha20-poly1305'
        : 'aes-256-gcm';
  const key = randomBytes(algo === 'aes-128-gcm' ? 16 : 32);
  const nonce = randomBytes(12);
  const chunk = randomBytes(64 * 1024);
  const chunks = mib * 16;
  const time = (run: () => void): number => {
    const t = process.cpuUsage();
    run();
    const u = process.cpuUsage(t);
    return ((u.user + u.system) / 1e6) * (1024 / mib);
  };
  const sealAll = (): void => {
    const c = createCipheriv(algo as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
    for (let i = 0; i < chunks; i++) c.update(chunk);
    c.final();
  };
  const openAll = (): void => {
    // Without the tag the final check fails; the decryption and GHASH work is done by then.
    const d = createDecipheriv(algo as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
    for (let i = 0; i < chunks; i++) d.update(chunk);
  };
  sealAll();
  // The least of three passes: on a shared machine contention only ever adds.
  const seal = Math.min(time(sealAll), time(sealAll), time(sealAll));
  const open = Math.min(time(openAll), time(openAll), time(openAll));
  return { seal, open };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export interface KtlsComparison {
  /** Why the ktls variant did not run (empty when it did). */
  ktlsBlocked: string;
  runs: KtlsRun[];
  median: Partial<Record<KtlsVariant, { gbitPerS: number; cpuSecondsPerGib: number }>>;
  /** Per round, variant / tls; then their median. */
  throughputVsTls: Partial<Record<KtlsVariant, { rounds: number[]; median: number }>>;
  cpuPerGibVsTls: Partial<Record<KtlsVariant, { rounds: number[]; median: number }>>;
  aead: { suite: string; seal: number; open: number };
  /** plain's CPU per GiB plus one seal and one open: about the least a kernel TLS pair can spend. */
  ktlsCpuFloor: number;
}

/** Runs the variants interleaved (tls, plain[, ktls]) for `rounds`, `bytes` per run. */
export async function runKtlsComparison(opts: {
  rounds: number;
  bytes: number;
  /** MiB the AEAD timing seals and opens (default 256). */
  aeadMib?: number;
  onRun?: (round: number, run: KtlsRun) => void;
}): Promise<KtlsComparison> {
  const support = await kernelTlsSupport();
  const variants: KtlsVariant[] = support.supported ? ['tls', 'plain', 'ktls'] : ['tls', 'plain'];
  const dir = mkdtempSync(join(tmpdir(), 'zt-ktls-'));
  const runs: KtlsRun[] = [];
  try {
    const tlsEnv = JSON.stringify(await writeTlsFiles(dir));
    for (let r = 0; r < opts.rounds; r++) {
      for (const variant of variants) {
        const run = await runOnce(variant, opts.bytes, tlsEnv);
        runs.push(run);
        opts.onRun?.(r + 1, run);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const of = (v: KtlsVariant): KtlsRun[] => runs.filter((r) => r.variant === v);
  const out: KtlsComparison = {
    ktlsBlocked: support.supported ? '' : support.reason,
    runs,
    median: {},
    throughputVsTls: {},
    cpuPerGibVsTls: {},
    aead: { suite: '', seal: 0, open: 0 },
    ktlsCpuFloor: 0,
  };
  for (const v of variants) {
    out.median[v] = {
      gbitPerS: median(of(v).map((r) => r.gbitPerS)),
      cpuSecondsPerGib: median(of(v).map((r) => r.cpuSecondsPerGib)),
    };
    if (v === 'tls') continue;
    const tls = of('tls');
    const t = of(v).map((r, i) => r.gbitPerS / (tls[i] as KtlsRun).gbitPerS);
    const c = of(v).map((r, i) => r.cpuSecondsPerGib / (tls[i] as KtlsRun).cpuSecondsPerGib);
    out.throughputVsTls[v] = { rounds: t, median: median(t) };
    out.cpuPerGibVsTls[v] = { rounds: c, median: median(c) };
  }
  const suite = of('tls')[0]?.cipher ?? 'TLS_AES_256_GCM_SHA384';
  out.aead = { suite, ...aeadSecondsPerGib(suite, opts.aeadMib) };
  out.ktlsCpuFloor = (out.median.plain?.cpuSecondsPerGib ?? 0) + out.aead.seal + out.aead.open;
  return out;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string, dflt: number): number => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  const rounds = opt('--rounds', 3);
  const bytes = opt('--mib', 1024) * 1024 * 1024;
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const c = await runKtlsComparison({
    rounds,
    bytes,
    onRun: (round, run) =>
      console.log(
        `round ${round} ${run.variant.padEnd(5)} ${run.gbitPerS.toFixed(2)} Gbit/s  ${run.cpuSecondsPerGib.toFixed(2)} CPU s/GiB  (${run.cipher})`,
      ),
  });
  console.log(`kernel TLS: ${c.ktlsBlocked ? `blocked here: ${c.ktlsBlocked}` : 'measured'}`);
  const f = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
  for (const [v, m] of Object.entries(c.median)) {
    console.log(
      `median ${v.padEnd(5)} ${m.gbitPerS.toFixed(2)} Gbit/s  ${m.cpuSecondsPerGib.toFixed(2)} CPU s/GiB`,
    );
  }
  for (const v of ['plain', 'ktls'] as const) {
    const t = c.throughputVsTls[v];
    const u = c.cpuPerGibVsTls[v];
    if (!t || !u) continue;
    console.log(`${v}/tls throughput by round: ${f(t.rounds)}; median ${t.median.toFixed(2)}`);
    console.log(`${v}/tls CPU per GiB by round: ${f(u.rounds)}; median ${u.median.toFixed(2)}`);
  }
  console.log(
    `${c.aead.suite} alone (node:crypto): seal ${c.aead.seal.toFixed(2)} + open ${c.aead.open.toFixed(2)} CPU s/GiB; ` +
      `a kernel TLS pair spends at least plain + both = ${c.ktlsCpuFloor.toFixed(2)} CPU s/GiB ` +
      `(tls spends ${((c.median.tls?.cpuSecondsPerGib ?? 0) / c.ktlsCpuFloor).toFixed(2)}x that)`,
  );
  console.log(JSON.stringify(c));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
