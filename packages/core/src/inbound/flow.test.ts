// One inbound flow: each authorization case runs through every way an inbound connection is
// authorized (HBONE on 15008, plaintext on 15006, and the re-check of an open connection of either
// kind after a policy change), and must give the same decision, the same log lines and the same
// metric labels on each. Real sockets, a real HBONE client, a ProxyEngine on this thread.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Identity } from '@zt/identity';
import { TestCa } from '@zt/identity/testing';
import { tcpConnectionsClosed, tcpConnectionsFailed } from '@zt/metrics';
import { HboneConnectError, HbonePool } from '@zt/transport';
import { type EchoServer, startEchoServer } from '@zt/transport/testing';
import type { Authorization, Match } from '@zt/xds';
import { makePolicy, makeSnapshot, makeWorkload } from '@zt/xds/testing';
import pino from 'pino';
import { ProxyEngine } from '../proxy.ts';
import { testCaCertSource } from '../testing/index.ts';

// 127.97.x.x: below the random octets (100-250) the loopback meshes of other test files pick.
const CLIENT_IP = '127.97.1.10';
const SERVER_IP = '127.97.2.10';

type Path = 'HBONE' | 'plaintext' | 're-check (HBONE)' | 're-check (plaintext)';
const PATHS: Path[] = ['HBONE', 'plaintext', 're-check (HBONE)', 're-check (plaintext)'];

interface Case {
  name: string;
  policies: (echoPort: number) => Authorization[];
  allowed: boolean;
  /** The access log's `error` when denied: the same text on every path. */
  error?: string;
  /** Dry-run policies logged, in order. */
  dryRun: string[];
}

const on = (over: Partial<Authorization> & { name: string }, m: Partial<Match>) => makePolicy(over, [m]);

const CASES: Case[] = [
  { name: 'no policy: allowed', policies: () => [], allowed: true, dryRun: [] },
  {
    name: 'an ALLOW policy matches: allowed',
    policies: (port) => [on({ name: 'allow-port' }, { destinationPorts: [port] })],
    allowed: true,
    dryRun: [],
  },
  {
    name: 'a DENY policy matches: denied by it',
    policies: (port) => [on({ name: 'deny-port', action: 'Deny' }, { destinationPorts: [port] })],
    allowed: false,
    error: 'denied by policy default/deny-port',
    dryRun: [],
  },
  {
    name: 'a DENY policy on the source IP: denied by it',
    policies: () => [
      on({ name: 'deny-client', action: 'Deny' }, { sourceIps: [{ address: CLIENT_IP, length: 32 }] }),
    ],
    allowed: false,
    error: 'denied by policy default/deny-client',
    dryRun: [],
  },
  {
    name: 'ALLOW policies exist and none matches: denied by default',
    policies: () => [on({ name: 'allow-other-port' }, { destinationPorts: [1] })],
    allowed: false,
    error: 'denied by default deny (no ALLOW policy matched)',
    dryRun: [],
  },
  {
    name: 'a dry-run DENY matches: logged, allowed',
    policies: (port) => [
      on({ name: 'dry-deny', action: 'Deny', dryRun: true }, { destinationPorts: [port] }),
    ],
    allowed: true,
    dryRun: ['default/dry-deny'],
  },
  {
    name: 'a dry-run ALLOW matches: logged, allowed',
    policies: (port) => [on({ name: 'dry-allow', dryRun: true }, { destinationPorts: [port] })],
    allowed: true,
    dryRun: ['default/dry-allow'],
  },
  {
    name: 'a dry-run ALLOW matches beside an enforced DENY: logged, denied',
    policies: (port) => [
      on({ name: 'dry-allow', dryRun: true }, { destinationPorts: [port] }),
      on({ name: 'deny-port', action: 'Deny' }, { destinationPorts: [port] }),
    ],
    allowed: false,
    error: 'denied by policy default/deny-port',
    dryRun: ['default/dry-allow'],
  },
];

interface Line {
  msg?: string;
  scope?: string;
  policy?: string;
  error?: string;
  allowed?: boolean;
  [k: string]: unknown;
}

async function until(what: string, f: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Writes `text` and resolves with what comes back first, or undefined if the stream closes first. */
function exchange(s: Duplex, text: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const done = (v: string | undefined) => {
      s.off('data', onData);
      s.off('close', onClose);
      resolve(v);
    };
    const onData = (d: Buffer) => done(d.toString());
    const onClose = () => done(undefined);
    s.on('data', onData);
    s.once('close', onClose);
    s.on('error', () => {});
    s.write(text);
  });
}

