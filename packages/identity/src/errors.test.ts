import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorSchemeProblems } from '@zt/errors/testing';
import { IDENTITY_ERROR_CODES } from './errors.ts';
import * as api from './index.ts';

test('every identity error is a ZtError whose code is ERR_ZT_IDENTITY_*, ERR_ZT_CA_* or ERR_ZT_CERT_*', () => {
  const id = 'spiffe://cluster.local/ns/default/sa/sleep';
  assert.deepEqual(
    errorSchemeProblems({
      module: api,
      samples: {
        IdentityError: () => new api.IdentityError('ERR_ZT_CERT_CLOSED', 'closed'),
        InvalidIdentityError: () => new api.InvalidIdentityError('spiffe://x', 'bad'),
        CaUnavailableError: () => new api.CaUnavailableError('https://istiod:15012', 'unreachable', 14),
        CaResponseError: () => new api.CaResponseError('ERR_ZT_CA_EMPTY_RESPONSE', id, 'empty'),
        IdentityMismatchError: () => new api.IdentityMismatchError(id, []),
        TokenError: () => new api.TokenError('/var/run/token', 'ENOENT'),
        CaConfigError: () => new api.CaConfigError('bad address'),
        CertForgottenError: () => new api.CertForgottenError(id),
      },
      codes: IDENTITY_ERROR_CODES,
      prefixes: ['ERR_ZT_IDENTITY_', 'ERR_ZT_CA_', 'ERR_ZT_CERT_'],
    }),
    [],
  );
});
