// The install-time build (scripts/build.mjs) must never fail `pnpm install`: a broken toolchain
// prints one line and leaves a log that the wrapper turns into `unavailableReason`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), `zt-native-build-${process.pid}-`));
after(() => rmSync(work, { recursive: true, force: true }));

test('a failing compile exits 0 in install mode with one line, and 1 with --strict', (t) => {
  if (process.platform !== 'linux') return t.skip('the addon builds on Linux only');
  if (!existsSync(join(pkg, 'node_modules', 'node-gyp'))) return t.skip('node-gyp is not installed');
  for (const entry of ['binding.gyp', 'package.json', 'scripts', 'src']) {
    cpSync(join(pkg, entry), join(work, entry), { recursive: true, filter: (f) => !f.endsWith('.ts') });
  }
  symlinkSync(join(pkg, 'node_modules'), join(work, 'node_modules'));
  appendFileSync(join(work, 'src', 'addon.c'), '\n#error zt-forced-failure\n');

  const install = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: work, encoding: 'utf8' });
  assert.equal(install.status, 0, install.stderr);
  const lines = install.stderr.trim().split('\n');
  assert.equal(lines.length, 1, install.stderr);
  assert.match(
    lines[0]!,
    /^@zt\/native: native addon not built: node-gyp exited 1: .*; zt will use its fallbacks\. .*build:native/,
  );
  const log = readFileSync(join(work, 'build', 'build-error.log'), 'utf8');
  assert.match(log, /zt-forced-failure/, 'the full compiler output is kept');
  assert.equal(existsSync(join(work, 'build', 'Release', 'zt_native.node')), false);

  const strict = spawnSync(process.execPath, ['scripts/build.mjs', '--strict'], {
    cwd: work,
    encoding: 'utf8',
  });
  assert.equal(strict.status, 1);
  // The account comes first, then node-gyp's output (with its stack-like "gyp ERR!" lines).
  const first = strict.stderr.split('\n')[0] ?? '';
  assert.match(first, /^@zt\/native: native addon not built: node-gyp exited 1: .*build:native/);
  assert.doesNotMatch(first, /fallbacks/, 'the strict build has no fallback to offer');
  assert.match(strict.stderr, /zt-forced-failure/);
});

test('no compiler on PATH: one line naming what is missing and how to install it, before node-gyp runs', (t) => {
  if (process.platform !== 'linux') return t.skip('the addon builds on Linux only');
  const dir = join(work, 'no-compiler');
  for (const entry of ['binding.gyp', 'package.json', 'scripts', 'src']) {
    cpSync(join(pkg, entry), join(dir, entry), { recursive: true, filter: (f) => !f.endsWith('.ts') });
  }
  symlinkSync(join(pkg, 'node_modules'), join(dir, 'node_modules'));
  // A PATH with Node only: no python3, make, cc or g++.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  const env = { PATH: bin, HOME: dir };
  for (const args of [[], ['--strict']]) {
    const r = spawnSync(process.execPath, ['scripts/build.mjs', ...args], {
      cwd: dir,
      encoding: 'utf8',
      env,
    });
    assert.equal(r.status, args.length === 0 ? 0 : 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /^@zt\/native: native addon not built: missing on PATH: python3, make, a C compiler \(cc\), a C\+\+ compiler \(g\+\+\).*apt-get install python3 make g\+\+/,
    );
    assert.match(
      readFileSync(join(dir, 'build', 'build-error.log'), 'utf8').split('\n')[0]!,
      /^missing on PATH: /,
    );
  }
});
