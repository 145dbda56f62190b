// Bad input on HBONE (15008): wrong protocols, bad certificates, non-CONNECT requests, bad
// authorities, header and stream abuse, HTTP/2 flood classes. Each case: the offender is closed or
// refused, a log line says why, a counter moves, a healthy tunnel opened before the cases still
// echoes, and zt lives on.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect as http2Connect } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { type Identity as IdentityT, LocalCa, type WorkloadCertificate } from '@zt/identity';
import { HboneServer } from '@zt/transport';
import {
  connectHeaders,
  FLAG,
  FRAME,
  frame,
  headerBlock,
  pingFrame,
  RawH2,
  rstStream,
  settings,
} from '@zt/transport/testing';
import { type Mesh, ping, startMesh } from './harness/mesh.ts';
import { type Probe, probe } from './harness/probe.ts';

const PREFIX = '127.0.31';
let mesh: Mesh;
let healthy: Socket;
let p: Probe;
let good: WorkloadCertificate;
let rogueCa: LocalCa;

const TLS_FAIL = { name: 'zt_hbone_connections_failed_total', labels: { side: 'server' } };
const REJECTED = /HBONE connection rejected/;

function hbone(): { host: string; port: number } {
  return { host: mesh.ip.echo, port: 15008 };
}

/** Resolves when the socket closes; fails the case if it stays open for `ms`. */
function closedWithin(s: { once(e: 'close', f: () => void): unknown; destroyed?: boolean }, ms = 10_000) {
  return new Promise<void>((resolve, reject) => {
    if (s.destroyed) return resolve();
    const t = setTimeout(
      () => reject(new Error(`the offending connection was still open after ${ms} ms`)),
      ms,
    );
    s.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

async function rawTcp(bytes: Buffer): Promise<void> {
  const s = netConnect({ ...hbone(), localAddress: mesh.ip.client });
  s.on('error', () => undefined);
  s.on('data', () => undefined);
  await new Promise((r) => s.once('connect', r));
  s.write(bytes);
  await closedWithin(s);
}

async function tlsAttempt(opts: {
  cert?: WorkloadCertificate;
  alpn?: string[] | undefined;
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}): Promise<void> {
  const local = { localAddress: mesh.ip.client };
  const s = tlsConnect({
    ...hbone(),
    ...local,
    ...(opts.alpn ? { ALPNProtocols: opts.alpn } : {}),
    ...(opts.cert
      ? { cert: opts.cert.certChain.join('\n'), key: opts.cert.privateKey, ca: [...opts.cert.roots] }
      : {}),
    rejectUnauthorized: false,
    ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}),
  });
  s.on('error', () => undefined);
  s.on('data', () => undefined);
  s.once('secureConnect', () => s.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
  await closedWithin(s);
}

/** A CONNECT (or other method) through node:http2 with a good certificate; resolves with :status. */
async function h2Request(headers: Record<string, string>): Promise<number | string> {
  const session = http2Connect(`https://${mesh.ip.echo}:15008`, {
    localAddress: mesh.ip.client,
    cert: good.certChain.join('\n'),
    key: good.privateKey,
    ca: [...good.roots],
    rejectUnauthorized: false,
    ALPNProtocols: ['h2'],
  } as Parameters<typeof http2Connect>[1]);
  session.on('error', () => undefined);
  try {
    const req = session.request(headers, { endStream: false });
    req.on('error', () => undefined);
    return await new Promise<number | string>((resolve) => {
      req.once('response', (h) => resolve(Number(h[':status'])));
      req.once('close', () => resolve(`closed (rst ${req.rstCode})`));
    });
  } finally {
    session.destroy();
  }
}

async function rawH2(cert: WorkloadCertificate = good): Promise<RawH2> {
  return RawH2.open({ ...hbone(), cert, localAddress: mesh.ip.client });
}

async function issue(id: string | IdentityT, opts: Parameters<LocalCa['issue']>[1] = {}) {
  return mesh.ca.ca.issue(id, opts);
}

before(async () => {
  mesh = await startMesh({ prefix: PREFIX });
  healthy = await mesh.dial({ host: mesh.ip.echo, port: mesh.echo.port });
  healthy.on('error', () => undefined);
  assert.equal(await ping(healthy, 'hello'), 'hello');
  good = await issue('spiffe://cluster.local/ns/frontend/sa/client');
  rogueCa = await LocalCa.create({ name: 'rogue root' });
  p = probe(
    () => healthy,
    () => [mesh.a, mesh.b],
  );
});

after(async () => {
  healthy?.destroy();
  await mesh?.close();
});

describe('HBONE listener: not TLS, not h2, not TLS 1.3', { concurrency: false }, () => {
  const tlsCase = (label: string, act: () => Promise<void>, reason = 'tls') =>
    test(label, () =>
      p.check(
        label,
        { node: mesh.b, log: REJECTED, metric: { ...TLS_FAIL, labels: { side: 'server', reason } } },
        act,
      ),
    );
  tlsCase('plaintext bytes', () => rawTcp(Buffer.from('hello, is this HBONE?\n')));
  tlsCase('an HTTP/1.1 request in plaintext', () =>
    rawTcp(Buffer.from(`CONNECT ${mesh.ip.echo}:${mesh.echo.port} HTTP/1.1\r\nHost: x\r\n\r\n`)),
  );
  tlsCase('the HTTP/2 preface in plaintext (h2c)', () =>
    rawTcp(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), settings()])),
  );
  tlsCase('a TLS record header followed by garbage', () =>
    rawTcp(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]), randomBytes(512)])),
  );
  tlsCase('64 KiB of random bytes', () => rawTcp(randomBytes(65536)));
  tlsCase('TLS 1.2 with a valid certificate', () =>
    tlsAttempt({ cert: good, alpn: ['h2'], maxVersion: 'TLSv1.2' }),
  );
  test('TLS with ALPN http/1.1 only', () =>
    p.check('alpn http/1.1', { node: mesh.b, log: /HBONE connection rejected|ALPN/, metric: TLS_FAIL }, () =>
      tlsAttempt({ cert: good, alpn: ['http/1.1'] }),
    ));
  test('TLS without ALPN', () =>
    p.check('no alpn', { node: mesh.b, log: /HBONE connection rejected|ALPN/, metric: TLS_FAIL }, () =>
      tlsAttempt({ cert: good }),
    ));
});

