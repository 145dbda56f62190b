#!/usr/bin/env node
// Builds build/Release/zt_native.node with node-gyp against local Node headers (never downloaded).
//   node scripts/build.mjs           install mode: never fails; on failure prints one line, keeps the
//                                    full log in build/build-error.log, and the wrapper reports
//                                    the module unavailable with that reason.
//   node scripts/build.mjs --strict  manual rebuild (`pnpm --filter @zt/native build:native`, the
//                                    image build): on failure the same line, then node-gyp's output,
//                                    exit 1.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const strict = process.argv.includes('--strict');
const pkgDir = process.cwd();
const buildDir = join(pkgDir, 'build');
const errorFile = join(buildDir, 'build-error.log');

/**
 * One line on stderr (what failed, what to do), then the details in build/build-error.log, whose
 * first line is that same account (scripts/run.mjs repeats it). Install mode exits 0 so that the
 * workspace install goes on; the addon is then reported unavailable with this reason.
 */
function giveUp(reason, fix, log = '') {
  mkdirSync(buildDir, { recursive: true });
  writeFileSync(errorFile, `${reason}; ${fix}\n\n${log}\n`);
  const consequence = strict ? '' : '; zt will use its fallbacks';
  console.error(
    `@zt/native: native addon not built: ${reason}${consequence}. ${fix} (details: ${errorFile})`,
  );
  process.exit(strict ? 1 : 0);
}

const INSTALL_HINT =
  'install python3, make and g++ (Debian: apt-get install python3 make g++), then run pnpm install';

/** The tools node-gyp needs that PATH lacks: python3, make, a C and a C++ compiler ($CC, $CXX if set). */
function missingBuildTools() {
  const has = (cmd) => spawnSync('/bin/sh', ['-c', 'command -v "$0"', cmd], { stdio: 'ignore' }).status === 0;
  const missing = [];
  const python = process.env.npm_config_python || process.env.PYTHON;
  if (!(python ? has(python) : has('python3') || has('python'))) missing.push(python ?? 'python3');
  if (!has('make')) missing.push('make');
  const cc = process.env.CC?.split(' ')[0];
  if (!(cc ? has(cc) : has('cc') || has('gcc') || has('clang'))) missing.push(cc ?? 'a C compiler (cc)');
  const cxx = process.env.CXX?.split(' ')[0];
  if (!(cxx ? has(cxx) : has('g++') || has('c++') || has('clang++')))
    missing.push(cxx ?? 'a C++ compiler (g++)');
  return missing;
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
if (process.platform !== 'linux') {
  giveUp(`the addon is Linux-only, this is ${process.platform}`, 'Run zt on Linux for the full feature set');
}
const missing = missingBuildTools();
if (missing.length > 0) giveUp(`missing on PATH: ${missing.join(', ')}`, INSTALL_HINT);
const nodedir = findNodeDir();
if (!nodedir) {
  giveUp(
    `no Node headers: neither npm_config_nodedir (${process.env.npm_config_nodedir ?? 'unset'}) nor ` +
      `${join(dirname(process.execPath), '..')} has include/node/node_api.h`,
    'Point npm_config_nodedir at a Node install with its headers (scripts/run.mjs does so for the pinned Node)',
  );
}
let gyp;
try {
  gyp = createRequire(join(pkgDir, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
} catch {
  giveUp('node-gyp is not installed', 'Run pnpm install');
}

const args = [gyp, 'rebuild', `--nodedir=${nodedir}`, '--jobs=max'];
// Captured in both modes: on failure the one-line account comes first, node-gyp's output after it.
const r = spawnSync(process.execPath, args, {
  cwd: pkgDir,
  encoding: 'utf8',
  maxBuffer: 64 << 20,
  // Belt and braces: an empty disturl makes any attempt to download headers fail instead.
  env: { ...process.env, npm_config_nodedir: nodedir, npm_config_disturl: 'http://0.0.0.0/' },
});
if (r.error || r.status !== 0) {
  const log = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  const lastError =
    log
      .split('\n')
      .filter((l) => /error/i.test(l))
      .pop()
      ?.trim() ?? '';
  if (strict) process.on('exit', () => process.stderr.write(`${log.trimEnd()}\n`));
  giveUp(
    r.error ? `node-gyp did not run: ${r.error.message}` : `node-gyp exited ${r.status}: ${lastError}`,
    `Read the compiler's errors in the details; rebuild with "pnpm --filter @zt/native build:native"`,
    log,
  );
}
rmSync(errorFile, { force: true });
if (strict) console.error(`@zt/native: built ${join(buildDir, 'Release', 'zt_native.node')}`);
