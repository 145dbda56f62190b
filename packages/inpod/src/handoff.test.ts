import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { Logging } from '@zt/log';
import { captureLog } from '@zt/log/testing';
import { available, unavailableReason } from '@zt/native';
import { netnsUnsupported, TestNetns } from '@zt/native/testing';
import { enableListenerHandoff } from './handoff.ts';

const skip = netnsUnsupported() ?? (available ? undefined : `addon unavailable: ${unavailableReason}`);

describe('enableListenerHandoff', { skip }, () => {
  const made: TestNetns[] = [];
  after(() => {
    for (const ns of made) ns.destroy();
  });

  test("sets tcp_migrate_req in the pod's namespace; a failure is a warning once, not an error", () => {
    const sink = captureLog();
    const log = new Logging({ filter: 'warn', format: 'json', destination: sink }).scope('inpod');
    const pod = new TestNetns('handoff');
    made.push(pod);
    assert.equal(enableListenerHandoff(pod.path, log), true);
    const r = spawnSync('ip', ['netns', 'exec', pod.name, 'cat', '/proc/sys/net/ipv4/tcp_migrate_req'], {
      encoding: 'utf8',
    });
    assert.equal(r.stdout.trim(), '1');
    assert.deepEqual(sink.lines(), []);
    // A namespace zt cannot enter (gone already): false and one warning, then quiet.
    for (let i = 0; i < 3; i++) assert.equal(enableListenerHandoff('/var/run/netns/zt-gone-pod', log), false);
    const warnings = sink.lines().filter((l) => l['level'] === 'warn');
    assert.equal(warnings.length, 1);
    assert.match(String(warnings[0]?.['message']), /tcp_migrate_req/);
  });
});