/** The sum of a counter's series whose labels include `want`. */
async function count(
  metric: typeof tcpConnectionsClosed | typeof tcpConnectionsFailed,
  want: Record<string, string>,
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(want).every(([k, x]) => v.labels[k as keyof typeof v.labels] === x))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('one inbound flow: every case gives the same decision, log lines and labels on every path', () => {
  const lines: Line[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
  const client = makeWorkload({ name: 'client', serviceAccount: 'client', workloadIps: [CLIENT_IP] });
  const server = makeWorkload({
    name: 'echo',
    serviceAccount: 'echo',
    workloadIps: [SERVER_IP],
    node: 'node-b',
  });
  let echo: EchoServer;
  let engine: ProxyEngine;
  let pool: HbonePool;
  let hbonePort = 0;
  let plaintextPort = 0;
  let version = 1;

  const setPolicies = (policies: Authorization[]) =>
    engine.setState(makeSnapshot(version++, { workloads: [client, server], policies }));

  before(async () => {
    const ca = await TestCa.create();
    const certs = testCaCertSource(ca);
    echo = await startEchoServer(SERVER_IP);
    engine = new ProxyEngine(
      {
        nodeName: 'node-b',
        network: '',
        trustDomain: ca.trustDomain,
        listeners: { workloads: { mode: 'loopback', inbound: 0, inboundPlaintext: 0 } },
      },
      {
        certs,
        log,
        // What SO_ORIGINAL_DST reports for a REDIRECTed connection to the echo pod.
        ops: { originalDst: () => ({ address: SERVER_IP, port: echo.address.port }) },
      },
    );
    await setPolicies([]);
    const bound = await engine.start();
    hbonePort = bound.find((b) => b.set === server.uid && b.kind === 'inbound')?.port ?? 0;
    plaintextPort = bound.find((b) => b.set === server.uid && b.kind === 'inboundPlaintext')?.port ?? 0;
    assert.ok(hbonePort > 0 && plaintextPort > 0, 'the echo pod has its inbound listeners');
    pool = new HbonePool({ certs });
  });

  after(async () => {
    await pool?.close();
    await engine?.close();
    await echo?.close();
  });

  /** Opens a connection to the echo pod the way `path` says; undefined when it was refused. */
  async function open(path: Path): Promise<Duplex | undefined> {
    if (path.includes('HBONE')) {
      try {
        return await pool.open({
          source: Identity.parse('spiffe://cluster.local/ns/default/sa/client'),
          destinationIdentities: [Identity.parse('spiffe://cluster.local/ns/default/sa/echo')],
          address: { address: SERVER_IP, port: hbonePort },
          authority: `${SERVER_IP}:${echo.address.port}`,
          localAddress: CLIENT_IP,
        });
      } catch (e) {
        assert.ok(e instanceof HboneConnectError, String(e));
        assert.equal(e.status, 401, 'an HBONE request denied by policy is answered 401');
        return undefined;
      }
    }
    const s: Socket = connect({ host: SERVER_IP, port: plaintextPort, localAddress: CLIENT_IP });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    return s;
  }

  for (const c of CASES) {
    for (const path of PATHS) {
      test(`${c.name} (${path})`, async () => {
        const mtls = path.includes('HBONE');
        const labels = {
          reporter: 'destination',
          destination_workload: 'echo',
          source_workload: 'client',
          connection_security_policy: mtls ? 'mutual_tls' : 'unknown',
          source_principal: mtls ? 'spiffe://cluster.local/ns/default/sa/client' : 'unknown',
        };
        const before = {
          denied: await count(tcpConnectionsFailed, { ...labels, response_flags: 'DENY' }),
          closedDeny: await count(tcpConnectionsClosed, { ...labels, response_flags: 'DENY' }),
          closedClean: await count(tcpConnectionsClosed, { ...labels, response_flags: '-' }),
        };
        const recheck = path.startsWith('re-check');
        // The re-check paths open under no policy and authorize again when the case's policies arrive.
        await setPolicies(recheck ? [] : c.policies(echo.address.port));
        lines.length = 0;
        const s = await open(path);
        let allowed = false;
        if (recheck) {
          assert.ok(s, 'opened while no policy applied');
          assert.equal(await exchange(s, 'before'), 'before');
          const closed = new Promise((resolve) => s.once('close', resolve));
          await setPolicies(c.policies(echo.address.port));
          if (c.allowed) allowed = (await exchange(s, 'after')) === 'after';
          else {
            await closed;
            allowed = false;
          }
          if (!c.allowed) {
            const closing = lines.filter(
              (l) => l.msg === 'closing connection no longer allowed after a policy change',
            );
            assert.equal(closing.length, 1, 'the re-check says why it closed the connection');
          }
          s.end();
        } else {
          allowed = s !== undefined && (await exchange(s, 'hello')) === 'hello';
          s?.end();
        }
        assert.equal(allowed, c.allowed, 'decision');

        // Log lines: the dry-run matches, then the access line of the connection.
        await until('the access log line', () => lines.some((l) => l.msg === 'connection complete'));
        const dryRun = lines.filter((l) => l.msg === 'dry-run: policy match');
        assert.deepEqual(
          dryRun.map((l) => l.policy),
          c.dryRun,
          'dry-run lines',
        );
        for (const l of dryRun) {
          assert.equal(l['src.addr']?.toString().split(':')[0], CLIENT_IP);
          assert.equal(l['dst.addr'], `${SERVER_IP}:${echo.address.port}`);
          assert.equal(l['src.identity'], mtls ? 'spiffe://cluster.local/ns/default/sa/client' : undefined);
          assert.equal(l.allowed, c.allowed);
        }
        const access = lines.filter((l) => l.msg === 'connection complete');
        assert.equal(access.length, 1);
        assert.equal(access[0]?.scope, 'access');
        assert.equal(access[0]?.['dst.workload'], 'echo');
        assert.equal(access[0]?.error, c.allowed ? undefined : c.error, 'access log error');

        // Metrics: a denial is a DENY-flagged close and failure, an allowed connection a clean close.
        await until('the connection to leave the registry', () => engine.liveConnections === 0);
        const denied =
          (await count(tcpConnectionsFailed, { ...labels, response_flags: 'DENY' })) - before.denied;
        const closedDeny =
          (await count(tcpConnectionsClosed, { ...labels, response_flags: 'DENY' })) - before.closedDeny;
        const closedClean =
          (await count(tcpConnectionsClosed, { ...labels, response_flags: '-' })) - before.closedClean;
        assert.deepEqual(
          { denied, closedDeny, closedClean },
          c.allowed
            ? { denied: 0, closedDeny: 0, closedClean: 1 }
            : { denied: 1, closedDeny: 1, closedClean: 0 },
          'metric labels',
        );
      });
    }
  }
});
