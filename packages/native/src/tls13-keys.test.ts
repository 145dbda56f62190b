import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hkdfExpandLabel, isKernelTlsSuite, parseKeylogLine, trafficKeys } from './index.ts';
import { openRecord, sealRecord, wholeRecordLength } from './tls13-record.ts';

describe('TLS 1.3 traffic keys', () => {
  test('match RFC 8448 §3 (server handshake traffic key and IV of the simple 1-RTT trace)', () => {
    const secret = Buffer.from('b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38', 'hex');
    const keys = trafficKeys('TLS_AES_128_GCM_SHA256', secret);
    assert.equal(keys.cipher, 'aes-128-gcm');
    assert.equal(keys.key.toString('hex'), '3fce516009c21727d0f2e4e86ee403bc');
    assert.equal(keys.iv.toString('hex'), '5d313eb2671276ee13000b30');
  });

  test('have the lengths of each suite, and refuse suites outside TLS 1.3', () => {
    const secret384 = Buffer.alloc(48, 1);
    const k256 = trafficKeys('TLS_AES_256_GCM_SHA384', secret384);
    assert.deepEqual([k256.cipher, k256.key.length, k256.iv.length], ['aes-256-gcm', 32, 12]);
    const chacha = trafficKeys('TLS_CHACHA20_POLY1305_SHA256', Buffer.alloc(32, 1));
    assert.deepEqual([chacha.cipher, chacha.key.length, chacha.iv.length], ['chacha20-poly1305', 32, 12]);
    assert.equal(isKernelTlsSuite('ECDHE-RSA-AES128-GCM-SHA256'), false);
    assert.throws(() => trafficKeys('ECDHE-RSA-AES128-GCM-SHA256', secret384), RangeError);
    // Different labels give different outputs from one secret.
    assert.notDeepEqual(
      hkdfExpandLabel('sha256', Buffer.alloc(32), 'key', Buffer.alloc(0), 16),
      hkdfExpandLabel('sha256', Buffer.alloc(32), 'iv', Buffer.alloc(0), 16),
    );
  });

  test('key log lines parse; other lines do not', () => {
    const e = parseKeylogLine(Buffer.from('CLIENT_TRAFFIC_SECRET_0 0a0b 00ff10\n'));
    assert.deepEqual(e, {
      label: 'CLIENT_TRAFFIC_SECRET_0',
      clientRandom: '0a0b',
      secret: Buffer.from([0, 0xff, 0x10]),
    });
    assert.equal(parseKeylogLine('# comment'), undefined);
    assert.equal(parseKeylogLine('LABEL random nothex'), undefined);
  });
});

describe('TLS 1.3 records in userspace', () => {
  const keys = trafficKeys('TLS_AES_256_GCM_SHA384', Buffer.alloc(48, 7));
  test('open what they seal, only at the same sequence number and with the same keys', () => {
    const record = sealRecord(keys, 5n, 23, Buffer.from('hello'));
    assert.equal(wholeRecordLength(record), record.length);
    assert.equal(wholeRecordLength(record.subarray(0, record.length - 1)), 0);
    assert.deepEqual(openRecord(keys, 5n, record), { type: 23, data: Buffer.from('hello') });
    assert.equal(openRecord(keys, 4n, record), undefined);
    assert.equal(
      openRecord(trafficKeys('TLS_AES_256_GCM_SHA384', Buffer.alloc(48, 8)), 5n, record),
      undefined,
    );
    const tampered = Buffer.from(record);
    tampered[7] = (tampered[7] as number) ^ 1;
    assert.equal(openRecord(keys, 5n, tampered), undefined);
  });
});
