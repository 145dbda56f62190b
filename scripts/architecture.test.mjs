// ARCHITECTURE.md against the code: its package table names every package of packages/ and apps/
// (and nothing else), with its folder and the packages it uses; its layer picture puts each one on
// the layer scripts/depcheck.mjs gives it.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ANYONE_MAY_IMPORT, RANKS } from './depcheck.mjs';

const ROOT = join(import.meta.dirname, '..');

/** The "## Packages" section of the document. */
function packagesSection(doc) {
  const start = doc.indexOf('\n## Packages');
  assert.ok(start >= 0, 'ARCHITECTURE.md has a "## Packages" section');
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end === -1 ? undefined : end);
}

/** Rows of the package table: `| `@zt/x` | `folder` | uses | role |`. */
function tableRows(doc) {
  const rows = [];
  for (const line of packagesSection(doc).split('\n')) {
    const m = /^\|\s*`(@zt\/[^`]+)`\s*\|\s*`([^`]+)`\s*\|([^|]*)\|/.exec(line);
    if (!m) continue;
    const uses = m[3]
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean)
      .sort();
    rows.push({ name: m[1], folder: m[2], uses });
  }
  return rows;
}

/** Layer of each name in the picture: `layer N   a   apps/b   c/ ...` (N as in depcheck, 2.5 too), `bottom   x   y`. */
function pictureLayers(doc) {
  const layers = new Map();
  for (const line of packagesSection(doc).split('\n')) {
    const m = /^(layer ([\d.]+)|bottom)\s+(.*)$/.exec(line);
    if (!m) continue;
    const layer = m[2] === undefined ? 'bottom' : Number(m[2]);
    for (const word of m[3]
      .replace(/\(.*?\)/g, ' ')
      .split(/\s+/)
      .filter(Boolean)) {
      layers.set(word.replace(/^apps\//, '').replace(/\/$/, ''), layer);
    }
  }
  return layers;
}

/** The workspace packages of packages/ and apps/, as their package.json files say. */
function presentPackages(root) {
  const out = [];
  for (const group of ['packages', 'apps']) {
    for (const dir of readdirSync(join(root, group))) {
      const file = join(root, group, dir, 'package.json');
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, 'utf8'));
      const uses = Object.keys(manifest.dependencies ?? {})
        .filter((d) => d.startsWith('@zt/'))
        .map((d) => d.slice('@zt/'.length))
        .filter((d) => !ANYONE_MAY_IMPORT.has(d))
        .sort();
      out.push({ name: manifest.name, folder: `${group}/${dir}`, uses });
    }
  }
  return out;
}

/** What the document gets wrong about the packages, one sentence each. */
function compare(doc, present) {
  const problems = [];
  const rows = tableRows(doc);
  const byName = new Map(rows.map((r) => [r.name, r]));
  for (const pkg of present) {
    const row = byName.get(pkg.name);
    if (!row) {
      problems.push(`${pkg.name} (${pkg.folder}) has no row in the package table`);
      continue;
    }
    if (row.folder !== pkg.folder)
      problems.push(`${pkg.name}: the table says ${row.folder}, it is ${pkg.folder}`);
    if (row.uses.join(', ') !== pkg.uses.join(', ')) {
      problems.push(
        `${pkg.name}: the table says it uses "${row.uses.join(', ')}", its dependencies are "${pkg.uses.join(', ')}"`,
      );
    }
  }
  const names = new Set(present.map((p) => p.name));
  for (const row of rows) {
    if (!names.has(row.name))
      problems.push(
        `${row.name}: a row in the table, but no package.json of that name in packages/ or apps/`,
      );
  }
  const layers = pictureLayers(doc);
  for (const pkg of present) {
    const short = pkg.name.replace(/^@zt\//, '');
    const want = ANYONE_MAY_IMPORT.has(short) ? 'bottom' : RANKS[short];
    if (layers.get(short) !== want) {
      problems.push(
        `${short}: the picture puts it on layer ${layers.get(short) ?? '(none)'}, depcheck on ${want}`,
      );
    }
  }
  return problems;
}

test('ARCHITECTURE.md names every package with its folder, what it uses and its layer', () => {
  const doc = readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8');
  const present = presentPackages(ROOT);
  assert.ok(present.length >= 10, `packages found: ${present.map((p) => p.name).join(', ')}`);
  assert.deepEqual(compare(doc, present), []);
});

test('a missing row, an extra row, a wrong folder, wrong uses and a wrong layer are each reported', () => {
  const doc = [
    '# x',
    '## Packages',
    '```',
    'layer 1   identity',
    'layer 0   proto     native',
    'bottom    errors    metrics',
    '```',
    '| package | folder | uses | role |',
    '| --- | --- | --- | --- |',
    '| `@zt/proto` | `packages/proto` | | schemas |',
    '| `@zt/identity` | `packages/ident` | metrics | certificates |',
    '| `@zt/gone` | `packages/gone` | | removed long ago |',
    '## Ports',
  ].join('\n');
  const present = [
    { name: '@zt/proto', folder: 'packages/proto', uses: [] },
    { name: '@zt/identity', folder: 'packages/identity', uses: ['proto'] },
    { name: '@zt/core', folder: 'packages/core', uses: ['identity'] },
  ];
  const problems = compare(doc, present);
  assert.deepEqual(problems, [
    '@zt/identity: the table says packages/ident, it is packages/identity',
    '@zt/identity: the table says it uses "metrics", its dependencies are "proto"',
    '@zt/core (packages/core) has no row in the package table',
    '@zt/gone: a row in the table, but no package.json of that name in packages/ or apps/',
    'core: the picture puts it on layer (none), depcheck on 3',
  ]);
});
