import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AgainstError, buildRef, missingPath, REQUIRED_PATHS, resolveRef } from './ab-build.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const git = (...args: string[]): string =>
  spawnSync('git', ['-C', REPO, ...args], { encoding: 'utf8' }).stdout.trim();
/** The bench's temporary worktrees (other engineers' worktrees move on while a test runs). */
const worktrees = (): string[] =>
  git('worktree', 'list', '--porcelain')
    .split('\n')
    .filter((l) => l.startsWith('worktree ') && l.includes('zt-bench-against-'));
const quiet = (): void => {};

describe('buildRef (the old side of --against)', () => {
  it('a ref that names no commit fails in one line, before any worktree exists', async () => {
    const before = worktrees();
    await assert.rejects(
      buildRef(REPO, 'no-such-branch-zt-bench', { log: quiet }),
      (e: unknown) =>
        e instanceof AgainstError &&
        e.code === 'ERR_ZT_BENCH_AGAINST' &&
        /^--against no-such-branch-zt-bench: not a commit in /.test(e.message) &&
        !e.message.includes('\n'),
    );
    assert.throws(() => resolveRef(REPO, '--output=/tmp/x'), AgainstError, 'an option is not a ref');
    assert.deepEqual(worktrees(), before);
  });
  it('a commit whose tree cannot be built as zt fails in one line naming what it lacks', async () => {
    const root = git('rev-list', '--max-parents=0', 'HEAD').split('\n')[0] ?? '';
    assert.equal(missingPath(REPO, git('rev-parse', 'HEAD')), undefined, 'HEAD has all of them');
    const lacking = missingPath(REPO, root);
    assert.ok(lacking && REQUIRED_PATHS.includes(lacking), `the first commit lacks ${lacking}`);
    const before = worktrees();
    await assert.rejects(buildRef(REPO, root, { log: quiet }), (e: unknown) => {
      assert.ok(e instanceof AgainstError);
      assert.match(e.message, new RegExp(`its tree has no ${lacking}.*pick a later commit$`));
      assert.ok(!e.message.includes('\n'));
      return true;
    });
    assert.deepEqual(worktrees(), before);
  });
  it('resolves branch names and abbreviations to the full commit', () => {
    const head = git('rev-parse', 'HEAD');
    assert.equal(resolveRef(REPO, 'HEAD'), head);
    assert.equal(resolveRef(REPO, head.slice(0, 10)), head);
  });
});
