// Multi-node on this machine: pods as network namespaces joined to this (the "host") namespace by
// veth pairs, captured by in-pod iptables rules (as upstream's in-pod mode), with each node's zt
// listening inside its pods' namespaces through @zt/native. zt's own sockets carry mark 1337,
// which the rules skip.
import assert from 'node:assert/strict';
import { once } from 'node:events';
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
  natUnsupported,
  sh,
  sweepStaleNetns,
} from '@zt/native/testing';
import type { Authorization, Service, Workload } from '@zt/xds';
import { makePolicy, makeService, makeWorkload } from '@zt/xds/testing';
import { DataPlane } from './dataplane.ts';
import { testCaCertSource } from './testing/index.ts';

function unsupported(): string | undefined {
  if (!native.available) return `@zt/native unavailable: ${native.unavailableReason}`;
  return natUnsupported('iptables');
}

const skip = unsupported();
// Namespaces of killed earlier runs keep host routes that would swallow this run's traffic.
if (!skip) sweepStaleNetns();
const X = skip ? 0 : freeTestSubnet(200, 50);
const tag = `${process.pid}`;

interface Pod {
  ns: string;
  path: string;
  ip: string;
  hostIf: string;
}

function makePod(n: number): Pod {
  const ns = `ztc-${tag}-p${n}`;
  const hostIf = `ztc${tag}${n}`;
  const ip = `10.${X}.${n}.10`;
  addVethPod({ netns: ns, hostIf, gateway: `10.${X}.${n}.1`, ip });
  addInpodCapture(ns);
  return { ns, path: `/var/run/netns/${ns}`, ip, hostIf };
}

function removePod(p: Pod): void {
  sh('ip', ['netns', 'del', p.ns]);
  sh('ip', ['link', 'del', p.hostIf]);
}

