import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorCode, errorMessage, isZtErrorCode, ZtError } from './index.ts';

test('a ZtError carries its code, message and cause', () => {
  const cause = new Error('socket closed');
  const err = new ZtError('ERR_ZT_XDS_STREAM_CLOSED', 'the xDS stream closed; check XDS_ADDRESS', { cause });
  assert.equal(err.code, 'ERR_ZT_XDS_STREAM_CLOSED');
  assert.equal(err.message, 'the xDS stream closed; check XDS_ADDRESS');
  assert.equal(err.cause, cause);
  assert.ok(err instanceof Error);
});

test('a subclass keeps its own name and is still a ZtError', () => {
  class PoolError extends ZtError {
    constructor() {
      super('ERR_ZT_HBONE_POOL_CLOSED', 'the pool is closed');
      this.name = 'PoolError';
    }
  }
  const err = new PoolError();
  assert.ok(err instanceof ZtError);
  assert.equal(err.name, 'PoolError');
  assert.match(String(err), /^PoolError: the pool is closed$/);
});

test('codes outside ERR_ZT_<AREA>_<WHAT> are refused', () => {
  for (const bad of [
    'ERR_CA_UNAVAILABLE',
    'ZT_SERVER_LISTEN',
    'ERR_ZT_XDS',
    'err_zt_xds_nack',
    'ERR_ZT__X',
  ]) {
    assert.equal(isZtErrorCode(bad), false, bad);
    assert.throws(() => new ZtError(bad, 'x'), TypeError);
  }
  for (const good of ['ERR_ZT_XDS_NACK', 'ERR_ZT_CA_BAD_CERTIFICATE', 'ERR_ZT_INPOD_NETNS_GONE']) {
    assert.equal(isZtErrorCode(good), true, good);
  }
});

test('errorCode and errorMessage read whatever was thrown', () => {
  assert.equal(errorCode(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), 'ECONNREFUSED');
  assert.equal(errorCode('a string'), undefined);
  assert.equal(errorCode(null), undefined);
  assert.equal(errorMessage(new Error('boom')), 'boom');
  assert.equal(errorMessage(42), '42');
});
