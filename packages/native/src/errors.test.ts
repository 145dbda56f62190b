import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ZtError } from '@zt/errors';
import { errorSchemeProblems } from '@zt/errors/testing';
import * as api from './index.ts';

test("every native error is a ZtError whose code is ERR_ZT_NATIVE_*, but a failed system call's", () => {
  assert.deepEqual(
    errorSchemeProblems({
      module: api,
      samples: {
        NativeUnavailableError: () => new api.NativeUnavailableError('not built'),
        NoFdError: () => new api.NoFdError('the socket'),
        MessageTruncatedError: () => new api.MessageTruncatedError('data', 64),
        SocketClosedError: () => new api.SocketClosedError('the socket'),
        KernelTlsUnsupportedError: () => new api.KernelTlsUnsupportedError('ENOENT'),
        KernelTlsHandoffError: () => new api.KernelTlsHandoffError('the peer sent a KeyUpdate'),
      },
      prefixes: ['ERR_ZT_NATIVE_'],
      exceptions: ['NativeSyscallError'],
    }),
    [],
  );
});

test("a failed system call keeps Node's system-error shape: code is the errno name", () => {
  const e = new api.NativeSyscallError('EPERM', -1, 'setsockopt(SO_MARK)', 'operation not permitted');
  assert.equal(e instanceof ZtError, false);
  assert.equal(e.code, 'EPERM');
  assert.equal(e.errno, -1);
  assert.equal(e.syscall, 'setsockopt(SO_MARK)');
  assert.match(e.message, /CAP_NET_ADMIN/);
});
