import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProxyState, type ProxyStateView } from '@zt/xds';
import { makeSnapshot, makeWorkload } from '@zt/xds/testing';
import { type PodInfo, PodWorkloads, podWorkload } from './pods.ts';

const pod: PodInfo = { uid: 'p1', name: 'web', namespace: 'ns1', serviceAccount: 'web', netns: '/x' };

test("a pod's workload is the one of this node with its namespace, name and service account", () => {
  const view = new ProxyState(
    makeSnapshot(1, {
      workloads: [
        makeWorkload({ uid: 'other-node', name: 'web', namespace: 'ns1', serviceAccount: 'web', node: 'n2' }),
        makeWorkload({ uid: 'other-sa', name: 'web', namespace: 'ns1', serviceAccount: 'db', node: 'n1' }),
        makeWorkload({ uid: 'other-ns', name: 'web', namespace: 'ns2', serviceAccount: 'web', node: 'n1' }),
        makeWorkload({ uid: 'it', name: 'web', namespace: 'ns1', serviceAccount: 'web', node: 'n1' }),
      ],
    }),
  );
  assert.equal(podWorkload(view, 'n1', pod)?.uid, 'it');
  assert.equal(podWorkload(view, 'n3', pod), undefined);
});

test('waitFor resolves when a later state brings the workload, undefined after the timeout', async () => {
  let view: ProxyStateView = new ProxyState(makeSnapshot(1, { workloads: [] }));
  const pods = new PodWorkloads(() => view, 'n1');
  const late = pods.waitFor(pod, 2000);
  const never = pods.waitFor({ ...pod, name: 'never' }, 50);
  view = new ProxyState(
    makeSnapshot(1, {
      workloads: [
        makeWorkload({ uid: 'it', name: 'web', namespace: 'ns1', serviceAccount: 'web', node: 'n1' }),
      ],
    }),
  );
  pods.stateChanged();
  assert.equal((await late)?.uid, 'it');
  assert.equal(await never, undefined);
  // Found at once when the state already has it; cancelAll ends the waits that remain.
  assert.equal((await pods.waitFor(pod, 0))?.uid, 'it');
  const cancelled = pods.waitFor({ ...pod, name: 'never' }, 60_000);
  pods.cancelAll();
  assert.equal(await cancelled, undefined);
});
