// The "old" side of an A/B run (`--against <ref>`): the ref checked out in a temporary git worktree,
// its dependencies installed from the local pnpm store, and zt built as the bench builds this tree.
// Both builds then run in one bench run as two targets, interleaved like the others.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ZtError } from '@zt/errors';

export class AgainstError extends ZtError {
  constructor(message: string) {
    super('ERR_ZT_BENCH_AGAINST', message);
    this.name = 'AgainstError';
  }
}

/** What the old tree must hold to be built and run as the bench runs zt. */
export const REQUIRED_PATHS: readonly string[] = [
  'package.json',
  'pnpm-lock.yaml',
  'turbo.json',
  'apps/ztunnel/package.json',
  'apps/ztunnel/src/main.ts',
];

/** The built entry the old mesh runs, relative to the worktree. */
export const OLD_ENTRY = 'apps/ztunnel/dist/main.js';

export interface RefBuild {
  ref: string;
  commit: string;
  short: string;
  /** The worktree. */
  dir: string;
  /** Its built zt entry point. */
  entry: string;
  /** Removes the worktree (idempotent). */
  remove(): void;
}

function git(repo: string, args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync('git', ['-C', repo, ...args], { encoding: 'utf8' });
  return {
    ok: r.status === 0,
    out: r.stdout?.trim() ?? '',
    err: (r.stderr ?? r.error?.message ?? '').trim(),
  };
}

/** The commit `ref` names in `repo`, or an AgainstError saying it names none. */
export function resolveRef(repo: string, ref: string): string {
  const r = git(repo, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]);
  if (!r.ok || !/^[0-9a-f]{40}$/.test(r.out)) {
    throw new AgainstError(
      `--against ${ref}: not a commit in ${repo} (try a branch, a tag or a hash from git log)`,
    );
  }
  return r.out;
}

/** The first of REQUIRED_PATHS missing from `commit`'s tree, if any. */
export function missingPath(repo: string, commit: string): string | undefined {
  return REQUIRED_PATHS.find((p) => !git(repo, ['cat-file', '-e', `${commit}:${p}`]).ok);
}

export interface BuildTools {
  /** The Node that runs pnpm and turbo (the bench's own). */
  node: string;
  /** pnpm's CLI script (pnpm.cjs). */
  pnpm: string;
}

/** pnpm as scripts/run.mjs pinned it: $ZT_PNPM, else the repository's .tools copy. */
export function buildTools(repo: string): BuildTools {
  const pnpm = process.env['ZT_PNPM'] ?? join(repo, '.tools', 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
  if (!existsSync(pnpm)) {
    throw new AgainstError(
      `--against needs the pinned pnpm (${pnpm} is missing); run \`npm run build\` once to install it`,
    );
  }
  return { node: process.execPath, pnpm };
}

/**
 * Checks out `ref` in a temporary worktree of `repo` and builds zt there. Any failure removes the
 * worktree and throws an AgainstError of one line; the install and build output stays in a log
 * file that the line names.
 */
export async function buildRef(
  repo: string,
  ref: string,
  opts: { log: (s: string) => void; tools?: BuildTools },
): Promise<RefBuild> {
  const commit = resolveRef(repo, ref);
  const short = commit.slice(0, 9);
  const missing = missingPath(repo, commit);
  if (missing) {
    throw new AgainstError(
      `--against ${ref} (${short}): its tree has no ${missing}, so the bench cannot build and run it as zt; pick a later commit`,
    );
  }
  const tools = opts.tools ?? buildTools(repo);
  const base = mkdtempSync(join(tmpdir(), 'zt-bench-against-'));
  const dir = join(base, 'tree');
  const logPath = join(tmpdir(), `zt-bench-against-${short}.log`);
  let added = false;
  const remove = (): void => {
    if (added) git(repo, ['worktree', 'remove', '--force', dir]);
    added = false;
    rmSync(base, { recursive: true, force: true });
  };
  try {
    const wt = git(repo, ['worktree', 'add', '--detach', dir, commit]);
    if (!wt.ok) throw new AgainstError(`--against ${ref}: git worktree add failed: ${firstLine(wt.err)}`);
    added = true;
    const log = createWriteStream(logPath);
    try {
      opts.log(`--against ${ref}: ${short} checked out in ${dir}; installing (pnpm, offline first)`);
      await step(
        log,
        'pnpm install',
        tools.node,
        [tools.pnpm, 'install', '--prefer-offline', '--frozen-lockfile', '--reporter=append-only'],
        dir,
        ref,
        logPath,
      );
      opts.log(`--against ${ref}: building zt (turbo run build --filter=@zt/ztunnel...)`);
      const turbo = join(dir, 'node_modules', '.bin', 'turbo');
      if (!existsSync(turbo)) {
        throw new AgainstError(
          `--against ${ref} (${short}): its dependencies have no turbo; the bench builds with turbo`,
        );
      }
      await step(
        log,
        'turbo build',
        turbo,
        ['run', 'build', '--filter=@zt/ztunnel...', '--output-logs=errors-only'],
        dir,
        ref,
        logPath,
      );
    } finally {
      await new Promise((r) => log.end(r));
    }
    const entry = join(dir, OLD_ENTRY);
    if (!existsSync(entry)) {
      throw new AgainstError(`--against ${ref} (${short}): the build left no ${OLD_ENTRY}; see ${logPath}`);
    }
    const addon = 'packages/native/build/Release/zt_native.node';
    if (existsSync(join(repo, addon)) && !existsSync(join(dir, addon))) {
      opts.log(
        `--against ${ref}: warning: its build has no native addon (${addon}), so its zt runs on the fallbacks; see ${logPath}`,
      );
    } else {
      // The log is kept only when it explains something.
      rmSync(logPath, { force: true });
    }
    return { ref, commit, short, dir, entry, remove };
  } catch (e) {
    remove();
    throw e;
  }
}

function step(
  log: NodeJS.WritableStream,
  what: string,
  cmd: string,
  args: string[],
  cwd: string,
  ref: string,
  logPath: string,
): Promise<void> {
  log.write(`$ ${cmd} ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.once('error', (e) =>
      reject(new AgainstError(`--against ${ref}: ${what} could not start: ${e.message}`)),
    );
    child.once('close', (code) => {
      if (code === 0) resolve();
      else
        reject(
          new AgainstError(`--against ${ref}: ${what} failed (exit ${code}); its output is in ${logPath}`),
        );
    });
  });
}

function firstLine(s: string): string {
  return s.split('\n').find((l) => l.trim() !== '') ?? s;
}
