// Two networks in network namespaces, each with its own zt, joined only through network 2's
// east-west gateway (double HBONE). Layout (X from freeTestSubnet, `ztm-<pid>-*` namespaces):
//
//   client pod 10.X.1.10 ── r1 (network 1's router) ── host ─┬─ gateway pod 10.X.5.10   (zt "gw")
//        (zt "a")             routes 10.X.5.0/24 only         └─ echo pod    10.X.2.10   (zt "b")
//
// r1 forwards to the gateway's subnet and nothing else, so the client pod (and zt dialling from
// inside it, in-pod) can reach network 2 only through the gateway. The host is network 2's
// node-to-node network. Inside the echo pod, a tap in front of zt b's HBONE port keeps every
// byte the gateway forwards.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestCa } from '@zt/identity/testing';
import { Logging } from '@zt/log';
import { captureLog } from '@zt/log/testing';
import * as native from '@zt/native';
import {
  addInpodCapture,
  addVethPod,
  enablePodForwarding,
  freeTestSubnet,
  natUnsupported,
  sweepStaleNetns,
} from '@zt/native/testing';
import type { Authorization, GatewayAddress, Workload } from '@zt/xds';
import { makePolicy, makeService, makeSnapshot, makeWorkload } from '@zt/xds/testing';
import { DataPlane } from './dataplane.ts';
import { testCaCertSource } from './testing/index.ts';

function sh(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}
function must(cmd: string, args: string[]): void {
  const r = sh(cmd, args);
  if (!r.ok) throw new Error(`${cmd} ${args.join(' ')}: ${r.out}`);
}

function unsupported(): string | undefined {
  if (!native.available) return `@zt/native unavailable: ${native.unavailableReason}`;
  return natUnsupported('iptables');
}

const skip = unsupported();
if (!skip) sweepStaleNetns();
const X = skip ? 0 : freeTestSubnet(200, 50);
const tag = `${process.pid}`;
const MARK = 1337;
const HOST = 'echo.default.svc.cluster.local';
const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/client';

/** In-pod capture as upstream's: marked and loopback traffic pass, other TCP goes to zt. */
function capture(ns: string, inboundPass: number[]): void {
  addInpodCapture(ns, { mark: MARK, inboundPass });
}

/** Forwards connections on a listener inside `netns` to `host:15008` there, keeping what passes in. */
async function startTap(
  netns: string,
  host: string,
): Promise<{ server: Server; port: number; seen: Buffer[] }> {
  const seen: Buffer[] = [];
  const server = createServer({ allowHalfOpen: true }, (c) => {
    c.on('data', (d: Buffer) => seen.push(Buffer.from(d)));
    c.pause();
    native.connectSocket({ netns, host, port: 15008, mark: MARK }).then(
      (up) => {
        up.allowHalfOpen = true;
        c.pipe(up);
        up.pipe(c);
        c.resume();
        c.on('error', () => up.destroy());
        up.on('error', () => c.destroy());
        c.on('close', () => up.destroy());
        up.on('close', () => c.destroy());
      },
      () => c.destroy(),
    );
  });
  const { port } = await native.listenServer(server, { host: '0.0.0.0', port: 0, netns });
  return { server, port, seen };
}