describe('multi-node with network namespaces and in-pod capture', { skip }, () => {
  const pods: Pod[] = [];
  const logging = new Logging({ filter: 'off' });
  let a: DataPlane;
  let b: DataPlane;
  let echo: Server;
  let echoPort = 0;
  let p1: Pod;
  let p2: Pod;
  const vip = `10.${X}.3.10`;
  let state: (policies?: Authorization[]) => Promise<void>;
  /** Workloads and services later cases add to the state both nodes get. */
  const extra: { workloads: Workload[]; services: Service[] } = { workloads: [], services: [] };
  let w1: Workload;

  let undoForwarding = () => {};

  before(async () => {
    // zt dials HBONE from inside the source pod's namespace: pod to pod is routed by this "node".
    undoForwarding = enablePodForwarding();
    p1 = makePod(1);
    pods.push(p1);
    p2 = makePod(2);
    pods.push(p2);
    // The destination app: an echo server inside pod 2's namespace.
    echo = createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => s.destroy());
      s.pipe(s);
    });
    echoPort = (await native.listenServer(echo, { host: '0.0.0.0', port: 0, netns: p2.path })).port;
    const svcKey = 'default/echo.default.svc.cluster.local';
    w1 = makeWorkload({
      name: 'pod1',
      serviceAccount: 'pod1',
      workloadIps: [p1.ip],
      node: 'node-a',
      locality: { region: 'region-1', zone: 'zone-a', subzone: '' },
    });
    const w2 = makeWorkload({
      name: 'pod2',
      serviceAccount: 'pod2',
      workloadIps: [p2.ip],
      node: 'node-b',
      services: { [svcKey]: { 80: echoPort } },
    });
    const svc = makeService({ name: 'echo', vips: [vip], ports: { 80: echoPort } });
    const ca = await TestCa.create();
    const certs = testCaCertSource(ca);
    const common = {
      workers: 0,
      network: '',
      trustDomain: 'cluster.local',
      certs,
      logging,
      socketMark: 1337,
      drainDeadlineMs: 500,
    };
    const listeners = { workloads: { mode: 'netns' as const, bindOutbound: true } };
    a = new DataPlane({ ...common, nodeName: 'node-a', listeners });
    b = new DataPlane({ ...common, nodeName: 'node-b', listeners });
    let version = 1;
    state = (policies = []) => {
      const s = {
        version: version++,
        workloads: [w1, w2, ...extra.workloads],
        services: [svc, ...extra.services],
        policies,
      };
      return Promise.all([a.setState(s), b.setState(s)]).then(() => undefined);
    };
    await state();
    a.setPods([
      {
        uid: w1.uid,
        name: w1.name,
        namespace: w1.namespace,
        serviceAccount: w1.serviceAccount,
        netns: p1.path,
      },
    ]);
    b.setPods([
      {
        uid: w2.uid,
        name: w2.name,
        namespace: w2.namespace,
        serviceAccount: w2.serviceAccount,
        netns: p2.path,
      },
    ]);
    await Promise.all([a.start(), b.start()]);
    // start() resolves once the pods' listeners are bound.
    assert.equal(a.bound().length, 3);
    assert.equal(b.bound().length, 3);
  });

  after(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    echo?.close();
    for (const p of pods) removePod(p);
    undoForwarding();
  });

  /** A plain, unmarked connection from inside pod 1: the capture rules send it to zt. */
  async function fromPod1(host: string, port: number): Promise<Socket> {
    const s = await native.connectSocket({ netns: p1.path, host, port });
    s.allowHalfOpen = true;
    s.on('error', () => {});
    return s;
  }

  async function exchange(s: Socket, text: string): Promise<string> {
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    const done = new Promise<void>((resolve) => {
      s.once('end', resolve);
      s.once('close', resolve);
      s.once('error', () => resolve());
    });
    s.end(text);
    await done;
    s.destroy();
    return Buffer.concat(chunks).toString();
  }

  test('pod 1 -> pod 2 is captured, carried over HBONE and arrives; the peer identity is pod 1', async () => {
    const s = await fromPod1(p2.ip, echoPort);
    s.write('first');
    const [first] = (await once(s, 'data')) as [Buffer];
    assert.equal(first.toString(), 'first');
    const inbound = (await b.connections()).filter((c) => c.direction === 'inbound');
    assert.equal(inbound.length, 1);
    assert.equal(inbound[0]?.protocol, 'HBONE');
    assert.equal(inbound[0]?.src.identity, 'spiffe://cluster.local/ns/default/sa/pod1');
    assert.equal(inbound[0]?.dst.workload, 'default/pod2');
    const outbound = (await a.connections()).filter((c) => c.direction === 'outbound');
    assert.equal(outbound[0]?.dst.address, p2.ip);
    assert.equal(await exchange(s, ' and the rest'), ' and the rest');
  });

  test('a service VIP resolves to the endpoint behind it', async () => {
    assert.equal(await exchange(await fromPod1(vip, 80), 'via the VIP'), 'via the VIP');
  });

  test('a deny policy is enforced at the destination node', async () => {
    await state([
      makePolicy({ name: 'deny-pod1', action: 'Deny' }, [
        { principals: [{ kind: 'suffix', value: '/sa/pod1' }] },
      ]),
    ]);
    assert.equal(await exchange(await fromPod1(p2.ip, echoPort), 'blocked'), '');
    await state([]);
    assert.equal(await exchange(await fromPod1(p2.ip, echoPort), 'open again'), 'open again');
  });

  test('locality failover across nodes: the same-zone endpoint, the other zone once it is unhealthy, nothing with Strict', async () => {
    // Two endpoints of one service on node b: one in pod 1's zone, one in another zone. Each app
    // answers with its own name, so the client sees which endpoint served it.
    const near = makePod(3);
    pods.push(near);
    const far = makePod(4);
    pods.push(far);
    const apps: Server[] = [];
    const ports: Record<string, number> = {};
    for (const [name, pod] of [
      ['near', near],
      ['far', far],
    ] as const) {
      const app = createServer((s) => {
        s.on('error', () => s.destroy());
        s.end(name);
      });
      apps.push(app);
      ports[name] = (await native.listenServer(app, { host: '0.0.0.0', port: 0, netns: pod.path })).port;
    }
    try {
      const key = 'default/zoned.default.svc.cluster.local';
      const endpoint = (name: 'near' | 'far', pod: Pod, zone: string, status: Workload['status']) =>
        makeWorkload({
          name: `zoned-${name}`,
          serviceAccount: 'zoned',
          workloadIps: [pod.ip],
          node: 'node-b',
          status,
          locality: { region: 'region-1', zone, subzone: '' },
          services: { [key]: { 80: ports[name] ?? 0 } },
        });
      const zvip = `10.${X}.5.10`;
      const service = (mode: 'Failover' | 'Strict'): Service => ({
        ...makeService({ name: 'zoned', vips: [zvip], ports: { 80: 0 } }),
        loadBalancer: { routingPreferences: ['Zone'], mode, healthPolicy: 'OnlyHealthy' },
      });
      const apply = async (mode: 'Failover' | 'Strict', nearStatus: Workload['status']) => {
        extra.workloads = [
          endpoint('near', near, 'zone-a', nearStatus),
          endpoint('far', far, 'zone-b', 'Healthy'),
        ];
        extra.services = [service(mode)];
        await state();
      };
      await apply('Failover', 'Healthy');
      // addPod resolves once node b has bound the endpoints' listeners inside their pods.
      for (const w of extra.workloads) {
        await b.addPod({
          uid: w.uid,
          name: w.name,
          namespace: w.namespace,
          serviceAccount: w.serviceAccount,
          netns: w.workloadIps[0] === near.ip ? near.path : far.path,
        });
      }
      const served = async (): Promise<string[]> => {
        const got: string[] = [];
        for (let i = 0; i < 12; i++) got.push(await exchange(await fromPod1(zvip, 80), 'who?'));
        return got;
      };
      assert.deepEqual(
        await served(),
        Array(12).fill('near'),
        'Failover: all to the same zone while it is healthy',
      );
      await apply('Failover', 'Unhealthy');
      assert.deepEqual(
        await served(),
        Array(12).fill('far'),
        'Failover: the other zone once the near one is unhealthy',
      );
      await apply('Strict', 'Unhealthy');
      assert.deepEqual(
        await served(),
        Array(12).fill(''),
        'Strict: no endpoint in the zone, the connections fail',
      );
      await apply('Strict', 'Healthy');
      assert.deepEqual(await served(), Array(12).fill('near'), 'Strict: the same zone again once it is back');
    } finally {
      for (const app of apps) app.close();
    }
  });
});
