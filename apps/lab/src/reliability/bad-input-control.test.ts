// Bad input outside HBONE: SOCKS5 clients (15080), xDS resources istiod should never send, a CA
// that answers garbage or another identity, and malformed local config. Each case: the offender is
// refused with the protocol's answer, a log line says why, a counter moves, a healthy tunnel opened
// before the cases still echoes, and zt lives on. One mesh for the whole file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, encodeAddressBytes } from '@zt/xds';
import { makeWorkload } from '@zt/xds/testing';
import { MAIN_PATH } from '@zt/ztunnel';
import { type Mesh, nodeEnv, ping, roundTrip, startMesh } from './harness/mesh.ts';
import { type Probe, probe } from './harness/probe.ts';
import { ZtProcess } from './harness/zt.ts';

const PREFIX = '127.0.34';
let mesh: Mesh;
let healthy: Socket;
let p: Probe;

before(async () => {
  mesh = await startMesh({ prefix: PREFIX });
  healthy = await mesh.dial({ host: mesh.ip.echo, port: mesh.echo.port });
  healthy.on('error', () => undefined);
  assert.equal(await ping(healthy, 'hello'), 'hello');
  p = probe(
    () => healthy,
    () => [mesh.a, mesh.b],
  );
});

after(async () => {
  healthy?.destroy();
  await mesh?.close();
});

/** A fresh connection through the mesh still carries bytes end to end. */
async function freshTunnelWorks(): Promise<void> {
  const s = await mesh.dial({ host: mesh.ip.echo, port: mesh.echo.port });
  const r = await roundTrip(s, 4096);
  assert.equal(r.got, r.sent);
}

/** Sends `chunks` to node-a's SOCKS5 port (half-closing if `end`); resolves with what came back. */
async function socks(chunks: Buffer[], end = false): Promise<Buffer> {
  const l = mesh.a.listener('socks5', 'socks5');
  const s = netConnect({ host: l.address, port: l.port, localAddress: mesh.ip.client });
  s.on('error', () => undefined);
  const got: Buffer[] = [];
  s.on('data', (d: Buffer) => got.push(d));
  await new Promise((r) => s.once('connect', r));
  for (const c of chunks) s.write(c);
  if (end) s.end();
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the SOCKS5 connection was still open after 5 s')), 5000);
    s.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
  return Buffer.concat(got);
}

const GREETING = Buffer.from([5, 1, 0]);
const request = (cmd: number, atyp: number, addr: number[], port = 80) =>
  Buffer.from([5, cmd, 0, atyp, ...addr, port >> 8, port & 0xff]);

