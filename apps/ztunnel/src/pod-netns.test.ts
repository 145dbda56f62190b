import assert from 'node:assert/strict';
import { test } from 'node:test';
import { netnsPath, podInfo } from './pod-netns.ts';

test('a pod reaches the data plane with its WorkloadInfo and a path to its netns fd', () => {
  const pod = { uid: 'u1', namespace: 'ns1', name: 'web', serviceAccount: 'sa', netns: 31 };
  assert.deepEqual(podInfo(pod), {
    uid: 'u1',
    namespace: 'ns1',
    name: 'web',
    serviceAccount: 'sa',
    netns: '/proc/self/fd/31',
  });
  assert.equal(netnsPath(7), '/proc/self/fd/7');
});
