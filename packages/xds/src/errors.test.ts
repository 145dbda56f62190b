import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorSchemeProblems } from '@zt/errors/testing';
import { XDS_ERROR_CODES } from './errors.ts';
import * as api from './index.ts';

test('every xds error is a ZtError whose code is ERR_ZT_XDS_*', () => {
  assert.deepEqual(
    errorSchemeProblems({
      module: api,
      samples: {
        XdsError: () => new api.XdsError('ERR_ZT_XDS_CONFIG', 'bad'),
        ResourceError: () => new api.ResourceError('ns/p', 'bad bytes'),
        LocalConfigError: () => new api.LocalConfigError('inline', 'not YAML', { line: 3 }),
        XdsConfigError: () => new api.XdsConfigError('XDS_ADDRESS is not a URL'),
      },
      codes: XDS_ERROR_CODES,
      prefixes: ['ERR_ZT_XDS_'],
    }),
    [],
  );
});