describe('HBONE listener: client certificates', { concurrency: false }, () => {
  const certCase = (label: string, cert: () => Promise<WorkloadCertificate | undefined>, reason: string) =>
    test(label, async () => {
      const c = await cert();
      await p.check(
        label,
        { node: mesh.b, log: REJECTED, metric: { name: TLS_FAIL.name, labels: { side: 'server', reason } } },
        () => tlsAttempt({ ...(c ? { cert: c } : {}), alpn: ['h2'] }),
      );
    });
  certCase('no client certificate', async () => undefined, 'tls');
  certCase(
    'a certificate from an untrusted root',
    () => rogueCa.issue('spiffe://cluster.local/ns/frontend/sa/client'),
    'tls',
  );
  certCase(
    'an expired certificate',
    () =>
      issue('spiffe://cluster.local/ns/frontend/sa/client', {
        notBefore: new Date(Date.now() - 7200_000),
        notAfter: new Date(Date.now() - 3600_000),
      }),
    'tls',
  );
  certCase(
    'a certificate not valid yet',
    () =>
      issue('spiffe://cluster.local/ns/frontend/sa/client', {
        notBefore: new Date(Date.now() + 3600_000),
        notAfter: new Date(Date.now() + 7200_000),
      }),
    'tls',
  );
  certCase(
    'a foreign trust domain under our root',
    () => issue('spiffe://evil.example/ns/frontend/sa/client'),
    'identity',
  );
  certCase(
    'no URI SAN at all',
    () => issue('spiffe://cluster.local/ns/frontend/sa/client', { uris: [], dnsNames: ['client.frontend'] }),
    'identity',
  );
  certCase(
    'a non-SPIFFE URI SAN',
    () => issue('spiffe://cluster.local/ns/frontend/sa/client', { uris: ['https://evil.example/client'] }),
    'identity',
  );
  certCase(
    'a malformed SPIFFE URI SAN',
    () =>
      issue('spiffe://cluster.local/ns/frontend/sa/client', {
        uris: ['spiffe://cluster.local/not/a/workload'],
      }),
    'identity',
  );
});

