// A dual-stack pod: IPv4 and IPv6 on its veth, captured by iptables and ip6tables (as istio-cni
// does for a dual-stack pod). zt binds the pod's listeners on [::] (IPV6_ENABLED, upstream's
// wildcard), so the same listeners serve both families: outbound over IPv6 is captured and carried
// over HBONE to the destination pod's 15008 on its IPv6 address.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { TestCa } from '@zt/identity/testing';
import { Logging } from '@zt/log';
import * as native from '@zt/native';
import {
  addInpodCapture,
  addVethPod,
  enablePodForwarding,
  freeTestSubnet,
  must,
  natUnsupported,
  sh,
  sweepStaleNetns,
} from '@zt/native/testing';
import { makeWorkload } from '@zt/xds/testing';
import { DataPlane } from './dataplane.ts';
import { testCaCertSource } from './testing/index.ts';

const V6_FORWARDING = '/proc/sys/net/ipv6/conf/all/forwarding';

function unsupported(): string | undefined {
  if (!native.available) return `@zt/native unavailable: ${native.unavailableReason}`;
  if (!existsSync(V6_FORWARDING)) return 'no IPv6 in this kernel';
  return natUnsupported('iptables') ?? natUnsupported('ip6tables');
}

const skip = unsupported();
if (!skip) sweepStaleNetns();
// 10.100-149: apart from the other netns suites (core's multi-node 200-249, the lab's 150-199).
const X = skip ? 0 : freeTestSubnet(100, 50);
const tag = `${process.pid}`;

interface Pod {
  ns: string;
  path: string;
  ip4: string;
  ip6: string;
}

function makePod(n: number): Pod {
  const ns = `ztd-${tag}-p${n}`;
  const hostIf = `ztd${tag}${n}`;
  const ip4 = `10.${X}.${n}.10`;
  // A ULA /64 per pod, told apart by this suite's 10.X (unique among concurrent runs).
  const net6 = `fd7a:${X.toString(16)}:${n}`;
  const ip6 = `${net6}::10`;
  addVethPod({ netns: ns, hostIf, gateway: `10.${X}.${n}.1`, ip: ip4 });
  must('ip', ['addr', 'add', `${net6}::1/64`, 'dev', hostIf, 'nodad']);
  must('ip', ['-n', ns, 'addr', 'add', `${ip6}/64`, 'dev', 'eth0', 'nodad']);
  must('ip', ['-n', ns, '-6', 'route', 'add', 'default', 'via', `${net6}::1`]);
  // istio-cni's in-pod capture, for both families.
  addInpodCapture(ns, { tool: 'iptables' });
  addInpodCapture(ns, { tool: 'ip6tables' });
  return { ns, path: `/var/run/netns/${ns}`, ip4, ip6 };
}