describe('two networks in namespaces: double HBONE through an east-west gateway', { skip }, () => {
  const spaces: string[] = [];
  const links: string[] = [];
  const logA = captureLog();
  const logGw = captureLog();
  let undoForwarding = () => {};
  let a: DataPlane;
  let gw: DataPlane;
  let b: DataPlane;
  let echo: Server;
  let tap: Awaited<ReturnType<typeof startTap>>;
  let probe: Server;
  let probePort = 0;
  const path = (ns: string) => `/var/run/netns/${ns}`;
  const clientNs = `ztm-${tag}-client`;
  const routerNs = `ztm-${tag}-r1`;
  const gatewayNs = `ztm-${tag}-gw`;
  const echoNs = `ztm-${tag}-echo`;
  const CLIENT = `10.${X}.1.10`;
  const ECHO = `10.${X}.2.10`;
  const VIP = `10.${X}.3.10`;
  const GATEWAY = `10.${X}.5.10`;
  let version = 1;
  let setAll: (policies?: Authorization[]) => Promise<void>;

  before(async () => {
    undoForwarding = enablePodForwarding();
    // Network 1: the client pod behind its own router, which knows the way to the gateway only.
    for (const ns of [routerNs, clientNs]) {
      must('ip', ['netns', 'add', ns]);
      spaces.push(ns);
      must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    must('ip', ['netns', 'exec', routerNs, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    const uplink = `ztm${tag}u`;
    must('ip', ['link', 'add', uplink, 'type', 'veth', 'peer', 'name', 'up0', 'netns', routerNs]);
    links.push(uplink);
    must('ip', ['addr', 'add', `10.${X}.9.1/24`, 'dev', uplink]);
    must('ip', ['link', 'set', uplink, 'up']);
    must('ip', ['-n', routerNs, 'addr', 'add', `10.${X}.9.2/24`, 'dev', 'up0']);
    must('ip', ['-n', routerNs, 'link', 'set', 'up0', 'up']);
    must('ip', [
      '-n',
      routerNs,
      'link',
      'add',
      'pod0',
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      clientNs,
    ]);
    must('ip', ['-n', routerNs, 'addr', 'add', `10.${X}.1.1/24`, 'dev', 'pod0']);
    must('ip', ['-n', routerNs, 'link', 'set', 'pod0', 'up']);
    must('ip', ['-n', routerNs, 'route', 'add', `10.${X}.5.0/24`, 'via', `10.${X}.9.1`]);
    must('ip', ['-n', clientNs, 'addr', 'add', `${CLIENT}/24`, 'dev', 'eth0']);
    must('ip', ['-n', clientNs, 'link', 'set', 'eth0', 'up']);
    must('ip', ['-n', clientNs, 'route', 'add', 'default', 'via', `10.${X}.1.1`]);
    must('ip', ['route', 'add', `10.${X}.1.0/24`, 'via', `10.${X}.9.2`, 'dev', uplink]);
    capture(clientNs, []);
    // Network 2: the gateway pod and the echo pod, both on the host (node-to-node) network.
    addVethPod({ netns: gatewayNs, hostIf: `ztm${tag}g`, gateway: `10.${X}.5.1`, ip: GATEWAY });
    spaces.push(gatewayNs);
    addVethPod({ netns: echoNs, hostIf: `ztm${tag}e`, gateway: `10.${X}.2.1`, ip: ECHO });
    spaces.push(echoNs);
    // A plain listener in the gateway pod, for the reachability check (zt's own would keep a
    // half-open TLS handshake for its timeout).
    probe = createServer((c) => c.destroy());
    probePort = (await native.listenServer(probe, { host: '0.0.0.0', port: 0, netns: path(gatewayNs) })).port;
    capture(gatewayNs, [probePort]);
    echo = createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => s.destroy());
      s.pipe(s);
    });
    const echoPort = (await native.listenServer(echo, { host: '0.0.0.0', port: 0, netns: path(echoNs) }))
      .port;
    tap = await startTap(path(echoNs), ECHO);
    capture(echoNs, [tap.port]);

    const gatewayRef: GatewayAddress = {
      destination: { kind: 'address', network: 'net2', address: GATEWAY },
      hboneMtlsPort: 15008,
    };
    const client = makeWorkload({
      name: 'client',
      serviceAccount: 'client',
      workloadIps: [CLIENT],
      node: 'node-a',
      network: 'net1',
    });
    const eastwest = makeWorkload({
      name: 'eastwest',
      namespace: 'istio-system',
      serviceAccount: 'eastwest',
      workloadIps: [GATEWAY],
      node: 'node-gw',
      network: 'net2',
    });
    const server = {
      ...makeWorkload({
        name: 'echo',
        serviceAccount: 'echo',
        workloadIps: [ECHO],
        node: 'node-b',
        network: 'net2',
        services: { [`default/${HOST}`]: { 80: echoPort } },
      }),
      networkGateway: gatewayRef,
    };
    const svc = makeService({
      name: 'echo',
      vips: [{ network: 'net1', address: VIP }],
      ports: { 80: echoPort },
    });
    const certs = testCaCertSource(await TestCa.create());
    const listeners = { workloads: { mode: 'netns' as const, bindOutbound: true } };
    const common = {
      workers: 0,
      trustDomain: 'cluster.local',
      certs,
      socketMark: MARK,
      drainDeadlineMs: 500,
      listeners,
    };
    const json = (destination: ReturnType<typeof captureLog>) =>
      new Logging({ format: 'json', destination, filter: 'info' });
    a = new DataPlane({ ...common, nodeName: 'node-a', network: 'net1', logging: json(logA) });
    // The gateway reaches endpoints' HBONE port: here the tap in front of zt b's, in the echo pod.
    gw = new DataPlane({
      ...common,
      nodeName: 'node-gw',
      network: 'net2',
      hbonePort: tap.port,
      logging: json(logGw),
    });
    b = new DataPlane({
      ...common,
      nodeName: 'node-b',
      network: 'net2',
      logging: new Logging({ filter: 'off' }),
    });
    setAll = async (policies = []) => {
      const s = makeSnapshot(version++, { workloads: [client, eastwest, server], services: [svc], policies });
      await Promise.all([a.setState(s), gw.setState(s), b.setState(s)]);
    };
    await setAll();
    const pod = (w: Workload, ns: string) => ({
      uid: w.uid,
      name: w.name,
      namespace: w.namespace,
      serviceAccount: w.serviceAccount,
      netns: path(ns),
    });
    a.setPods([pod(client, clientNs)]);
    gw.setPods([pod(eastwest, gatewayNs)]);
    b.setPods([pod(server, echoNs)]);
    await Promise.all([a.start(), gw.start(), b.start()]);
  });

  after(async () => {
    // One after the other, in path order: closed all at once, they took the 5 s close deadline
    // of the HBONE sessions between them (measured), closed in order a few milliseconds.
    for (const dp of [a, gw, b]) await dp?.close().catch(() => {});
    probe?.close();
    echo?.close();
    tap?.server.close();
    for (const ns of spaces) sh('ip', ['netns', 'del', ns]);
    for (const l of links) sh('ip', ['link', 'del', l]);
    undoForwarding();
  });

  /** A marked (uncaptured) connection attempt from the client pod: resolves with its errno, or 'connected'. */
  async function rawReach(host: string, port: number): Promise<string> {
    try {
      const s = await native.connectSocket({
        netns: path(clientNs),
        host,
        port,
        mark: MARK,
        timeoutMs: 3000,
      });
      s.destroy();
      return 'connected';
    } catch (e) {
      return String((e as NodeJS.ErrnoException).code ?? (e as Error).message);
    }
  }

  /**
   * The client pod's app: connects to the service, writes `payload`, half-closes, reads to the
   * close (a refusal: nothing, then a reset or a close).
   */
  async function roundTrip(payload: string, hold?: () => Promise<void>): Promise<string> {
    const s: Socket = await native.connectSocket({ netns: path(clientNs), host: VIP, port: 80 });
    s.allowHalfOpen = true;
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    const closed = new Promise((resolve) => s.once('close', resolve));
    s.on('error', () => {});
    s.write(payload);
    if (hold) await hold();
    s.end();
    await closed;
    return Buffer.concat(chunks).toString();
  }

  const until = async (ok: () => boolean | Promise<boolean>) => {
    for (let i = 0; i < 200 && !(await ok()); i++) await new Promise((r) => setTimeout(r, 10));
  };

  test('network 1 reaches network 2 only through the gateway', async () => {
    assert.equal(await rawReach(GATEWAY, probePort), 'connected');
    assert.match(await rawReach(ECHO, 15008), /EHOSTUNREACH|ENETUNREACH|ETIMEDOUT/);
  });

  test('the destination sees the client; the gateway sees the outer tunnel only and forwards TLS it cannot read', async () => {
    const secret = `inner marker ${Math.random()}`;
    tap.seen.length = 0;
    const got = await roundTrip(secret, async () => {
      await until(async () => (await b.connections()).length > 0 && (await gw.connections()).length > 0);
      const [atB] = await b.connections();
      assert.equal(atB?.direction, 'inbound');
      assert.equal(atB?.src.identity, CLIENT_ID);
      assert.equal(atB?.dst.workload, 'default/echo');
      const [atGw] = await gw.connections();
      assert.equal(atGw?.src.identity, CLIENT_ID);
      assert.equal(atGw?.src.address, CLIENT);
      assert.equal(atGw?.dst.workload, 'default/echo');
    });
    assert.equal(got, secret);
    const forwarded = Buffer.concat(tap.seen);
    assert.ok(forwarded.length > 0, 'the gateway forwarded the inner connection');
    assert.equal(forwarded[0], 0x16, 'a TLS handshake record starts what the gateway forwards');
    assert.equal(forwarded.includes(secret), false, 'the payload never crosses the gateway in the clear');
    assert.equal(forwarded.includes(HOST), false, 'nor does the inner CONNECT');
    // The client's access line names the gateway that carried the connection (dst.addr) and the
    // destination its response baggage described; the gateway's names the outer tunnel's peer and
    // the service authority, nothing of the inner stream.
    await until(() => logA.lines().some((l) => l.scope === 'access'));
    const atA = logA.lines().find((l) => l.scope === 'access');
    assert.equal(atA?.['dst.addr'], `${GATEWAY}:15008`);
    assert.equal(atA?.['dst.workload'], 'echo');
    assert.equal(atA?.['dst.namespace'], 'default');
    assert.equal(atA?.['dst.hbone_addr'], `${HOST}:80`);
    await until(() => logGw.lines().some((l) => l.scope === 'access'));
    const atGw = logGw.lines().find((l) => l.scope === 'access');
    assert.equal(atGw?.['src.identity'], CLIENT_ID);
    assert.equal(atGw?.['dst.hbone_addr'], `${HOST}:80`);
    assert.equal(logGw.text().includes(secret), false);
  });

  test('authorization at the destination applies to the original source; a denial is a refusal at the client', async () => {
    const allow = (name: string, principal: string) =>
      makePolicy({ name }, [{ principals: [{ kind: 'exact', value: principal }] }]);
    await setAll([allow('allow-client', 'cluster.local/ns/default/sa/client')]);
    assert.equal(await roundTrip('allowed'), 'allowed');
    // Naming another identity (the gateway's, the outer tunnel's server) denies: the gateway's
    // identity is never the source the destination authorizes.
    await setAll([allow('allow-gateway', 'cluster.local/ns/istio-system/sa/eastwest')]);
    assert.equal(await roundTrip('denied'), '');
    await until(async () => /response_flags="DENY"/.test(await a.metricsText()));
    assert.match(
      await a.metricsText(),
      /istio_tcp_connections_failed_total\{[^}]*reporter="source"[^}]*destination_workload="eastwest"[^}]*response_flags="DENY"[^}]*\} 1/,
    );
    await setAll();
    assert.equal(await roundTrip('open again'), 'open again');
  });

  // Last: it closes the gateway. Its sessions with the client's pool did not close once destroyed
  // (their sockets waited for an end that never flushed), and close() waited for ever.
  test('the gateway closes within its drain deadline while its peers still hold their connections', async () => {
    assert.equal(await roundTrip('before close'), 'before close');
    const t0 = Date.now();
    const closed = await Promise.race([gw.close().then(() => true), sleep(8000).then(() => false)]);
    assert.ok(closed, `the gateway's close() had not finished after ${Date.now() - t0} ms`);
  });
});
