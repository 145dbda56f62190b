import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const INDEX = fileURLToPath(new URL('./index.ts', import.meta.url));

/** Runs `code` (with `defaultLogger` imported) in a fresh process with `env`; returns its stdout lines. */
function run(env: Record<string, string>, code: string): Record<string, unknown>[] {
  const script = `import { defaultLogger } from ${JSON.stringify(INDEX)};\n${code}`;
  const r = spawnSync(process.execPath, ['--conditions=zt-source', '--input-type=module', '-e', script], {
    env: { PATH: process.env['PATH'] ?? '', LOG_FORMAT: 'json', ...env },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('a package without a logger logs in its scope, filtered by RUST_LOG', () => {
  const lines = run(
    { RUST_LOG: 'warn,xds=debug' },
    `defaultLogger('xds').debug('xds detail'); defaultLogger('identity').info('hidden'); defaultLogger('identity').warn('shown');`,
  );
  assert.deepEqual(
    lines.map((l) => [l['level'], l['scope'], l['message']]),
    [
      ['debug', 'xds', 'xds detail'],
      ['warn', 'identity', 'shown'],
    ],
  );
});

test('a RUST_LOG that does not parse: one warning, then info', () => {
  const lines = run(
    { RUST_LOG: 'loud' },
    `defaultLogger('inpod').info('up'); defaultLogger('inpod').debug('no');`,
  );
  assert.deepEqual(
    lines.map((l) => [l['level'], l['message']]),
    [
      ['warn', 'RUST_LOG is not understood; logging at info'],
      ['info', 'up'],
    ],
  );
});
