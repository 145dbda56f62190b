// Pods without IPv6, next to netns-dualstack.test.ts: zt binds a pod's listeners on `::` by
// default (IPV6_ENABLED), and a pod that has no IPv6 must still be served on IPv4 and acked.
// - A pod namespace with net.ipv6.conf.*.disable_ipv6=1 (what a cluster with IPv6 off per pod
//   has): `::` still binds there and takes IPv4 connections v4-mapped.
// - A kernel booted with ipv6.disable=1 has no AF_INET6 at all: socket() fails EAFNOSUPPORT and
//   zt falls back to 0.0.0.0. No test host can switch IPv6 off in its kernel for one namespace, so
//   that refusal is the one part played here: the listen call refuses `::` as that kernel would,
//   and everything else (the namespace, the capture, the IPv4 bind, the connection) is real.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { TestCa } from '@zt/identity/testing';
import { Logging } from '@zt/log';
import * as native from '@zt/native';
import {
  addInpodCapture,
  addVethPod,
  freeTestSubnet,
  natUnsupported,
  sh,
  sweepStaleNetns,
} from '@zt/native/testing';
import { makeSnapshot, makeWorkload } from '@zt/xds/testing';
import pino from 'pino';
import type { SocketOps } from './context.ts';
import { DataPlane } from './dataplane.ts';
import { nativeSocketOps } from './native.ts';
import type { PodInfo } from './pods.ts';
import { ProxyEngine } from './proxy.ts';
import { testCaCertSource } from './testing/index.ts';

function unsupported(): string | undefined {
  if (!native.available) return `@zt/native unavailable: ${native.unavailableReason}`;
  return natUnsupported('iptables');
}

const skip = unsupported();
if (!skip) sweepStaleNetns();
// 10.60-89: apart from the other netns suites (dual-stack 100-149, lab 150-199, multi-node 200-249).
const X = skip ? 0 : freeTestSubnet(60, 30);
const tag = `${process.pid}`;
const APP_PORT = 8080;

interface Pod {
  ns: string;
  path: string;
  ip: string;
  app: Server;
}

/** An IPv4-only pod with IPv6 switched off in its namespace, istio-cni's inbound capture and an echo app. */
async function makePod(n: number): Promise<Pod> {
  const ns = `ztv-${tag}-p${n}`;
  const ip = `10.${X}.${n}.10`;
  addVethPod({ netns: ns, hostIf: `ztv${tag}${n}`, gateway: `10.${X}.${n}.1`, ip });
  for (const ifname of ['all', 'default', 'lo', 'eth0'])
    native.setNetnsSysctl(`/var/run/netns/${ns}`, `net.ipv6.conf.${ifname}.disable_ipv6`, '1');
  addInpodCapture(ns, { outbound: false });
  const app = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  await native.listenServer(app, { host: '0.0.0.0', port: APP_PORT, netns: `/var/run/netns/${ns}` });
  return { ns, path: `/var/run/netns/${ns}`, ip, app };
}

const w1 = () =>
  makeWorkload({ name: 'v4a', serviceAccount: 'v4a', workloadIps: [`10.${X}.1.10`], node: 'n' });
const w2 = () =>
  makeWorkload({ name: 'v4b', serviceAccount: 'v4b', workloadIps: [`10.${X}.2.10`], node: 'n' });
const info = (w: ReturnType<typeof w1>, p: Pod): PodInfo => ({
  uid: w.uid,
  name: w.name,
  namespace: w.namespace,
  serviceAccount: w.serviceAccount,
  netns: p.path,
});
const listeners = {
  workloads: { mode: 'netns' as const, bindOutbound: true, ipv6: true },
};

/** From the host to the pod's app port: captured to zt's 15006 in the pod, then to the app. */
async function echoThroughPod(pod: Pod, text: string): Promise<string> {
  const { connect } = await import('node:net');
  const s: Socket = connect({ host: pod.ip, port: APP_PORT, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  const done = new Promise<void>((resolve, reject) => {
    s.once('close', () => resolve());
    s.once('error', reject);
  });
  s.setTimeout(5000, () => s.destroy(new Error('no answer in 5 s')));
  s.end(text);
  await done;
  return Buffer.concat(chunks).toString();
}

describe('pods without IPv6', { skip, timeout: 60_000 }, () => {
  const pods: Pod[] = [];
  let ca: TestCa;

  before(async () => {
    ca = await TestCa.create();
    pods.push(await makePod(1), await makePod(2));
  });

  after(() => {
    for (const p of pods) {
      p.app.close();
      sh('ip', ['netns', 'del', p.ns]);
    }
  });

  test('disable_ipv6=1 in the pod: the add is acked, the pod listens on :: and serves IPv4', async () => {
    const [pod] = pods as [Pod];
    const w = w1();
    const dp = new DataPlane({
      workers: 0,
      nodeName: 'n',
      network: '',
      trustDomain: ca.trustDomain,
      certs: testCaCertSource(ca),
      logging: new Logging({ filter: 'off' }),
      socketMark: 1337,
      listeners,
    });
    try {
      await dp.setState(makeSnapshot(1, { workloads: [w] }));
      await dp.start();
      assert.equal(sh('ip', ['-n', pod.ns, '-6', 'addr', 'show']).out, '', 'no IPv6 address in the pod');
      await dp.addPod(info(w, pod));
      assert.equal(await echoThroughPod(pod, 'ipv4 via ::'), 'ipv4 via ::');
      const inbound = (await dp.recentConnections())
        .flatMap((d) => d.closed)
        .find((c) => c.direction === 'inbound');
      assert.equal(inbound?.dst.address, pod.ip, 'zt carried it (the capture went to its 15006)');
    } finally {
      await dp.close();
    }
  });

  test('no AF_INET6 in the kernel (ipv6.disable=1): the pod falls back to 0.0.0.0, is acked and serves IPv4', async () => {
    const [, pod] = pods as [Pod, Pod];
    const w = w2();
    const real = await nativeSocketOps();
    const tried: string[] = [];
    const ops: SocketOps = {
      ...real,
      async listen(server, o) {
        tried.push(o.host);
        if (o.host === '::') {
          // The kernel's answer to socket(AF_INET6) when IPv6 was disabled at boot.
          throw Object.assign(
            new Error(`socket (netns ${o.netns}) failed: Address family not supported by protocol`),
            {
              code: 'EAFNOSUPPORT',
            },
          );
        }
        return (real.listen as NonNullable<SocketOps['listen']>)(server, o);
      },
    };
    const engine = new ProxyEngine(
      { nodeName: 'n', network: '', trustDomain: ca.trustDomain, socketMark: 1337, listeners },
      { certs: testCaCertSource(ca), log: pino({ level: 'silent' }), ops },
    );
    try {
      await engine.setState(makeSnapshot(1, { workloads: [w] }));
      await engine.start();
      const bound = await engine.addPod(info(w, pod));
      assert.deepEqual(bound.map((b) => `${b.kind}@${b.address}`).sort(), [
        'inbound@0.0.0.0',
        'inboundPlaintext@0.0.0.0',
        'outbound@0.0.0.0',
      ]);
      assert.equal(tried[0], '::', 'tried dual stack first');
      assert.equal(await echoThroughPod(pod, 'ipv4 only'), 'ipv4 only');
    } finally {
      await engine.close();
    }
  });
});
