import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorSchemeProblems } from '@zt/errors/testing';
import * as errors from './errors.ts';

test("every error of the app's servers is a ZtError with an ERR_ZT_<AREA>_<WHAT> code", () => {
  assert.deepEqual(
    errorSchemeProblems({
      module: errors,
      samples: {
        ServerListenError: () =>
          new errors.ServerListenError('metrics', '0.0.0.0', 15020, new Error('EADDRINUSE')),
        AdminNotLoopbackError: () => new errors.AdminNotLoopbackError('0.0.0.0'),
      },
      prefixes: ['ERR_ZT_SERVER_', 'ERR_ZT_ADMIN_'],
    }),
    [],
  );
});