describe('SOCKS5 (15080): garbage, bad versions, unsupported commands', { concurrency: false }, () => {
  const socksCase = (
    label: string,
    reason: string,
    chunks: () => Buffer[],
    expectReply: number | undefined,
    end = false,
  ) =>
    test(label, () =>
      p.check(
        label,
        {
          node: mesh.a,
          log: new RegExp(
            `SOCKS5 connection refused.*"reason":"${reason}"|"reason":"${reason}".*SOCKS5 connection refused`,
          ),
          metric: {
            name: 'zt_connections_early_denied_total',
            labels: { direction: 'outbound', reason },
          },
        },
        async () => {
          const got = await socks(chunks(), end);
          if (expectReply !== undefined) {
            // The error reply is the last 10 bytes (after the method selection, if any).
            const rep = got.subarray(got.length - 10);
            assert.equal(rep[0], 5, `a SOCKS5 reply (got ${got.toString('hex')})`);
            assert.equal(rep[1], expectReply, `reply code (got ${got.toString('hex')})`);
          }
        },
      ),
    );
  socksCase(
    'an HTTP request instead of a greeting',
    'socks5-version',
    () => [Buffer.from('GET / HTTP/1.1\r\n\r\n')],
    7,
  );
  socksCase('a SOCKS4 CONNECT', 'socks5-version', () => [Buffer.from([4, 1, 0, 80, 10, 0, 0, 1, 0])], 7);
  socksCase(
    '64 KiB of random bytes',
    'socks5-version',
    () => [Buffer.concat([Buffer.from([0x47]), randomBytes(65535)])],
    7,
  );
  socksCase('a greeting with zero methods', 'socks5-auth', () => [Buffer.from([5, 0])], 7);
  socksCase('a greeting offering username/password only', 'socks5-auth', () => [Buffer.from([5, 1, 2])], 7);
  socksCase(
    'a greeting with 255 methods, none of them no-auth',
    'socks5-auth',
    () => [Buffer.from([5, 255, ...Array.from({ length: 255 }, (_, i) => (i % 254) + 1)])],
    7,
  );
  socksCase('BIND', 'socks5-command', () => [GREETING, request(2, 1, [10, 0, 0, 1])], 7);
  socksCase('UDP ASSOCIATE', 'socks5-command', () => [GREETING, request(3, 1, [0, 0, 0, 0], 0)], 7);
  socksCase(
    'a request with version 4 after a good greeting',
    'socks5-version',
    () => [GREETING, Buffer.from([4, 1, 0, 1, 10, 0, 0, 1, 0, 80])],
    7,
  );
  socksCase(
    'address type 9',
    'socks5-address',
    () => [GREETING, Buffer.from([5, 1, 0, 9, 1, 2, 3, 4, 0, 80])],
    7,
  );
  socksCase(
    'a domain name (no DNS proxy)',
    'socks5-address',
    () => [GREETING, Buffer.from([5, 1, 0, 3, 11, ...Buffer.from('example.com'), 0, 80])],
    7,
  );
  socksCase(
    'a zero-length domain name',
    'socks5-address',
    () => [GREETING, Buffer.from([5, 1, 0, 3, 0, 0, 80])],
    7,
  );
  socksCase(
    'a greeting cut short (half-closed)',
    'socks5-truncated',
    () => [Buffer.from([5])],
    undefined,
    true,
  );
  socksCase(
    'a request cut short (half-closed after 5 bytes)',
    'socks5-truncated',
    () => [GREETING, Buffer.from([5, 1, 0, 1, 10])],
    undefined,
    true,
  );
});

describe('xDS: malformed and unknown resources', { concurrency: false }, () => {
  const NACK = { name: 'zt_xds_nacks_total' };
  const nackCase = (label: string, typeUrl: string, resources: () => { name: string; value: Uint8Array }[]) =>
    test(label, async () => {
      const nacksBefore = mesh.xds.nacks(typeUrl).length;
      await p.check(
        label,
        { node: mesh.a, log: /xds: NACK/, metric: { ...NACK, labels: { url: typeUrl } } },
        async () => {
          mesh.xds.setRaw(typeUrl, resources());
          await mesh.a.until(() => mesh.xds.nacks(typeUrl).length > nacksBefore, 10_000, 'a NACK');
        },
      );
      const nack = mesh.xds.nacks(typeUrl).at(-1);
      assert.ok(nack?.errorDetail?.message, 'the NACK carries error_detail');
      assert.match(nack.errorDetail.message, new RegExp(resources()[0]?.name.replace(/[/.]/g, '.') ?? ''));
      // Last good state kept: new connections to existing workloads still work.
      await freshTunnelWorks();
    });
  nackCase('an Address that is not protobuf', ADDRESS_TYPE_URL, () => [
    { name: 'garbage-address', value: new Uint8Array([0xff, 0xff, 0xff, 0x01]) },
  ]);
  nackCase('the echo workload with a 5-byte IP (last good version kept)', ADDRESS_TYPE_URL, () => [
    {
      name: mesh.workloads.echo.uid,
      value: encodeAddressBytes({
        workload: {
          uid: mesh.workloads.echo.uid,
          name: 'echo',
          addresses: [new Uint8Array([1, 2, 3, 4, 5])],
        },
      }),
    },
  ]);
  // Random bytes alone are not reliably garbage: 1,727 of 20,000 random 64-byte strings decoded as
  // an Authorization, which is then a policy: no NACK, and its rules can deny the traffic of the
  // cases after it (the CI failure of the first submission). A leading tag of wire type 7 fails
  // every decoder there, whatever follows.
  nackCase('an Authorization that is not protobuf', AUTHORIZATION_TYPE_URL, () => [
    {
      name: 'backend/garbage-policy',
      value: Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0x01]), randomBytes(60)]),
    },
  ]);
  after(() => {
    // Put the echo workload's good version back in the server's store (for later reconnects).
    mesh.xds.set({ workloads: [mesh.workloads.echo] });
  });
});

