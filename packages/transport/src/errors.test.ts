import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorSchemeProblems } from '@zt/errors/testing';
import * as abuse from './abuse.ts';
import { HBONE_ERROR_CODES } from './errors.ts';
import * as api from './index.ts';

test('every transport error is a ZtError whose code is ERR_ZT_HBONE_*', () => {
  assert.deepEqual(
    errorSchemeProblems({
      // The session errors are not exported, but they reach users through onError and logs.
      module: { ...api, ...abuse },
      samples: {
        HboneError: () => new api.HboneError('ERR_ZT_HBONE_ALPN', 'no h2'),
        HboneConnectError: () => new api.HboneConnectError(401, '10.0.0.1:80'),
        PeerIdentityMismatchError: () => new api.PeerIdentityMismatchError(['spiffe://a/ns/b/sa/c'], []),
        PeerTrustDomainError: () => new api.PeerTrustDomainError('cluster.local', []),
        ConnectTimeoutError: () => new api.ConnectTimeoutError('10.0.0.1:15008', 100),
        HboneConnectionError: () => new api.HboneConnectionError('10.0.0.1:15008', new Error('refused')),
        StreamResetError: () => new api.StreamResetError(8, 'cancelled'),
        InvalidAuthorityError: () => new api.InvalidAuthorityError('nohost'),
        PoolClosedError: () => new api.PoolClosedError(),
        HboneSessionError: () => new abuse.HboneSessionError('flood', new Error('too many frames')),
        MalformedStreamsError: () => new abuse.MalformedStreamsError(3),
      },
      codes: HBONE_ERROR_CODES,
      prefixes: ['ERR_ZT_HBONE_'],
    }),
    [],
  );
});