describe('a dual-stack pod in its network namespace', { skip, timeout: 60_000 }, () => {
  const pods: Pod[] = [];
  const logging = new Logging({ filter: 'off' });
  const sockets: Socket[] = [];
  let a: DataPlane;
  let b: DataPlane;
  let echo: Server;
  let echoPort = 0;
  let p1: Pod;
  let p2: Pod;
  let undoForwarding = () => {};
  let v6ForwardingBefore = '';

  before(async () => {
    undoForwarding = enablePodForwarding();
    v6ForwardingBefore = readFileSync(V6_FORWARDING, 'utf8').trim();
    writeFileSync(V6_FORWARDING, '1');
    p1 = makePod(1);
    pods.push(p1);
    p2 = makePod(2);
    pods.push(p2);
    echo = createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => s.destroy());
      s.pipe(s);
    });
    // The app listens on both families, as a dual-stack app does.
    echoPort = (await native.listenServer(echo, { host: '::', port: 0, netns: p2.path })).port;
    const w1 = makeWorkload({
      name: 'pod1',
      serviceAccount: 'pod1',
      workloadIps: [p1.ip4, p1.ip6],
      node: 'node-a',
    });
    const w2 = makeWorkload({
      name: 'pod2',
      serviceAccount: 'pod2',
      workloadIps: [p2.ip4, p2.ip6],
      node: 'node-b',
    });
    const certs = testCaCertSource(await TestCa.create());
    const common = {
      workers: 0,
      network: '',
      trustDomain: 'cluster.local',
      certs,
      logging,
      socketMark: 1337,
      drainDeadlineMs: 500,
      listeners: { workloads: { mode: 'netns' as const, bindOutbound: true, ipv6: true } },
    };
    a = new DataPlane({ ...common, nodeName: 'node-a' });
    b = new DataPlane({ ...common, nodeName: 'node-b' });
    const state = { version: 1, workloads: [w1, w2], services: [], policies: [] };
    await Promise.all([a.setState(state), b.setState(state)]);
    const info = (w: typeof w1, p: Pod) => ({
      uid: w.uid,
      name: w.name,
      namespace: w.namespace,
      serviceAccount: w.serviceAccount,
      netns: p.path,
    });
    a.setPods([info(w1, p1)]);
    b.setPods([info(w2, p2)]);
    await Promise.all([a.start(), b.start()]);
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await Promise.allSettled([a?.close(), b?.close()]);
    echo?.close();
    for (const p of pods) sh('ip', ['netns', 'del', p.ns]);
    if (v6ForwardingBefore !== '' && v6ForwardingBefore !== '1') {
      const left = sh('ip', ['netns', 'list']).out;
      if (!left.split('\n').some((l) => l.startsWith('zt'))) writeFileSync(V6_FORWARDING, v6ForwardingBefore);
    }
    undoForwarding();
  });

  async function exchange(host: string, text: string): Promise<string> {
    const s = await native.connectSocket({ netns: p1.path, host, port: echoPort, timeoutMs: 5000 });
    sockets.push(s);
    s.allowHalfOpen = true;
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    const done = new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.once('error', () => resolve());
    });
    s.end(text);
    await done;
    return Buffer.concat(chunks).toString();
  }

  /** Node b's closed inbound connection to `dst` (its record may land just after the client's close). */
  async function closedInbound(dst: string) {
    for (let i = 0; i < 40; i++) {
      const recent = (await b.recentConnections()).flatMap((d) => d.closed);
      const found = recent.find((c) => c.direction === 'inbound' && c.dst.address === dst);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 50));
    }
    return undefined;
  }

  test("the pod's listeners are bound on [::], dual stack", () => {
    const kinds = a
      .bound()
      .filter((l) => l.set !== 'shared')
      .map((l) => `${l.kind}@${l.address}`)
      .sort();
    assert.deepEqual(kinds, ['inbound@::', 'inboundPlaintext@::', 'outbound@::']);
  });

  test('outbound over IPv6 is captured and carried over HBONE to the IPv6 address of the peer', async () => {
    assert.equal(await exchange(p2.ip6, 'over ipv6'), 'over ipv6');
    const inbound = await closedInbound(p2.ip6);
    assert.ok(inbound, 'node b recorded the inbound connection to the IPv6 address');
    assert.equal(inbound.protocol, 'HBONE');
    assert.equal(inbound.src.address, p1.ip6, 'dialled from inside pod 1, from its IPv6 address');
    assert.equal(inbound.src.identity, 'spiffe://cluster.local/ns/default/sa/pod1');
  });

  test('IPv4 still goes through the same dual-stack listeners', async () => {
    assert.equal(await exchange(p2.ip4, 'over ipv4'), 'over ipv4');
    assert.equal((await closedInbound(p2.ip4))?.src.address, p1.ip4);
  });

  test("the HBONE connections dialled from pod 1's namespace carry TCP keepalive, as upstream's", () => {
    // Pooled after the exchanges above: one per family, to pod 2's 15008.
    const out = sh('ip', [
      'netns',
      'exec',
      p1.ns,
      'ss',
      '-tnoH',
      'state',
      'established',
      '( dport = :15008 )',
    ]);
    const lines = out.out.split('\n').filter((l) => l.trim() !== '');
    assert.ok(lines.length >= 1, `an HBONE connection from pod 1: ${out.out}`);
    for (const l of lines) assert.match(l, /timer:\(keepalive,/, l);
  });
});
