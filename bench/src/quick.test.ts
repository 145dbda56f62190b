// The bench itself, as CI runs it: main.ts end to end, exit 0 (every budget met) and a JSON with
// every scenario. Uses the `ci` profile (the quick run with smaller sizes and 5,000 idle
// connections) so the package's tests stay within ~4 minutes on a loaded 2-core box.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

it('the CI bench runs, meets every budget and records every scenario', { timeout: 240_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'zt-bench-ci-'));
  try {
    const child = spawn(process.execPath, ['--conditions=zt-source', MAIN, '--ci', '--out', out], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, `bench exited ${code}\n${stdout}\n${stderr.slice(-4000)}`);
    const files = readdirSync(out);
    const jsonFile = files.find((f) => f.endsWith('.json'));
    assert.ok(jsonFile, `no JSON in ${files.join(', ')}`);
    assert.ok(files.some((f) => f.endsWith('.svg')));
    const run = JSON.parse(readFileSync(join(out, jsonFile), 'utf8')) as {
      results: Record<string, Record<string, unknown>>;
      metrics: Record<string, number | null>;
      budgets: { status: string }[];
    };
    assert.deepEqual(Object.keys(run.results.bulk ?? {}), [
      '1 conn, one way',
      '1 conn, both ways',
      '8 conns, one way',
      '8 conns, both ways',
    ]);
    for (const scenario of ['rate', 'latency']) {
      assert.ok(run.results[scenario]?.['direct'], `${scenario} has no direct row`);
      assert.ok(run.results[scenario]?.['zt (1 worker)'], `${scenario} has no zt row`);
    }
    assert.ok(run.results.rate?.['zt (2 workers)']);
    // zt's own view of the latency runs: every thread of both processes, read from their metrics.
    const ztLatency = run.results.latency?.['zt (1 worker)'] as {
      added: { samples: unknown[] } | null;
      runtime?: { summary: { node: string; thread: string; loopDelay: unknown; gc: unknown }[] };
    };
    assert.deepEqual(
      ztLatency.runtime?.summary.map((s) => `${s.node} ${s.thread}`),
      ['A main', 'A worker-0', 'B main', 'B worker-0'],
    );
    assert.ok(ztLatency.runtime?.summary.every((s) => s.loopDelay !== null && s.gc !== null));
    assert.equal(ztLatency.added?.samples.length, 3, 'added latency of each run');
    assert.ok(run.results.efficiency && run.results.idle);
    for (const k of [
      'scaling.rate_2w_vs_1w',
      'idle.zt_rss_mb',
      'efficiency.zt_cpu_per_1k_rps',
      'latency.added_p99_ms',
      'latency.added_p90_ms',
      'scaling.accept_spread',
      'scaling.cpu_per_1k_rps_2w_vs_1w',
      'scaling.cpu_per_1k_conns_2w_vs_1w',
      'multinet.double_vs_single_hbone',
    ]) {
      assert.equal(typeof run.metrics[k], 'number', k);
    }
    assert.ok(run.budgets.length > 0 && run.budgets.every((b) => b.status !== 'fail'));
    assert.match(stdout, /budgets/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
