import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { InboundTunnel } from './server.ts';
import { startEchoServer, startHbonePair } from './testing/index.ts';
import { forwardTunnel } from './testing/pair.ts';

const run = promisify(execFile);
const script = new URL('./testing/fixtures/h2_connect.py', import.meta.url).pathname;

/** Debian's python3-h2 lives in the system Python; prefer it over a PATH python without it. */
async function findPython(): Promise<string | undefined> {
  for (const py of ['/usr/bin/python3', 'python3']) {
    try {
      await run(py, ['-c', 'import h2']);
      return py;
    } catch {}
  }
  return undefined;
}

const python = await findPython();

test('hyper-h2 (python3-h2) opens a tunnel through our server with a client certificate', {
  skip: python ? false : 'python3-h2 is not installed (apt-get install python3-h2); interop not checked',
}, async () => {
  const echo = await startEchoServer();
  const seen: InboundTunnel[] = [];
  let pending: ((t: InboundTunnel) => void) | undefined;
  const pair = await startHbonePair({
    server: {
      onTunnel: (t) => {
        seen.push(t);
        if (pending) pending(t);
        else forwardTunnel(t);
      },
    },
  });
  const dir = await mkdtemp(join(tmpdir(), 'zt-h2-'));
  try {
    await writeFile(join(dir, 'ca.pem'), pair.ca.rootPem);
    await writeFile(join(dir, 'cert.pem'), pair.clientCert.certChain.join('\n'));
    await writeFile(join(dir, 'key.pem'), pair.clientCert.privateKey);
    const args = [
      script,
      pair.address.address,
      String(pair.address.port),
      join(dir, 'ca.pem'),
      join(dir, 'cert.pem'),
      join(dir, 'key.pem'),
    ];
    const ok = await run(python as string, [
      ...args,
      `127.0.0.1:${echo.address.port}`,
      'hello from hyper-h2',
    ]);
    assert.deepEqual(JSON.parse(ok.stdout), { status: '200', body: 'hello from hyper-h2' });
    assert.equal(String(seen[0]?.peerIdentity), String(pair.clientIdentity));
    assert.equal(seen[0]?.baggage, 'from=hyper-h2');

    const bad = await run(python as string, [...args, 'not-an-ip:80', 'x']);
    assert.equal(JSON.parse(bad.stdout).status, '400');

    // A bare RST_STREAM (no END_STREAM first, as Rust and Go peers send it) reaches the accepted
    // tunnel as an error, never as a clean end.
    const outcome = new Promise<string>((resolve) => {
      pending = (t) => {
        const s = t.accept();
        s.on('data', () => {});
        s.once('end', () => resolve('clean end'));
        s.once('error', (e: Error & { code?: string }) => resolve(String(e.code)));
      };
    });
    await run(python as string, [...args, '10.0.0.1:80', 'partial', 'reset']);
    assert.equal(await outcome, 'ERR_ZT_HBONE_STREAM_RESET');
  } finally {
    await rm(dir, { recursive: true, force: true });
    await pair.close();
    await echo.close();
  }
});
