// Each check of zt doctor on its own, against a target built here: the failure reasons the lab
// mesh cannot easily produce (a CA behind the wrong root, clocks apart, an expired certificate,
// a bad value), and the parsers of /proc and of capture rules.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { LocalCa } from '@zt/identity';
import { TestCaServer } from '@zt/identity/testing';
import { loadConfig } from '../config.ts';
import { checkCa, type Shared } from './check-ca.ts';
import { checkConfiguration } from './check-config.ts';
import { redirectPorts } from './check-inpod.ts';
import { checkPorts } from './check-ports.ts';
import { overlaps, parseProcNetTcp } from './procnet.ts';
import { type DumpView, loadTarget, type Target } from './target.ts';

const dir = mkdtempSync(join(tmpdir(), 'zt-doctor-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function target(env: Record<string, string>, over: Partial<Target> = {}): Target {
  return {
    admin: 'http://127.0.0.1:1',
    env,
    envSource: 'the given environment',
    config: loadConfig(env),
    cwd: dir,
    timeoutMs: 2000,
    ...over,
  };
}

function dumpWith(certificates: DumpView['certificates']): DumpView {
  return { workloads: [], services: [], policies: [], certificates, config: {} };
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('configuration', () => {
  const base = { FAKE_CA: 'true', NODE_NAME: 'node-a', PATH: '/usr/bin', HOME: '/root', NODE_VERSION: '24' };
  const run = async (env: Record<string, string>) =>
    checkConfiguration(await loadTarget({ admin: 'http://127.0.0.1:1', env, timeoutMs: 500 }));

  test('a clean environment passes, counting what zt reads and ignoring what is not its business', async () => {
    const c = await run({ ...base, XDS_HEADER_X_TENANT: 'a', ISTIO_META_DNS_CAPTURE: 'false' });
    assert.equal(c.verdict, 'pass');
    assert.equal(c.summary, 'the environment parses; 4 zt variables set, none unknown');
  });

  test('a value zt refuses fails the check with zt own message', async () => {
    const c = await run({ ...base, ZTUNNEL_WORKER_THREADS: 'many' });
    assert.equal(c.verdict, 'fail');
    assert.equal(
      c.summary,
      'zt cannot start with this environment: invalid ZTUNNEL_WORKER_THREADS="many": expected a thread count up to 256, a percentage of the CPUs such as 50%, or 0 for all CPUs',
    );
    assert.match(c.fix ?? '', /refuses to start until it parses/);
  });

  test('a misspelling fails, naming the variable it was meant to be', async () => {
    const c = await run({ ...base, ZTUNNEL_WORKER_THREAD: '2', CA_ADRESS: 'https://x:15012' });
    assert.equal(c.verdict, 'fail');
    assert.equal(c.summary, '2 variables look misspelled: CA_ADRESS, ZTUNNEL_WORKER_THREAD');
    assert.ok(
      c.details.includes(
        'ZTUNNEL_WORKER_THREAD is not a variable zt reads: did you mean ZTUNNEL_WORKER_THREADS?',
      ),
    );
  });

  test('unknown zt-like names and upstream settings zt ignores warn; harmless ones are only noted', async () => {
    const c = await run({
      ...base,
      ZT_FROBNICATE: '1',
      XDS_ON_DEMAND: 'true',
      AUTHZ_POLICY_INFO_LOGGING: 'true',
    });
    assert.equal(c.verdict, 'warn');
    assert.equal(c.summary, 'ZT_FROBNICATE, XDS_ON_DEMAND have no effect on zt');
    assert.ok(
      c.details.includes(
        "XDS_ON_DEMAND is upstream's (on-demand xDS); zt does not implement it and ignores it",
      ),
    );
    assert.ok(
      c.details.some((d) =>
        d.startsWith('AUTHZ_POLICY_INFO_LOGGING is ignored by zt (policy decisions at info level)'),
      ),
    );
  });
});

describe('CA', () => {
  test('a CA nobody listens for fails as unreachable, with the port to open', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const c = await checkCa(target({ CA_ADDRESS: `http://127.0.0.1:${port}`, AUTH_TOKEN: '' }), {});
    assert.equal(c.verdict, 'fail');
    assert.equal(c.summary, `cannot reach the CA at 127.0.0.1:${port}: connection refused (ECONNREFUSED)`);
    assert.match(c.fix ?? '', new RegExp(`may block port ${port}$`));
  });

  test('TLS: the CA verified by CA_ROOT_CA passes; another root fails the check, naming the file', async () => {
    const ca = await TestCaServer.start({ tls: true });
    try {
      const good = join(dir, 'root.pem');
      const wrong = join(dir, 'other-root.pem');
      writeFileSync(good, ca.rootPem);
      writeFileSync(wrong, (await LocalCa.create()).rootPem);
      const shared: Shared = {};
      const ok = await checkCa(
        target({ CA_ADDRESS: ca.address, CA_ROOT_CA: 'root.pem', AUTH_TOKEN: '' }),
        shared,
      );
      assert.equal(ok.verdict, 'pass', ok.details.join('\n'));
      assert.ok(
        ok.details.some((d) =>
          /^token accepted: the CA issued a certificate for spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\/ztunnel in \d+ ms$/.test(
            d,
          ),
        ),
      );
      assert.ok(ok.details.some((d) => d.startsWith(`TLS verified against ${good}: `)));
      assert.equal(String(shared.certificate?.identity), 'spiffe://cluster.local/ns/istio-system/sa/ztunnel');
      const bad = await checkCa(target({ CA_ADDRESS: ca.address, CA_ROOT_CA: wrong, AUTH_TOKEN: '' }), {});
      assert.equal(bad.verdict, 'fail');
      assert.match(
        bad.summary,
        new RegExp(`^the CA's certificate does not verify against ${wrong} \\(CA_ROOT_CA\\): `),
      );
      assert.match(bad.fix ?? '', /istio-ca-root-cert/);
      const missing = await checkCa(
        target({ CA_ADDRESS: ca.address, CA_ROOT_CA: 'nope.pem', AUTH_TOKEN: '' }),
        {},
      );
      assert.equal(
        missing.summary,
        `CA_ROOT_CA: nope.pem does not exist (resolved to ${join(dir, 'nope.pem')})`,
      );
    } finally {
      await ca.close();
    }
  });

  test('held certificates: unavailable, expired and not-yet-valid ones fail, each for its reason', async () => {
    const now = Date.now();
    const fake = { FAKE_CA: 'true' };
    const cert = (from: number, until: number) => ({
      pem: '-----BEGIN CERTIFICATE-----',
      validFrom: iso(from),
      expirationTime: iso(until),
    });
    const skewed = await checkCa(
      target(fake, {
        dump: dumpWith([
          {
            identity: 'spiffe://cluster.local/ns/a/sa/x',
            state: 'Available',
            certChain: [cert(now + 3_600_000, now + 7_200_000)],
            rootCerts: [],
          },
        ]),
      }),
      {},
    );
    assert.equal(skewed.verdict, 'fail');
    assert.match(
      skewed.summary,
      /^clock skew: the certificate for spiffe:\/\/cluster\.local\/ns\/a\/sa\/x is valid only from .*, (59m|60m) ahead of this node's clock$/,
    );
    assert.match(skewed.fix ?? '', /NTP/);

    const expired = await checkCa(
      target(fake, {
        dump: dumpWith([
          {
            identity: 'spiffe://cluster.local/ns/a/sa/x',
            state: 'Available',
            certChain: [cert(now - 7_200_000, now - 3_600_000)],
            rootCerts: [],
          },
        ]),
      }),
      {},
    );
    assert.equal(expired.summary, 'the certificate for spiffe://cluster.local/ns/a/sa/x expired 60m ago');

    const unavailable = await checkCa(
      target(fake, {
        dump: dumpWith([
          {
            identity: 'spiffe://cluster.local/ns/a/sa/x',
            state: 'Unavailable: the CA said no',
            certChain: [],
            rootCerts: [],
          },
        ]),
      }),
      {},
    );
    assert.equal(
      unavailable.summary,
      'no certificate for spiffe://cluster.local/ns/a/sa/x: Unavailable: the CA said no',
    );

    const fine = await checkCa(
      target(fake, {
        dump: dumpWith([
          {
            identity: 'spiffe://cluster.local/ns/a/sa/x',
            state: 'Available',
            certChain: [cert(now - 60_000, now + 86_370_000)],
            rootCerts: [],
          },
        ]),
      }),
      {},
    );
    assert.equal(fine.verdict, 'pass');
    assert.equal(fine.summary, 'FAKE_CA (no CA); 1 certificate held, next expiry in 23h59m');
  });
});

describe('ports and capture rules, from what /proc and the rule tools print', () => {
  test('/proc/net/tcp and tcp6 LISTEN lines decode to addresses, ports and inodes', () => {
    const v4 = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:3A98 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 235388 1 0 100 0 0 10 0
   1: 0229007F:3A99 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 11 1 0 100 0 0 10 0
   2: 00000000:3AAC 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 42 1 0 100 0 0 10 0`;
    assert.deepEqual(parseProcNetTcp(v4), [
      { address: '127.0.0.1', port: 15000, inode: 235388 },
      { address: '0.0.0.0', port: 15020, inode: 42 },
    ]);
    const v6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:3AB0 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7 1 0 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:3AB1 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 8 1 0 100 0 0 10 0
   2: 00000000000000000000000001000000:3AB2 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 9 1 0 100 0 0 10 0`;
    assert.deepEqual(parseProcNetTcp(v6), [
      { address: '::', port: 15024, inode: 7 },
      { address: '127.0.0.1', port: 15025, inode: 8 },
      { address: '::1', port: 15026, inode: 9 },
    ]);
  });

  test('listeners overlap when their addresses are equal or one is a wildcard', () => {
    assert.equal(overlaps('127.0.0.1', '127.0.0.1'), true);
    assert.equal(overlaps('0.0.0.0', '127.0.0.5'), true);
    assert.equal(overlaps('::', '10.0.0.1'), true);
    assert.equal(overlaps('::ffff:127.0.0.1', '127.0.0.1'), true);
    assert.equal(overlaps('127.0.0.1', '127.0.0.2'), false);
    assert.equal(overlaps('0.0.0.0', '::1'), false);
  });

  test('the ports zt should hold are checked against this process, which holds them here', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      const status = {
        pid: process.pid,
        version: 't',
        nodeName: 'n',
        startedAt: iso(Date.now()),
        ready: true,
        pending: [],
        workers: 0,
        listeners: [],
        servers: { admin: { host: '127.0.0.1', port } },
        xds: { mode: 'local' as const, source: 'LOCAL_XDS' },
        inpod: { enabled: false as const },
      };
      const ok = checkPorts(target({ FAKE_CA: 'true' }, { status }));
      assert.equal(ok.verdict, 'pass', ok.details.join('\n'));
      assert.ok(ok.details.includes(`admin 127.0.0.1:${port}: zt (pid ${process.pid})`));
      const missing = checkPorts(
        target(
          { FAKE_CA: 'true' },
          { status: { ...status, servers: { metrics: { host: '127.0.0.1', port: 1 } } } },
        ),
      );
      assert.equal(missing.verdict, 'fail');
      assert.equal(missing.summary, 'metrics 127.0.0.1:1: zt does not listen there');
      const dns = checkPorts(target({ FAKE_CA: 'true', ISTIO_META_DNS_CAPTURE: 'true' }, { status }));
      assert.equal(dns.verdict, 'warn');
      assert.equal(dns.summary, "ISTIO_META_DNS_CAPTURE=true, but zt's DNS proxy is not serving on 15053");
    } finally {
      server.close();
    }
  });

  test('capture rules: the redirect ports are read from iptables-save and nft output', () => {
    const iptables = `*nat
-A ISTIO_PRERT ! -d 127.0.0.1/32 -p tcp -m tcp ! --dport 15008 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15006
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -p tcp -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001
COMMIT`;
    assert.deepEqual([...redirectPorts(iptables)].sort(), [15001, 15006]);
    const nft = `table inet istio-ambient-nat {
  chain istio-prerouting { meta l4proto tcp ip daddr != 127.0.0.1 tcp dport != 15008 meta mark & 0x00000fff != 0x00000539 redirect to :15006 }
  chain istio-output { meta l4proto tcp ip daddr != 127.0.0.1 meta mark & 0x00000fff != 0x00000539 redirect to :15001 }
}`;
    assert.deepEqual([...redirectPorts(nft)].sort(), [15001, 15006]);
    assert.equal(redirectPorts('*nat\nCOMMIT\n').size, 0);
  });
});
