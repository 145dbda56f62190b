import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EchoConnection } from '../load/echo.ts';
import { startServer } from '../server.ts';
import { peerTarget } from '../targets.ts';
import { haproxyConfigs, stunnelConfigs } from './config.ts';
import { findBinary, startPeerPair } from './pair.ts';
import { type TlsFiles, writeTlsFiles } from './tls.ts';

const ports = { host: '127.0.0.1', entry: 1001, tls: 1002, target: 1003 };
const files = {
  root: '/r.pem',
  clientCert: '/c.crt',
  clientKey: '/c.key',
  clientBundle: '/c.pem',
  serverCert: '/s.crt',
  serverKey: '/s.key',
  serverBundle: '/s.pem',
};

describe('peer configs', () => {
  it('stunnel: TLS 1.3 only, client presents its cert, server requires and verifies one', () => {
    const { client, server } = stunnelConfigs(ports, files);
    assert.match(client, /client = yes/);
    assert.match(client, /accept = 127\.0\.0\.1:1001\nconnect = 127\.0\.0\.1:1002/);
    assert.match(client, /cert = \/c\.crt\nkey = \/c\.key/);
    assert.match(server, /accept = 127\.0\.0\.1:1002\nconnect = 127\.0\.0\.1:1003/);
    assert.match(server, /verifyChain = yes\nrequireCert = yes/);
    for (const c of [client, server]) assert.match(c, /sslVersionMin = TLSv1\.3/);
  });
  it('haproxy: TCP mode, verify required on both sides, TLS 1.3, the given thread count', () => {
    const { client, server } = haproxyConfigs(ports, files, 1);
    assert.match(
      client,
      /server peer 127\.0\.0\.1:1002 ssl crt \/c\.pem ca-file \/r\.pem verify required ssl-min-ver TLSv1\.3/,
    );
    assert.match(
      server,
      /bind 127\.0\.0\.1:1002 ssl crt \/s\.pem ca-file \/r\.pem verify required ssl-min-ver TLSv1\.3/,
    );
    assert.match(server, /server target 127\.0\.0\.1:1003/);
    for (const c of [client, server]) {
      assert.match(c, /mode tcp/);
      assert.match(c, /nbthread 1/);
    }
  });
});

// The generated configs, run for real: bytes go through each pair over mTLS.
describe('peer pairs, started', () => {
  let dir: string;
  let tls: TlsFiles;
  let server: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zt-bench-peer-'));
    tls = await writeTlsFiles(dir);
    server = await startServer('127.0.0.1');
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const kind of ['stunnel', 'haproxy'] as const) {
    it(`${kind} carries an echo over mTLS`, {
      skip: findBinary(kind) ? false : `${kind} not installed`,
    }, async () => {
      const pair = await startPeerPair(kind, {
        dir,
        tls,
        target: { host: '127.0.0.1', port: (server.address() as AddressInfo).port },
        threads: 1,
      });
      try {
        const c = await EchoConnection.open(peerTarget(kind, pair.entry, pair.pids));
        await c.request(Buffer.alloc(1024, 1));
        c.close();
      } finally {
        await pair.stop();
      }
    });
  }
});
