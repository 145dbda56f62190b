import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseStatCpuSeconds, parseStatusMemory, sampleProc } from './procstat.ts';

describe('procstat', () => {
  it('parses utime + stime even when the command name has spaces and parentheses', () => {
    const stat = '4242 (node (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 11 0 1000 1 1';
    assert.equal(parseStatCpuSeconds(stat), 3.25);
  });
  it('parses VmRSS and VmHWM in bytes', () => {
    const status = 'Name:\tnode\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n';
    assert.deepEqual(parseStatusMemory(status), { rssBytes: 100 * 1024 * 1024, hwmBytes: 200 * 1024 * 1024 });
  });
  it('sees this process burn CPU and hold memory', () => {
    const before = sampleProc(process.pid);
    const until = Date.now() + 150;
    let x = 0;
    while (Date.now() < until) x += Math.sqrt(x + 1);
    const after = sampleProc(process.pid);
    assert.ok(x > 0);
    assert.ok(after.cpuSeconds - before.cpuSeconds >= 0.05, `${after.cpuSeconds - before.cpuSeconds}`);
    assert.ok(after.rssBytes > 10 * 1024 * 1024 && after.hwmBytes >= after.rssBytes);
  });
});
