import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeAck,
  decodeHello,
  decodeRequest,
  encodeAck,
  encodeHello,
  encodeRequest,
  ZDS_VERSION_V1,
  type ZdsRequest,
} from './codec.ts';
import { ZdsRequestError } from './errors.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('ZDS codec', () => {
  test("field numbers on the wire are upstream's", () => {
    // WorkloadRequest.add = 1 { uid = 1, workload_info = 2 { name = 1, namespace = 2, service_account = 3 } }
    assert.equal(
      hex(encodeRequest({ t: 'add', uid: 'u', info: { name: 'a', namespace: 'n', serviceAccount: 's' } })),
      '0a0e0a01751209' + '0a0161' + '12016e' + '1a0173',
    );
    assert.equal(hex(encodeRequest({ t: 'del', uid: 'u' })), '1203' + '120175', 'del = 2, its uid = 2');
    assert.equal(hex(encodeRequest({ t: 'snapshotSent' })), '1a00', 'snapshot_sent = 3');
    assert.equal(hex(encodeRequest({ t: 'keep', uid: 'u' })), '2a03' + '0a0175', 'keep = 5');
    assert.equal(hex(encodeHello()), '0801', 'ZdsHello.version = V1');
    assert.equal(hex(encodeAck('no')), '0a04' + '0a026e6f', 'WorkloadResponse.ack = 1 { error = 1 }');
  });

  test('requests, acks and hellos round-trip', () => {
    const reqs: ZdsRequest[] = [
      { t: 'add', uid: 'pod-1', info: { name: 'web', namespace: 'prod', serviceAccount: 'web-sa' } },
      { t: 'add', uid: 'pod-2', info: undefined },
      { t: 'keep', uid: 'pod-3' },
      { t: 'del', uid: 'pod-4' },
      { t: 'snapshotSent' },
    ];
    for (const r of reqs) assert.deepEqual(decodeRequest(encodeRequest(r)), r);
    assert.equal(decodeAck(encodeAck()), '');
    assert.equal(decodeAck(encodeAck('failed to start proxy')), 'failed to start proxy');
    assert.equal(decodeHello(encodeHello()), ZDS_VERSION_V1);
  });

  test('garbage and empty requests are ZdsRequestError with reason decode', () => {
    for (const bad of [Buffer.from('garbage!!'), Buffer.from([0x0a, 0x20, 0x01]), Buffer.alloc(0)]) {
      assert.throws(
        () => decodeRequest(bad),
        (e: unknown) =>
          e instanceof ZdsRequestError && e.reason === 'decode' && e.code === 'ERR_ZT_INPOD_BAD_REQUEST',
      );
    }
    assert.throws(() => decodeAck(Buffer.alloc(0)), /no Ack/);
  });
});
