// A real A/B run, HEAD against HEAD, in the CI sizes and the latency scenario only (~40 s): the old
// build comes from a temporary worktree, both builds run interleaved, the ratios reach the table
// and the JSON, and the worktree is gone afterwards. The bench's tests run one file at a time
// (package.json), since two benches at once would share the meshes' addresses.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AbRow } from './ab-report.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** The bench's temporary worktrees (other engineers' worktrees move on while a test runs). */
const worktrees = (): string[] =>
  spawnSync('git', ['-C', REPO, 'worktree', 'list', '--porcelain'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.startsWith('worktree ') && l.includes('zt-bench-against-'));

it('--against HEAD builds HEAD in a worktree, runs it beside this tree and prints new/old', {
  timeout: 180_000,
}, async () => {
  const out = mkdtempSync(join(tmpdir(), 'zt-bench-ab-'));
  const before = worktrees();
  try {
    const child = spawn(
      process.execPath,
      ['--conditions=zt-source', MAIN, '--ci', '--only', 'latency', '--against', 'HEAD', '--out', out],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
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
    const head = spawnSync('git', ['-C', REPO, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
    const old = `zt @${head.slice(0, 9)}`;
    const jsonFile = readdirSync(out).find((f) => f.endsWith('.json'));
    assert.ok(jsonFile);
    const run = JSON.parse(readFileSync(join(out, jsonFile), 'utf8')) as {
      results: { latency: Record<string, { p99: number; runtime?: unknown }> };
      ab?: { against: string; oldCommit: string; rows: AbRow[] };
    };
    assert.ok(run.results.latency['zt (1 worker)'] && run.results.latency[old], 'both builds ran');
    assert.ok(run.results.latency[old]?.runtime, "the old build's own metrics were read too");
    assert.equal(run.ab?.against, 'HEAD');
    assert.equal(run.ab?.oldCommit, head);
    const figures = (run.ab?.rows ?? []).map((r) => `${r.scenario}, ${r.figure}`);
    assert.deepEqual(figures, [
      'latency, p50',
      'latency, p90',
      'latency, p99',
      'latency, CPU per 1k rps',
      'memory, peak RSS after load (larger node)',
      'memory, RSS at rest (larger node)',
    ]);
    for (const r of run.ab?.rows ?? []) assert.ok(r.ratio !== null && r.ratio > 0, `${r.figure} ${r.ratio}`);
    assert.match(stdout, /A\/B: new\/old, new = zt \(1 worker\)/);
    assert.match(stdout, /latency, CPU per 1k rps\s+x\d\.\d{3}/);
    assert.deepEqual(worktrees(), before, 'the temporary worktree is removed');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
