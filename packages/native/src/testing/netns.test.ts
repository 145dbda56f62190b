import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { freeTestSubnet, netnsUnsupported, sweepStaleNetns } from './netns.ts';

const skip = netnsUnsupported();

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `ip ${args.join(' ')}: ${r.stderr}`);
}

/** A pid that ran and exited, so no process has it now. */
function deadPid(): number {
  const r = spawnSync('true');
  assert.ok(r.pid);
  return r.pid;
}

test('sweepStaleNetns deletes namespaces of exited processes and keeps those of live ones', { skip }, () => {
  // Names no other sweep touches: the netns suites of other packages sweep `zt*` as they start,
  // concurrently with this test, and would take its stale namespace first.
  const stale = `sweeptest-stale-${deadPid()}-1`;
  const live = `sweeptest-live-${process.pid}-1`;
  ip('netns', 'add', stale);
  ip('netns', 'add', live);
  try {
    const deleted = sweepStaleNetns('sweeptest-');
    assert.ok(deleted.includes(stale), `${stale} not in ${deleted.join(', ')}`);
    assert.ok(!deleted.includes(live));
    const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(list, new RegExp(`^${stale}\\b`, 'm'));
    assert.match(list, new RegExp(`^${live}\\b`, 'm'));
  } finally {
    spawnSync('ip', ['netns', 'delete', live]);
    spawnSync('ip', ['netns', 'delete', stale]);
  }
});

test('freeTestSubnet skips a 10.X/16 that an interface here already uses', { skip }, () => {
  const first = freeTestSubnet(90, 2);
  const other = first === 90 ? 91 : 90;
  // An interface holding an address in the subnet that would be picked first (a veth: the kernel
  // here has no dummy driver).
  const dev = `ztd${process.pid}`;
  ip('link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`);
  try {
    ip('addr', 'add', `10.${first}.7.1/24`, 'dev', dev);
    assert.equal(freeTestSubnet(90, 2), other);
    ip('addr', 'add', `10.${other}.7.1/24`, 'dev', dev);
    assert.throws(() => freeTestSubnet(90, 2), /no free 10\.X\.0\.0\/16 for X in 90\.\.91/);
  } finally {
    spawnSync('ip', ['link', 'del', dev]);
  }
});
