import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { test } from 'node:test';
import { maxFds, openFds, registry, startProcessMetrics } from './index.ts';
import { parseExposition, sampleValue } from './testing/index.ts';

const linux = process.platform === 'linux';

test('openFds counts this process descriptors: one more while a file is open', { skip: !linux }, () => {
  const before = openFds();
  assert.ok(before !== undefined && before > 0);
  const fd = openSync('/proc/self/status', 'r');
  try {
    assert.equal(openFds(), before + 1);
  } finally {
    closeSync(fd);
  }
  assert.equal(openFds(), before);
});

test('maxFds is the soft RLIMIT_NOFILE, as the shell reports it', { skip: !linux }, () => {
  const soft = execFileSync('sh', ['-c', 'ulimit -Sn'], { encoding: 'utf8' }).trim();
  assert.equal(maxFds(), soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft));
});

test("process_open_fds and process_max_fds are exposed with upstream's names, read at scrape", {
  skip: !linux,
}, async () => {
  startProcessMetrics();
  startProcessMetrics(); // a second call registers nothing twice
  const exp = parseExposition(await registry.metrics());
  assert.equal(exp.types.get('process_open_fds'), 'gauge');
  assert.equal(exp.types.get('process_max_fds'), 'gauge');
  assert.ok((sampleValue(exp, 'process_open_fds', {}) ?? 0) > 0);
  assert.equal(sampleValue(exp, 'process_max_fds', {}), maxFds());
});