describe('HBONE requests: methods and :authority', { concurrency: false }, () => {
  const FAILED = 'zt_hbone_tunnels_failed_total';
  const refused = (label: string, headers: Record<string, string>, status: number, reason: string) =>
    test(label, () =>
      p.check(
        label,
        { node: mesh.b, log: REJECTED, metric: { name: FAILED, labels: { side: 'server', reason } } },
        async () => assert.equal(await h2Request(headers), status),
      ),
    );
  for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'])
    refused(
      `${method} instead of CONNECT`,
      { ':method': method, ':path': '/', ':authority': `${mesh?.ip.echo}:1` },
      405,
      'method',
    );
  const authority = (label: string, value: () => string) =>
    test(`:authority ${label}`, () =>
      p.check(
        label,
        {
          node: mesh.b,
          log: /HBONE connection rejected|authority/,
          metric: { name: FAILED, labels: { side: 'server', reason: 'authority' } },
        },
        async () => assert.equal(await h2Request({ ':method': 'CONNECT', ':authority': value() }), 400),
      ));
  // A service hostname is a valid :authority (upstream's HboneAddress, used through east-west
  // gateways); one that names no service here is refused, counted and logged, not a bad request.
  test(':authority is a hostname of no service here: 503', () =>
    p.check(
      'unknown service hostname',
      {
        node: mesh.b,
        log: /no service with hostname/,
        metric: {
          name: 'zt_connections_early_denied_total',
          labels: { direction: 'inbound', reason: 'unknown-service' },
        },
      },
      async () =>
        assert.equal(
          await h2Request({
            ':method': 'CONNECT',
            ':authority': `nowhere.backend.svc.cluster.local:${mesh.echo.port}`,
          }),
          503,
        ),
    ));
  authority('has no port', () => mesh.ip.echo);
  authority('has port 0', () => `${mesh.ip.echo}:0`);
  authority('has port 70000', () => `${mesh.ip.echo}:70000`);
  authority('is an unterminated IPv6 literal', () => '[::1:80');
  authority('has a port with letters', () => `${mesh.ip.echo}:80a`);
  authority('is 8 KiB long', () => `${'9'.repeat(8192)}:80`);
  test(':authority missing (raw CONNECT without it)', async () => {
    const c = await rawH2();
    await p.check(
      'no authority',
      {
        node: mesh.b,
        log: /"reason":"malformed".*HBONE connection rejected|HBONE connection rejected.*"reason":"malformed"/,
        metric: { name: FAILED, labels: { side: 'server', reason: 'malformed' } },
      },
      async () => {
        c.send(frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, headerBlock([[':method', 'CONNECT']])));
        assert.ok(await c.waitFor(() => c.has(FRAME.RST_STREAM, 1) || c.closed), 'no refusal');
        assert.equal(c.rstCode(1), 1, 'reset with PROTOCOL_ERROR');
      },
    );
    c.destroy();
  });
  test(':authority that is not a workload of this node', () =>
    p.check(
      'not local',
      {
        node: mesh.b,
        log: /HBONE connection rejected|is not a workload of node/,
        metric: {
          name: 'zt_hbone_connections_failed_total',
          labels: { side: 'server', reason: 'certificate' },
        },
      },
      async () => {
        const s = http2Connect(`https://${mesh.prefix}.2:15008`, {
          localAddress: mesh.ip.client,
          cert: good.certChain.join('\n'),
          key: good.privateKey,
          rejectUnauthorized: false,
        } as Parameters<typeof http2Connect>[1]);
        s.on('error', () => undefined);
        const st = await new Promise<number | string>((resolve) => {
          const req = s.request({ ':method': 'CONNECT', ':authority': `${mesh.prefix}.99:80` });
          req.on('error', () => undefined);
          req.once('response', (h) => resolve(Number(h[':status'])));
          req.once('close', () => resolve('closed'));
        });
        s.destroy();
        // Either no certificate for the node address (connection refused) or 503, never a tunnel.
        assert.notEqual(st, 200);
      },
    ));
  test(':authority of another pod than the one dialed', () =>
    p.check(
      'ip mismatch',
      {
        node: mesh.b,
        log: /tunnel arrived at .* but asks for/,
        metric: {
          name: 'zt_connections_early_denied_total',
          labels: { direction: 'inbound', reason: 'ip-mismatch' },
        },
      },
      async () =>
        assert.equal(await h2Request({ ':method': 'CONNECT', ':authority': `${mesh.ip.spare}:80` }), 400),
    ));
});

