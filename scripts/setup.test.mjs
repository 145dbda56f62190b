// scripts/run.mjs in a broken environment: each failed set-up step prints one line that names the
// step and what to do, before the tool's own output or any stack trace. The registry is made
// unreachable the way a user's would be: npm_config_registry pointing at a closed port.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ensureSystemPackages, registryUnreachable, SetupError } from './setup.mjs';

const ROOT = join(import.meta.dirname, '..');
const CLOSED = 'http://127.0.0.1:9';
const scratch = mkdtempSync(join(tmpdir(), 'zt-setup-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A repository root with run.mjs and its set-up files only, as a clone has them. */
function fakeRoot(name) {
  const root = join(scratch, name);
  mkdirSync(join(root, 'scripts'), { recursive: true });
  for (const f of ['run.mjs', 'setup.mjs', 'pins.json', 'system-packages.txt']) {
    copyFileSync(join(ROOT, 'scripts', f), join(root, 'scripts', f));
  }
  return root;
}

/** Runs `node scripts/run.mjs build` in `root` with an unreachable registry and empty caches. */
function runBroken(root) {
  const cache = join(root, 'cache');
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'run.mjs'), 'build'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    env: {
      PATH: process.env.PATH,
      HOME: root,
      XDG_CACHE_HOME: cache,
      XDG_DATA_HOME: join(root, 'data'),
      npm_config_cache: join(cache, 'npm'),
      npm_config_store_dir: join(root, 'store'),
      npm_config_registry: CLOSED,
      // One try, not npm's three with back-off: the test waits a second, not a minute.
      npm_config_fetch_retries: '0',
    },
  });
  return { ...r, lines: r.stderr.split('\n') };
}

/** Index of the first line that is the tool's own error report or a stack frame. */
function firstNoise(lines) {
  return lines.findIndex((l) => /npm error|ERR_PNPM|^\s+at /.test(l));
}

test("pinned tools, registry unreachable: one line naming the step and the registry, before npm's error", () => {
  const root = fakeRoot('tools');
  const r = runBroken(root);
  assert.equal(r.status, 1, r.stderr);
  const headline = r.lines.findIndex((l) => l.startsWith('zt setup: '));
  assert.ok(headline >= 0, r.stderr);
  assert.match(
    r.lines[headline],
    /^zt setup: installing pnpm@[\d.]+.* into \.tools\/ failed: npm install exited 1\. The npm registry \(http:\/\/127\.0\.0\.1:9\) could not be reached: .*npm_config_registry/,
  );
  const noise = firstNoise(r.lines);
  assert.ok(noise === -1 || noise > headline, `the headline comes first:\n${r.stderr}`);
  assert.match(r.stderr, /ECONNREFUSED/, "npm's own account follows it");
});

test("pnpm install, registry unreachable and the store cold: one line, before pnpm's error", (t) => {
  const tools = join(ROOT, '.tools');
  if (!existsSync(join(tools, 'node_modules', 'pnpm')))
    return t.skip('no .tools/ here: run node scripts/run.mjs once');
  const root = fakeRoot('install');
  // The pinned tools are there already; the one dependency is in no store on this machine.
  symlinkSync(tools, join(root, '.tools'));
  writeFileSync(
    join(root, 'package.json'),
    JSON.stringify({
      name: 'zt-setup-fixture',
      private: true,
      dependencies: { 'zt-absent-fixture': '1.0.0' },
    }),
  );
  const r = runBroken(root);
  assert.equal(r.status, 1, r.stderr);
  const headline = r.lines.findIndex((l) => l.startsWith('zt setup: '));
  assert.match(
    r.lines[headline] ?? '',
    /^zt setup: pnpm install \(workspace dependencies\) failed: pnpm install exited 1\. The npm registry \(http:\/\/127\.0\.0\.1:9\) could not be reached/,
    r.stderr,
  );
  const noise = firstNoise(r.lines);
  assert.ok(noise > headline, `the headline comes first:\n${r.stderr}`);
});

test('an unforeseen failure still starts with one line, then the stack', () => {
  const root = fakeRoot('unforeseen');
  writeFileSync(join(root, 'scripts', 'pins.json'), '{ not json');
  const r = runBroken(root);
  assert.equal(r.status, 1);
  assert.match(r.lines[0] ?? '', /^zt setup: failed before the task could start: .*JSON.*report this/);
  assert.ok(firstNoise(r.lines) > 0, r.stderr);
});

test('system packages without root: one line with the command to run, and the run goes on', (t) => {
  const probe = spawnSync('sh', ['-c', 'command -v dpkg-query'], { stdio: 'ignore' });
  if (process.platform !== 'linux' || probe.status !== 0) return t.skip('no dpkg-query here');
  const root = fakeRoot('apt');
  writeFileSync(join(root, 'scripts', 'system-packages.txt'), 'zt-no-such-package   # a fixture\n');
  const lines = [];
  const missing = ensureSystemPackages({ root, env: {}, uid: 1000, log: (m) => lines.push(m) });
  assert.deepEqual(missing, ['zt-no-such-package']);
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    /zt-no-such-package missing and not root.*sudo apt-get install -y zt-no-such-package/,
  );
});

test('a headline is one line whatever the reason holds', () => {
  const e = new SetupError('step', 'a\nmultiline\n  reason', 'do\nthis');
  assert.equal(e.headline(), 'zt setup: step failed: a multiline reason. do this');
  assert.equal(e.code, 'ERR_ZT_SETUP_STEP');
});

test('registry failures are recognised in npm and pnpm output', () => {
  assert.ok(registryUnreachable('npm error code ECONNREFUSED'));
  assert.ok(registryUnreachable(' ERR_PNPM_META_FETCH_FAIL  GET http://x/y'));
  assert.ok(registryUnreachable('getaddrinfo ENOTFOUND registry.npmjs.org'));
  assert.equal(registryUnreachable(' ERR_PNPM_OUTDATED_LOCKFILE  Cannot install'), false);
});
