import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { available, NativeSyscallError, setNetnsSysctl, unavailableReason } from './index.ts';
import { netnsUnsupported, TestNetns } from './testing/index.ts';

const NAME = 'net.ipv4.tcp_migrate_req';

const skip = netnsUnsupported() ?? (available ? undefined : `addon unavailable: ${unavailableReason}`);

describe('setNetnsSysctl', { skip }, () => {
  const made: TestNetns[] = [];
  after(() => {
    for (const ns of made) ns.destroy();
  });

  async function read(ns: TestNetns): Promise<string> {
    const r = await ns.spawn('cat', [`/proc/sys/${NAME.replaceAll('.', '/')}`]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  }

  test("writes the namespace's own value, by path and by fd; this process's namespace keeps its own", async () => {
    const a = new TestNetns('sysctl');
    const b = new TestNetns('sysctl');
    made.push(a, b);
    const host = readFileSync(`/proc/sys/${NAME.replaceAll('.', '/')}`, 'utf8').trim();
    assert.equal(await read(a), '0', 'a new namespace starts at 0');
    setNetnsSysctl(a.path, NAME, 1);
    const fd = openSync(b.path, 'r');
    try {
      setNetnsSysctl(fd, NAME, '1');
    } finally {
      closeSync(fd);
    }
    assert.equal(await read(a), '1');
    assert.equal(await read(b), '1');
    setNetnsSysctl(a.name, NAME, 0);
    assert.equal(await read(a), '0', 'an ip netns name works too');
    assert.equal(readFileSync(`/proc/sys/${NAME.replaceAll('.', '/')}`, 'utf8').trim(), host);
  });

  test('refuses names outside net. and reports a missing sysctl as a syscall error', () => {
    const ns = new TestNetns('sysctl');
    made.push(ns);
    for (const bad of ['kernel.panic', 'net..ipv4', 'net.ipv4/../../kernel', 'net.ipv4.', 'net.IPV4'])
      assert.throws(() => setNetnsSysctl(ns.path, bad, 1), TypeError, bad);
    assert.throws(
      () => setNetnsSysctl(ns.path, 'net.ipv4.no_such_knob', 1),
      (e: unknown) => e instanceof NativeSyscallError && e.code === 'ENOENT',
    );
    assert.throws(
      () => setNetnsSysctl('/var/run/netns/zt-no-such-namespace', NAME, 1),
      (e: unknown) => e instanceof NativeSyscallError && e.code === 'ENOENT',
    );
  });
});