describe('HTTP/2 abuse', { concurrency: false }, () => {
  const abuse = (label: string, reason: string, act: (c: RawH2) => Promise<void>) =>
    test(label, async () => {
      const c = await rawH2();
      try {
        await p.check(
          label,
          {
            node: mesh.b,
            log: new RegExp(
              `HBONE connection rejected.*"reason":"${reason}"|"reason":"${reason}".*HBONE connection rejected`,
            ),
            metric: { name: 'zt_hbone_connections_failed_total', labels: { side: 'server', reason } },
          },
          async () => {
            await act(c);
            // A client that stopped reading sees the close only once it reads again.
            setTimeout(() => c.socket.resume(), 500);
            assert.ok(await c.waitFor(() => c.closed, 5000), `${label}: still open after 5 s`);
          },
        );
      } finally {
        c.destroy();
      }
    });
  abuse('a huge header list (200 x 1 KiB headers)', 'flood', async (c) => {
    const extra: Array<[string, string]> = Array.from({ length: 200 }, (_, i) => [
      `x-h${i}`,
      'v'.repeat(1024),
    ]);
    const block = connectHeaders(`${mesh.ip.echo}:${mesh.echo.port}`, extra);
    // Split over CONTINUATION frames of 16 KiB.
    const parts: Buffer[] = [];
    for (let i = 0; i < block.length; i += 16384) parts.push(block.subarray(i, i + 16384));
    c.send(
      ...parts.map((b, i) =>
        frame(
          i === 0 ? FRAME.HEADERS : FRAME.CONTINUATION,
          i === parts.length - 1 ? FLAG.END_HEADERS : 0,
          1,
          b,
        ),
      ),
    );
  });
  abuse('a CONTINUATION flood (no END_HEADERS, ever)', 'flood', async (c) => {
    c.send(frame(FRAME.HEADERS, 0, 1, connectHeaders(`${mesh.ip.echo}:1`)));
    for (let i = 0; i < 2000 && !c.closed; i++)
      c.send(frame(FRAME.CONTINUATION, 0, 1, headerBlock([[`x-${i}`, 'y'.repeat(64)]])));
  });
  abuse('more concurrent streams than SETTINGS_MAX_CONCURRENT_STREAMS', 'flood', async (c) => {
    const frames: Buffer[] = [];
    for (let i = 0; i < 400; i++)
      frames.push(frame(FRAME.HEADERS, FLAG.END_HEADERS, 1 + 2 * i, connectHeaders(`${mesh.prefix}.99:9`)));
    c.send(...frames);
    // Streams over the limit are refused (RST_STREAM REFUSED_STREAM); past 100 of them the session
    // is an abuser and ends.
  });
  abuse('rapid reset: 2000 streams opened and cancelled at once', 'rapid_reset', async (c) => {
    // SETTINGS ACK first, so that the streams are within the concurrency limit nghttp2 enforces.
    const frames: Buffer[] = [frame(FRAME.SETTINGS, FLAG.ACK, 0)];
    for (let i = 0; i < 2000; i++) {
      const id = 1 + 2 * i;
      frames.push(
        frame(FRAME.HEADERS, FLAG.END_HEADERS, id, connectHeaders(`${mesh.ip.echo}:${mesh.echo.port}`)),
        rstStream(id),
      );
    }
    c.send(...frames);
  });
  abuse('a SETTINGS flood with the socket not read', 'flood', async (c) => {
    c.socket.pause();
    const frames: Buffer[] = [];
    for (let i = 0; i < 20000; i++) frames.push(settings([[4, 65535 + (i % 10)]]));
    c.send(...frames);
  });
  abuse('a PING flood with the socket not read', 'flood', async (c) => {
    c.socket.pause();
    const frames: Buffer[] = [];
    for (let i = 0; i < 20000; i++) frames.push(pingFrame(i));
    c.send(...frames);
  });
  abuse('DATA on stream 0', 'protocol', async (c) => {
    c.send(frame(FRAME.DATA, 0, 0, Buffer.from('data on the connection stream')));
  });
  abuse('HEADERS on an even (server-initiated) stream id', 'protocol', async (c) => {
    c.send(frame(FRAME.HEADERS, FLAG.END_HEADERS, 2, connectHeaders(`${mesh.ip.echo}:1`)));
  });
  abuse('a WINDOW_UPDATE that overflows the window', 'protocol', async (c) => {
    const inc = Buffer.alloc(4);
    inc.writeUInt32BE(0x7fffffff);
    c.send(frame(FRAME.WINDOW_UPDATE, 0, 0, inc), frame(FRAME.WINDOW_UPDATE, 0, 0, inc));
  });
  abuse('a frame larger than SETTINGS_MAX_FRAME_SIZE', 'protocol', async (c) => {
    c.send(
      frame(
        FRAME.HEADERS,
        FLAG.END_HEADERS,
        1,
        Buffer.concat([connectHeaders(`${mesh.ip.echo}:1`), Buffer.alloc(70000)]),
      ),
    );
  });
  abuse('garbage instead of the client preface', 'protocol', async (c) => {
    c.socket.write(randomBytes(4096));
  });
});

