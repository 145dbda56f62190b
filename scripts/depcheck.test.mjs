import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkEdge, checkRepo, importsOf } from './depcheck.mjs';

const edge = (from, specifier, target) => checkEdge({ from, file: 'f.ts', specifier, target });

test('downward imports are allowed', () => {
  assert.equal(edge('core', '@zt/transport'), undefined);
  assert.equal(edge('transport', '@zt/identity'), undefined);
  assert.equal(edge('xds', '@zt/proto'), undefined);
  assert.equal(edge('ztunnel', '@zt/core'), undefined);
  assert.equal(edge('bench', '@zt/identity/testing'), undefined);
  assert.equal(edge('identity', '@zt/metrics'), undefined);
  assert.equal(edge('core', 'node:net'), undefined);
});

test('an upward import fails', () => {
  assert.match(edge('identity', '@zt/transport'), /may not import "transport"/);
  assert.match(edge('transport', '@zt/core'), /may not import "core"/);
  assert.match(edge('proto', '@zt/identity'), /may not import/);
});

test('a sideways import between one layer fails', () => {
  assert.match(edge('transport', '@zt/xds'), /may not import "xds"/);
});

test('metrics imports nothing of ours', () => {
  assert.match(edge('metrics', '@zt/proto'), /may not import/);
});

test('nothing imports the lab or bench; only the lab imports the app', () => {
  assert.match(edge('ztunnel', '@zt/lab'), /nothing may import/);
  assert.match(edge('core', '@zt/lab/testing'), /nothing may import/);
  assert.match(edge('ztunnel', '@zt/bench'), /nothing may import/);
  assert.equal(edge('lab', '@zt/ztunnel'), undefined);
  assert.equal(edge('lab', '@zt/core/testing'), undefined);
  assert.match(edge('core', '@zt/ztunnel'), /may not import "ztunnel"/);
  assert.match(edge('bench', '@zt/ztunnel'), /may not import "ztunnel"/);
});

test('a package may import itself through its public entry points only', () => {
  assert.equal(edge('metrics', '@zt/metrics/testing'), undefined);
  assert.match(edge('metrics', '@zt/metrics/src/registry.ts'), /deep import/);
});

test('deep imports fail', () => {
  assert.match(edge('core', '@zt/transport/src/pool.ts'), /deep import/);
  assert.match(edge('core', '../../transport/src/pool.ts', 'transport'), /by path/);
});

test('import scanning finds every form', () => {
  const text = [
    "import { a } from '@zt/a';",
    "import type { B } from '@zt/b';",
    "export { c } from './c.ts';",
    "import '@zt/side';",
    "const d = await import('@zt/d');",
    'import {\n  e,\n  f,\n} from "@zt/ef";',
  ].join('\n');
  assert.deepEqual(importsOf(text), ['@zt/a', '@zt/b', './c.ts', '@zt/side', '@zt/d', '@zt/ef']);
});

test('checkRepo reports a bad edge written into a tree', () => {
  const root = mkdtempSync(join(tmpdir(), 'depcheck-'));
  mkdirSync(join(root, 'packages', 'identity', 'src'), { recursive: true });
  mkdirSync(join(root, 'packages', 'transport', 'src'), { recursive: true });
  writeFileSync(join(root, 'packages', 'transport', 'src', 'ok.ts'), "import { x } from '@zt/identity';\n");
  writeFileSync(
    join(root, 'packages', 'identity', 'src', 'bad.ts'),
    "import { Pool } from '@zt/transport';\n",
  );
  writeFileSync(
    join(root, 'packages', 'identity', 'src', 'deep.ts'),
    "import { Pool } from '../../transport/src/ok.ts';\n",
  );
  const problems = checkRepo(root);
  assert.equal(problems.length, 2, problems.join('\n'));
  assert.ok(problems.some((p) => p.includes('bad.ts') && p.includes('may not import "transport"')));
  assert.ok(problems.some((p) => p.includes('deep.ts') && p.includes('by path')));
});

test('this repository has no bad edge', () => {
  assert.deepEqual(checkRepo(join(import.meta.dirname, '..')), []);
});
