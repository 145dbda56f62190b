import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorSchemeProblems } from '@zt/errors/testing';
import { CORE_ERROR_CODES } from './errors.ts';
import * as api from './index.ts';

test('every core error is a ZtError whose code is ERR_ZT_PROXY_* or ERR_ZT_CORE_*', () => {
  assert.deepEqual(
    errorSchemeProblems({
      module: api,
      samples: {
        CoreError: () => new api.CoreError('ERR_ZT_PROXY_DIAL', 'x'),
        DialError: () => new api.DialError({ address: '10.0.0.1', port: 80 }, 'refused'),
        ListenError: () => new api.ListenError('inbound', '10.0.0.1', 15008, new Error('EADDRINUSE')),
        Socks5Error: () => new api.Socks5Error('bad version', 7, 'socks5-version'),
        PolicyDeniedError: () => new api.PolicyDeniedError({ policy: 'ns/deny' }),
        WorkloadGoneError: () => new api.WorkloadGoneError('uid-1', 'left this node 5000ms ago'),
        DrainDeadlineError: () => new api.DrainDeadlineError(5000),
        NoLocalWorkloadError: () => new api.NoLocalWorkloadError('node-a', '10.0.0.9'),
        PodWorkloadUnknownError: () =>
          new api.PodWorkloadUnknownError({ namespace: 'ns', name: 'pod' }, 'node-a', 5000),
        NativeRequiredError: () => new api.NativeRequiredError('in-pod listeners'),
        InpodNotConfiguredError: () =>
          new api.InpodNotConfiguredError({ namespace: 'ns', name: 'pod' }, 'none'),
        WorkerExitedError: () => new api.WorkerExitedError(1, 134),
        WorkerRequestError: () => new api.WorkerRequestError(0, 'no such set'),
        NotInWorkerError: () => new api.NotInWorkerError('worker/entry.ts'),
        CertificateUnavailableError: () =>
          new api.CertificateUnavailableError('spiffe://cluster.local/ns/a/sa/b', 'CA unreachable'),
        TransportModuleError: () => new api.TransportModuleError('/opt/t.js', 'it failed to load'),
      },
      codes: CORE_ERROR_CODES,
      prefixes: ['ERR_ZT_PROXY_', 'ERR_ZT_CORE_'],
    }),
    [],
  );
});

test('a policy denial reads the same whichever policy decided', () => {
  assert.equal(new api.PolicyDeniedError({ policy: 'ns/deny' }).message, 'denied by policy ns/deny');
  assert.equal(new api.PolicyDeniedError({}).message, 'denied by default deny (no ALLOW policy matched)');
});
