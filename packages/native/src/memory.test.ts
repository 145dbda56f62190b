import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { available, unavailableReason } from './index.ts';

// A child fills the C heap with 16 KiB buffers, frees nine in ten (the survivors pin the arena, so
// free() alone cannot shrink it), and reports RSS before and after releaseFreeMemory().
const child = `
import { releaseFreeMemory } from '@zt/native';
const rss = () => process.memoryUsage.rss() / 2 ** 20;
let held = Array.from({ length: 20000 }, () => Buffer.alloc(16 * 1024, 1));
held = held.filter((_, i) => i % 10 === 0);
globalThis.gc(); globalThis.gc();
const before = rss();
const released = releaseFreeMemory();
console.log(JSON.stringify({ before, after: rss(), released, kept: held.length }));
`;

test('releaseFreeMemory hands freed C-heap pages back to the kernel', {
  skip: available ? false : `addon unavailable: ${unavailableReason}`,
}, (t) => {
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', '--conditions=zt-source', '--input-type=module', '-e', child],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const m = JSON.parse(r.stdout.trim()) as { before: number; after: number; released: boolean };
  t.diagnostic(`RSS ${m.before.toFixed(0)} MiB -> ${m.after.toFixed(0)} MiB`);
  assert.equal(m.released, true);
  // About 280 MiB was freed; most of it must leave the process.
  assert.ok(m.before - m.after > 150, `RSS fell only from ${m.before} to ${m.after} MiB`);
});
