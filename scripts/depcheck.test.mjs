import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkEdge, checkManifest, checkRepo, importsOf, packageNameOf, usesOf } from './depcheck.mjs';

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

/** checkManifest on one package; `files` maps a path under src/ to its source text. */
function manifestProblems(manifest, files) {
  return checkManifest({
    name: manifest.name ?? '@zt/pkg',
    manifest,
    manifestFile: 'pkg/package.json',
    files: Object.entries(files).map(([file, text]) => ({
      file: `pkg/src/${file}`,
      specifiers: usesOf(text),
    })),
  });
}

test('package names of specifiers', () => {
  assert.equal(packageNameOf('@zt/core/testing'), '@zt/core');
  assert.equal(packageNameOf('yaml'), 'yaml');
  assert.equal(packageNameOf('pino/file'), 'pino');
  assert.equal(packageNameOf('node:fs'), undefined);
  assert.equal(packageNameOf('./a.ts'), undefined);
});

test('a declared dependency that no non-test file imports fails; type-only and side-effect imports count', () => {
  const manifest = { name: '@zt/pkg', dependencies: { pino: '1', yaml: '1', '@zt/xds': '1', piscina: '1' } };
  const problems = manifestProblems(manifest, {
    'log.ts': "import type { Logger } from 'pino';",
    'side.ts': "import '@zt/xds';",
    'conf.ts': "import { parse } from 'yaml';",
    'pool.test.ts': "import { Piscina } from 'piscina';",
  });
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(
    problems[0],
    /pkg\/package\.json: dependency "piscina" is imported by no non-test file of @zt\/pkg/,
  );
});

test('a devDependency only tests import is fine', () => {
  const manifest = { name: '@zt/pkg', devDependencies: { '@zt/identity': '1' } };
  assert.deepEqual(manifestProblems(manifest, { 'a.test.ts': "await import('@zt/identity/testing');" }), []);
});

test('shipped code importing a package it does not declare, or declares for development only, fails', () => {
  const manifest = {
    name: '@zt/pkg',
    dependencies: { '@zt/core': '1' },
    devDependencies: { '@zt/native': '1' },
  };
  const problems = manifestProblems(manifest, {
    'a.ts': "import { x } from '@zt/core';\nimport { y } from '@zt/native';\nimport { z } from 'undici';",
  });
  assert.equal(problems.length, 2, problems.join('\n'));
  assert.match(
    problems[0],
    /"@zt\/native" is only a devDependency in pkg\/package\.json; add it to "dependencies"/,
  );
  assert.match(problems[1], /"undici" is not declared/);
});

test('require and resolve calls count as use (the native build resolves node-gyp)', () => {
  const manifest = { name: '@zt/native', dependencies: { 'node-gyp': '1' } };
  const text = "const gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');";
  assert.deepEqual(manifestProblems(manifest, { 'build.mjs': text }), []);
  assert.deepEqual(usesOf("require('a'); require.resolve('b'); path.resolve('src');"), ['a', 'b']);
});

test('shipped code may not import a /testing entry; tests, testing/ folders and private packages may', () => {
  const deps = { dependencies: { '@zt/xds': '1' } };
  const files = {
    'app.ts': "import { parse } from '@zt/xds';",
    'demo.ts': "import { makeWorkload } from '@zt/xds/testing';",
    'testing/fixtures.ts': "export { makeWorkload } from '@zt/xds/testing';",
    'app.test.ts': "import { makeWorkload } from '@zt/xds/testing';",
  };
  const shipped = manifestProblems({ name: '@zt/ztunnel', ...deps }, files);
  assert.equal(shipped.length, 1, shipped.join('\n'));
  assert.match(shipped[0], /pkg\/src\/demo\.ts: shipped code imports "@zt\/xds\/testing"/);
  assert.deepEqual(manifestProblems({ name: '@zt/lab', private: true, ...deps }, files), []);
});

test('checkRepo reads each package.json against its files', () => {
  const root = mkdtempSync(join(tmpdir(), 'depcheck-'));
  const dir = join(root, 'packages', 'inpod');
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: '@zt/inpod', dependencies: { '@zt/proto': '1', protobufjs: '1' } }),
  );
  writeFileSync(join(dir, 'src', 'a.ts'), "import { load } from '@zt/proto';\n");
  const problems = checkRepo(root);
  assert.deepEqual(problems, [
    'packages/inpod/package.json: dependency "protobufjs" is imported by no non-test file of @zt/inpod; ' +
      'remove it, or make it a devDependency if a test needs it',
  ]);
});

test('this repository has no bad edge and no manifest out of step with its imports', () => {
  assert.deepEqual(checkRepo(join(import.meta.dirname, '..')), []);
});
