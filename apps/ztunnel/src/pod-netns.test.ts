import assert from 'node:assert/strict';
import { test } from 'node:test';
import { netnsPath, podNetnsMap } from './pod-netns.ts';

test("a workload of this node gets its pod's netns, matched by namespace/name", () => {
  const pods = [
    { namespace: 'ns1', name: 'web', netns: 31 },
    { namespace: 'ns2', name: 'web', netns: 32 },
    { namespace: 'ns1', name: 'only-a-pod', netns: 33 },
  ];
  const workloads = [
    { uid: 'u-web1', namespace: 'ns1', name: 'web', node: 'n1' },
    { uid: 'u-web2', namespace: 'ns2', name: 'web', node: 'n1' },
    { uid: 'u-other-node', namespace: 'ns1', name: 'web', node: 'n2' },
    { uid: 'u-no-pod', namespace: 'ns1', name: 'db', node: 'n1' },
  ];
  assert.deepEqual(podNetnsMap(pods, workloads, 'n1'), {
    'u-web1': '/proc/self/fd/31',
    'u-web2': '/proc/self/fd/32',
  });
  assert.deepEqual(podNetnsMap([], workloads, 'n1'), {});
  assert.equal(netnsPath(7), '/proc/self/fd/7');
});
