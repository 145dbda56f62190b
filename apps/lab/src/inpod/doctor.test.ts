// zt doctor's in-pod check on a simulated node: pods are network namespaces with upstream's capture
// rules, handed to zt by a fake istio-cni node agent. Healthy, then a pod whose rules were
// flushed, then the node agent gone.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CheckResult, formatReport, runDoctor } from '@zt/ztunnel';
import { SimNode } from './node.ts';
import { inpodUnsupported, type SimPod, Topology } from './topology.ts';

const skip = inpodUnsupported();
// In-pod is the default mode: nothing to switch on.
const ENV = { FAKE_CA: 'true', NODE_NAME: 'node-1' };

describe('zt doctor, in-pod mode', { skip, timeout: 120_000, concurrency: false }, () => {
  let topo: Topology;
  let node: SimNode;
  let web: SimPod;
  let db: SimPod;

  async function inpod(): Promise<CheckResult> {
    const r = await runDoctor({ admin: node.zt.servers.admin.url, env: ENV, timeoutMs: 2000 });
    const c = r.checks.find((x) => x.name === 'in-pod');
    assert.ok(c, formatReport(r));
    return c;
  }

  before(async () => {
    topo = new Topology();
    web = topo.addPod({ name: 'web', namespace: 'shop', serviceAccount: 'web', node: 'node-1' });
    db = topo.addPod({ name: 'db', namespace: 'shop', serviceAccount: 'db', node: 'node-1' });
    node = await SimNode.start({
      name: 'node-1',
      bindAddress: '127.0.64.1',
      localXds: `workloads:\n${topo.workloadsYaml()}\n`,
      drainDeadline: '1s',
      workerThreads: 1,
    });
    node.register([web, db]);
    assert.deepEqual(await node.cni.sendSnapshot(), ['', '', '']);
    await SimNode.waitForListeners([web, db]);
  });
  after(async () => {
    await node?.stop();
    topo?.destroy();
  });

  test('enrolled pods with their listeners and capture rules pass', async () => {
    const c = await inpod();
    assert.equal(c.verdict, 'pass', c.details.join('\n'));
    assert.equal(c.summary, 'ZDS connected; 2 pods with listeners and capture rules');
    assert.ok(
      c.details.includes(
        'pod shop/web: listeners 15001, 15006, 15008 and capture rules (iptables-save) present',
      ),
    );
  });

  test('a pod whose capture rules are gone fails the check, naming the pod and the rule', async () => {
    const flush = spawnSync(
      'ip',
      ['netns', 'exec', web.netns, 'iptables', '-t', 'nat', '-F', 'ISTIO_OUTPUT'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(flush.status, 0, flush.stderr);
    const c = await inpod();
    assert.equal(c.verdict, 'fail');
    assert.equal(
      c.summary,
      'pod shop/web: no capture rule redirects outbound traffic to 15001 (iptables-save)',
    );
    assert.match(c.fix ?? '', /istio-cni installs the rules when the pod starts/);
    assert.ok(
      c.details.includes(
        'pod shop/db: listeners 15001, 15006, 15008 and capture rules (iptables-save) present',
      ),
    );
  });

  test('without the node agent the check fails on the ZDS connection', async () => {
    node.cni.close();
    let c = await inpod();
    for (let i = 0; c.summary.includes('ZDS connected') || c.summary.startsWith('pod '); i++) {
      assert.ok(i < 50, `still connected: ${c.summary}`);
      await sleep(100);
      c = await inpod();
    }
    assert.equal(c.verdict, 'fail');
    assert.match(
      c.summary,
      /^not connected to the istio-cni node agent at \/tmp\/zt-inpod-.*\/ztunnel\.sock \(connecting/,
    );
    assert.match(c.fix ?? '', /istio-cni's node agent runs on this node/);
  });
});