describe('CA: garbage and another identity', { concurrency: false }, () => {
  let n = 0;
  const caCase = (label: string, mode: 'garbage' | 'wrong-identity', code: string) =>
    test(label, async () => {
      const sa = `newcomer-${++n}`;
      await p.check(
        label,
        {
          node: mesh.a,
          log: new RegExp(`certificate request failed.*${code}|${code}.*certificate request failed`),
          metric: { name: 'zt_identity_csr_failures_total', labels: { code } },
        },
        async () => {
          mesh.ca.setMode(mode);
          // A new pod on node-a under a new service account: zt fetches its certificate now.
          mesh.xds.set({
            workloads: [
              makeWorkload({
                name: sa,
                namespace: 'frontend',
                serviceAccount: sa,
                workloadIps: [`${PREFIX}.${40 + n}`],
                node: 'node-a',
              }),
            ],
          });
          await mesh.a.until(() => mesh.ca.requests.some((r) => r.identity?.endsWith(`/sa/${sa}`)), 10_000);
        },
      );
      mesh.ca.setMode('ok');
      // The other identities' certificates are untouched: new tunnels from the client pod work.
      await freshTunnelWorks();
    });
  caCase('a CA answering a PEM block that is no certificate', 'garbage', 'ERR_ZT_CA_BAD_CERTIFICATE');
  caCase(
    'a CA answering a certificate for another identity',
    'wrong-identity',
    'ERR_ZT_CA_IDENTITY_MISMATCH',
  );
  after(() => mesh.ca.setMode('ok'));
});

describe('startup environment', () => {
  test('a scoped RUST_LOG (warn,ztunnel=info) is accepted', async () => {
    const env = nodeEnv('node-log', `${PREFIX}.4`, mesh.xds.address, mesh.ca.address, {
      RUST_LOG: 'warn,ztunnel=info',
    });
    const z = await ZtProcess.start('node-log', env);
    await z.stop('SIGKILL');
  });
});

describe('local config (LOCAL_XDS): malformed YAML', { concurrency: false }, () => {
  const main = MAIN_PATH;
  const run = async (yaml: string) => {
    const env = nodeEnv('node-yaml', `${PREFIX}.3`, '', '', {
      LOCAL_XDS: yaml,
      XDS_ADDRESS: '',
      CA_ADDRESS: '',
    });
    const child = spawn(process.execPath, ['--conditions=zt-source', main], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    clearTimeout(timer);
    return { code, out };
  };
  const yamlCase = (label: string, yaml: string, line: number) =>
    test(label, async () => {
      const { code, out } = await run(yaml);
      assert.notEqual(code, 0, `zt must exit non-zero (output: ${out.slice(0, 400)})`);
      assert.notEqual(code, null, 'zt must exit by itself, not be killed');
      assert.match(out, /LOCAL_XDS|local xDS config/, 'names the source');
      assert.match(out, new RegExp(`line ${line}\\b`), `names line ${line}: ${out.slice(0, 600)}`);
    });
  yamlCase('a tab used as indentation', 'workloads:\n  - uid: a\n\tname: b\n', 3);
  yamlCase('a duplicate key', 'workloads:\n  - uid: a\n    uid: b\n', 3);
  yamlCase(
    'a workload IP that is not an IP',
    'workloads:\n  - uid: a\n    name: a\n    namespace: n\n    workloadIps: ["not-an-ip"]\n',
    5,
  );
  yamlCase(
    'a workload without its namespace (names the workload line)',
    'workloads:\n  - uid: a\n    name: a\n',
    2,
  );
});
