#!/usr/bin/env node
// Builds build/Release/zt_native.node with node-gyp against local Node headers (never downloaded).
//   node scripts/build.mjs           install mode: never fails; on failure prints one line, keeps the
//                                    full log in build/build-error.log, and the wrapper reports
//                                    the module unavailable with that reason.
//   node scripts/build.mjs --strict  manual rebuild (`pnpm --filter @zt/native build:native`):
//                                    node-gyp output on the terminal, its exit code returned.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const strict = process.argv.includes('--strict');
const pkgDir = process.cwd();
const buildDir = join(pkgDir, 'build');
const errorFile = join(buildDir, 'build-error.log');

function giveUp(reason, log = reason) {
  mkdirSync(buildDir, { recursive: true });
  writeFileSync(errorFile, `${reason}\n\n${log}\n`);
  console.error(
    `@zt/native: native addon not built (${reason}); zt will use its fallbacks. Details: ${errorFile}`,
  );
  process.exit(strict ? 1 : 0);
}

/** Node headers: npm_config_nodedir (set by scripts/run.mjs), else the running Node's own install. */
function findNodeDir() {
  const candidates = [process.env.npm_config_nodedir, join(dirname(process.execPath), '..')];
  for (const dir of candidates) {
    if (dir && existsSync(join(dir, 'include', 'node', 'node_api.h'))) return dir;
  }
  return undefined;
}

/** Install mode skips the compile when the addon is newer than binding.gyp and every C source. */
function upToDate() {
  const addon = join(buildDir, 'Release', 'zt_native.node');
  if (!existsSync(addon)) return false;
  const built = statSync(addon).mtimeMs;
  const sources = [
    join(pkgDir, 'binding.gyp'),
    ...readdirSync(join(pkgDir, 'src'))
      .filter((f) => /\.[ch]$/.test(f))
      .map((f) => join(pkgDir, 'src', f)),
  ];
  return sources.every((f) => statSync(f).mtimeMs < built);
}

if (!strict && upToDate()) process.exit(0);
if (process.platform !== 'linux') giveUp(`the addon is Linux-only, this is ${process.platform}`);
const nodedir = findNodeDir();
if (!nodedir) {
  giveUp(
    `no Node headers: neither npm_config_nodedir (${process.env.npm_config_nodedir ?? 'unset'}) nor ` +
      `${join(dirname(process.execPath), '..')} has include/node/node_api.h`,
  );
}
let gyp;
try {
  gyp = createRequire(join(pkgDir, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
} catch {
  giveUp('node-gyp is not installed (run pnpm install)');
}

const args = [gyp, 'rebuild', `--nodedir=${nodedir}`, '--jobs=max'];
const r = spawnSync(process.execPath, args, {
  cwd: pkgDir,
  stdio: strict ? 'inherit' : 'pipe',
  encoding: 'utf8',
  // Belt and braces: an empty disturl makes any attempt to download headers fail instead.
  env: { ...process.env, npm_config_nodedir: nodedir, npm_config_disturl: 'http://0.0.0.0/' },
});
if (r.error || r.status !== 0) {
  const log = strict ? '' : `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  const lastError =
    log
      .split('\n')
      .filter((l) => /error/i.test(l))
      .pop()
      ?.trim() ?? '';
  giveUp(
    r.error ? `node-gyp did not run: ${r.error.message}` : `node-gyp exited ${r.status}: ${lastError}`,
    log,
  );
}
rmSync(errorFile, { force: true });
if (strict) console.error(`@zt/native: built ${join(buildDir, 'Release', 'zt_native.node')}`);
