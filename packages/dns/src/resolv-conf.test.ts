import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ResolvConfError } from './errors.ts';
import { parseResolvConf, readResolvConf } from './resolv-conf.ts';

describe('resolv.conf', () => {
  test("a Kubernetes pod's file", () => {
    const conf = parseResolvConf(
      [
        'search istio-system.svc.cluster.local svc.cluster.local cluster.local',
        'nameserver 10.96.0.10',
        'options ndots:5',
        '',
      ].join('\n'),
    );
    assert.deepEqual(conf, {
      nameservers: ['10.96.0.10'],
      search: ['istio-system.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
      timeoutSec: 5,
      attempts: 2,
      ndots: 5,
      useTcp: false,
    });
  });
  test('comments, IPv6 with a zone, bad addresses skipped, last of domain/search wins, options', () => {
    const conf = parseResolvConf(
      [
        '# generated',
        'nameserver 127.0.0.53 ; stub',
        'nameserver fe80::1%eth0',
        'nameserver not-an-ip',
        'search a.example b.example.',
        'domain corp.example',
        'options timeout:1 attempts:3 use-vc rotate',
      ].join('\n'),
    );
    assert.deepEqual(conf.nameservers, ['127.0.0.53', 'fe80::1%eth0']);
    assert.deepEqual(conf.search, ['corp.example']);
    assert.equal(conf.domain, 'corp.example');
    assert.deepEqual([conf.timeoutSec, conf.attempts, conf.useTcp], [1, 3, true]);
  });
  test('a file without nameserver, or none at all, is a ResolvConfError naming the path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zt-dns-resolv-'));
    const empty = join(dir, 'resolv.conf');
    writeFileSync(empty, 'search example.com\n');
    assert.throws(
      () => readResolvConf(empty),
      (e: unknown) =>
        e instanceof ResolvConfError && e.code === 'ERR_ZT_DNS_RESOLV_CONF' && e.message.includes(empty),
    );
    assert.throws(() => readResolvConf(join(dir, 'missing')), ResolvConfError);
  });
});
