import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bytesToIp, canonicalIp, cidrContains, ipToBytes, parseIp, socketIp } from './ip.ts';

test('canonicalIp: the model form, RFC 5952, IPv4-mapped kept as IPv6', () => {
  assert.equal(canonicalIp('10.0.0.1'), '10.0.0.1');
  assert.equal(canonicalIp('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(canonicalIp('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(canonicalIp('::FFFF:10.0.0.1'), '::ffff:10.0.0.1');
  assert.equal(canonicalIp('::ffff:a00:1'), '::ffff:10.0.0.1');
  assert.equal(canonicalIp('fe80::1%eth0'), 'fe80::1');
  for (const bad of ['10.0.0.256', 'example.com', '', '1::2::3'])
    assert.equal(canonicalIp(bad), undefined, bad);
});

test('socketIp: a connection address for lookups, IPv4-mapped becomes IPv4', () => {
  assert.equal(socketIp('10.0.0.1'), '10.0.0.1');
  assert.equal(socketIp('::ffff:10.0.0.1'), '10.0.0.1');
  assert.equal(socketIp('::FFFF:a00:1'), '10.0.0.1');
  assert.equal(socketIp('0:0:0:0:0:ffff:10.0.0.1'), '10.0.0.1');
  assert.equal(socketIp('fd00::1'), 'fd00::1');
  assert.equal(socketIp('FD00:0:0::0001'), 'fd00::1');
  assert.equal(socketIp('fe80::1%eth0'), 'fe80::1');
  // Not an IP: unchanged, so a lookup misses rather than hitting some other entry.
  assert.equal(socketIp('not:an:ip'), 'not:an:ip');
  assert.equal(socketIp(''), '');
});

test('the two forms differ only for IPv4-mapped addresses', () => {
  for (const ip of ['10.1.2.3', '2001:db8::1', '::1', 'fd00:1:2:3:4:5:6:7']) {
    assert.equal(socketIp(ip), canonicalIp(ip), ip);
  }
  assert.notEqual(socketIp('::ffff:10.1.2.3'), canonicalIp('::ffff:10.1.2.3'));
});

test('bytes and text round-trip for both families', () => {
  for (const ip of [
    '0.0.0.0',
    '255.255.255.255',
    '::',
    '::1',
    '1::',
    '2001:db8::8:800:200c:417a',
    '::ffff:1.2.3.4',
  ]) {
    const b = ipToBytes(ip);
    assert.ok(b, ip);
    assert.equal(bytesToIp(b), ip);
  }
  assert.equal(bytesToIp(new Uint8Array(3)), undefined);
  // The first of two equally long zero runs is the one compressed.
  assert.equal(bytesToIp(Uint8Array.from([0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1])), '1::1:0:0:1:1');
});

test('parseIp: a number per family; IPv4-mapped counts as IPv4', () => {
  assert.deepEqual(parseIp('10.0.0.1'), { family: 4, value: 0x0a000001n });
  assert.deepEqual(parseIp('::ffff:10.0.0.1'), { family: 4, value: 0x0a000001n });
  assert.deepEqual(parseIp('::1'), { family: 6, value: 1n });
  assert.deepEqual(parseIp('fd00::'), { family: 6, value: 0xfdn << 120n });
  assert.equal(parseIp('10.0.0'), undefined);
});

test('cidrContains: same family only, prefix lengths within the family', () => {
  const ip = parseIp('10.1.2.3');
  assert.equal(cidrContains('10.0.0.0', 8, ip), true);
  assert.equal(cidrContains('10.1.2.3', 32, ip), true);
  assert.equal(cidrContains('10.1.2.4', 32, ip), false);
  assert.equal(cidrContains('0.0.0.0', 0, ip), true);
  assert.equal(cidrContains('11.0.0.0', 8, ip), false);
  assert.equal(cidrContains('::', 0, ip), false);
  assert.equal(cidrContains('10.0.0.0', 33, ip), false);
  assert.equal(cidrContains('10.0.0.0', -1, ip), false);
  assert.equal(cidrContains('10.0.0.0', 8, undefined), false);
  assert.equal(cidrContains('fd00::', 8, parseIp('fd12::1')), true);
  assert.equal(cidrContains('fd00::', 16, parseIp('fd12::1')), false);
  assert.equal(cidrContains('10.0.0.0', 8, parseIp('::ffff:10.9.9.9')), true);
});
