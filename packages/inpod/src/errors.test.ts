import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorSchemeProblems } from '@zt/errors/testing';
import { INPOD_ERROR_CODES } from './errors.ts';
import * as api from './index.ts';

test('every inpod error is a ZtError whose code is ERR_ZT_INPOD_*', () => {
  assert.deepEqual(
    errorSchemeProblems({
      module: api,
      samples: {
        InpodError: () => new api.InpodError('ERR_ZT_INPOD_CLOSED', 'closed'),
        ZdsRequestError: () => new api.ZdsRequestError('fd', 'no fd'),
        PodGoneError: () => new api.PodGoneError('uid-1'),
        InpodConfigError: () => new api.InpodConfigError('INPOD_UDS is empty'),
      },
      codes: INPOD_ERROR_CODES,
      prefixes: ['ERR_ZT_INPOD_'],
    }),
    [],
  );
});
