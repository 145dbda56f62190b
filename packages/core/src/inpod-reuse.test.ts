// INPOD_PORT_REUSE: a pod's listeners carry SO_REUSEPORT by default, so a second zt (the new pod
// of a rolling update) binds the same pod ports beside the first and takes the pod over while the
// old one drains. Off, the second zt cannot bind. Two engines in one process stand for two zt.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { TestCa } from '@zt/identity/testing';
import { available, unavailableReason } from '@zt/native';
import { netnsUnsupported, sweepStaleNetns } from '@zt/native/testing';
import { makeSnapshot, makeWorkload } from '@zt/xds/testing';
import pino from 'pino';
import { nativeSocketOps } from './native.ts';
import { ProxyEngine } from './proxy.ts';
import { testCaCertSource } from './testing/index.ts';

const skip = netnsUnsupported() ?? (available ? undefined : `@zt/native unavailable: ${unavailableReason}`);
const NS = `ztr-${process.pid}-pod`;
const pod = makeWorkload({ name: 'web', serviceAccount: 'web', workloadIps: ['10.251.0.10'], node: 'n' });

describe('INPOD_PORT_REUSE', { skip }, () => {
  const engines: ProxyEngine[] = [];
  let ca: TestCa;

  before(async () => {
    sweepStaleNetns();
    assert.equal(spawnSync('ip', ['netns', 'add', NS]).status, 0, `ip netns add ${NS}`);
    ca = await TestCa.create();
  });
  after(async () => {
    for (const e of engines) await e.close();
    spawnSync('ip', ['netns', 'del', NS]);
  });

  /** One zt serving `pod` in its namespace; resolves with the pod listeners it bound. */
  async function zt(reusePort: boolean | undefined): Promise<string[]> {
    const lines: { msg?: string }[] = [];
    const engine = new ProxyEngine(
      {
        nodeName: 'n',
        network: '',
        trustDomain: ca.trustDomain,
        listeners: {
          workloads: {
            mode: 'netns',
            bindOutbound: true,
            inbound: 15008,
            inboundPlaintext: 15006,
            outbound: 15001,
            ...(reusePort === undefined ? {} : { reusePort }),
          },
        },
      },
      {
        certs: testCaCertSource(ca),
        log: pino({ level: 'error' }, { write: (s: string) => void lines.push(JSON.parse(s)) }),
        ops: await nativeSocketOps(),
      },
    );
    engines.push(engine);
    await engine.setState(makeSnapshot(1, { workloads: [pod] }));
    await engine.start();
    await engine.setPods([
      {
        uid: pod.uid,
        name: pod.name,
        namespace: pod.namespace,
        serviceAccount: pod.serviceAccount,
        netns: `/var/run/netns/${NS}`,
      },
    ]);
    return engine
      .bound()
      .filter((b) => b.set === pod.uid)
      .map((b) => `${b.kind}:${b.port}`)
      .sort();
  }

  test('default on: a second zt binds the same pod ports beside the first', async () => {
    const all = ['inbound:15008', 'inboundPlaintext:15006', 'outbound:15001'];
    assert.deepEqual(await zt(undefined), all);
    assert.deepEqual(await zt(true), all, 'the new zt holds the pod too');
  });

  test('off: the pod ports are taken, the next zt binds none of them', async () => {
    for (const e of engines.splice(0)) await e.close();
    assert.deepEqual(await zt(false), ['inbound:15008', 'inboundPlaintext:15006', 'outbound:15001']);
    assert.deepEqual(await zt(false), [], 'EADDRINUSE: no second owner without SO_REUSEPORT');
  });
});
