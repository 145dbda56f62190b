import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { CaUnavailableError } from '@zt/identity';
import {
  ConnectTimeoutError,
  HboneConnectionError,
  PeerIdentityMismatchError,
  StreamResetError,
} from '@zt/transport';
import { DrainDeadlineError, PolicyDeniedError, WorkloadGoneError } from '../errors.ts';
import { dialFlag, flagFor } from './flags.ts';

/** A real TLS client error: the handshake meets a server that answers plain text. */
async function realTlsError(): Promise<Error> {
  const server = createServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise<Error>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
      s.once('error', resolve);
    });
  } finally {
    server.close();
  }
}

const withCode = (code: string) => Object.assign(new Error(code), { code });

test("response flags inferred from errors as upstream's extract_failure_reason", async () => {
  const tls = await realTlsError();
  const cases: Array<[string, Error, string]> = [
    ['a policy denial', new PolicyDeniedError({ policy: 'ns/deny' }), 'DENY'],
    ['an HBONE dial that timed out', new ConnectTimeoutError('10.0.0.1:15008', 10_000), 'NETWORK_POLICY'],
    [
      'a TLS handshake failure, wrapped by the pool',
      new HboneConnectionError('10.0.0.1:15008', tls),
      'TLS_FAILURE',
    ],
    [
      'a peer with the wrong identity',
      new PeerIdentityMismatchError(['spiffe://a'], ['spiffe://b']),
      'TLS_FAILURE',
    ],
    [
      'an HTTP/2 session error',
      new HboneConnectionError('x', withCode('ERR_HTTP2_SESSION_ERROR')),
      'H2_HANDSHAKE_FAILURE',
    ],
    ['a reset tunnel', new StreamResetError(2, 'internal error'), 'H2_HANDSHAKE_FAILURE'],
    ['no certificate from the CA', new CaUnavailableError('istiod:15012', 'unreachable'), 'IDENTITY_ERROR'],
    ['a drain deadline', new DrainDeadlineError(5000), 'CONNECT'],
    ['a workload gone', new WorkloadGoneError('uid', 'left'), 'CONNECT'],
    ['anything else', new Error('boom'), 'CONNECT'],
    ['a peer reset (upstream ignores it)', withCode('ECONNRESET'), '-'],
    ['a broken pipe', withCode('EPIPE'), '-'],
    ['an early close', withCode('ERR_STREAM_PREMATURE_CLOSE'), '-'],
  ];
  for (const [what, err, want] of cases) assert.equal(flagFor(err), want, what);
});

test('a dial that failed is never a clean close', () => {
  assert.equal(dialFlag(withCode('ECONNRESET')), 'CONNECT');
  assert.equal(dialFlag(new ConnectTimeoutError('10.0.0.1:15008', 1)), 'NETWORK_POLICY');
});