describe('HBONE client: the peer is not who it should be', { concurrency: false }, () => {
  const fake = async (cert: WorkloadCertificate) => {
    const server = new HboneServer({
      certificateFor: async () => cert,
      onTunnel: (t) => t.reject(503),
    });
    await server.listen(15008, mesh.ip.ghost);
    return server;
  };
  const clientCase = (label: string, cert: () => Promise<WorkloadCertificate>, log: RegExp) =>
    test(label, async () => {
      const server = await fake(await cert());
      try {
        await p.check(
          label,
          {
            node: mesh.a,
            log,
            metric: { name: 'zt_hbone_connections_failed_total', labels: { side: 'client' } },
          },
          async () => {
            const s = await mesh.dial({ host: mesh.ip.ghost, port: 80 });
            s.on('error', () => undefined);
            s.on('data', () => undefined);
            s.write('hello');
            await closedWithin(s);
          },
        );
      } finally {
        await server.close(0);
      }
    });
  clientCase(
    'SAN of another identity (same root)',
    () => issue('spiffe://cluster.local/ns/backend/sa/impostor'),
    /ghost|identity|impostor|SAN/i,
  );
  clientCase(
    'a certificate from an untrusted root',
    () => rogueCa.issue('spiffe://cluster.local/ns/backend/sa/ghost'),
    /certificate|self-signed|verify/i,
  );
});
