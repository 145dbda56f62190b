import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExposition, sampleValue } from '@zt/metrics/testing';
import { recordBuildInfo, registry } from './index.ts';

test('istio_build carries component and tag, value 1, one series', async () => {
  recordBuildInfo('1.27.0');
  recordBuildInfo('1.28.0');
  const exp = parseExposition(await registry.metrics());
  assert.equal(exp.types.get('istio_build'), 'gauge');
  assert.deepEqual(
    exp.samples.filter((s) => s.name === 'istio_build'),
    [{ name: 'istio_build', labels: { component: 'ztunnel', tag: '1.28.0' }, value: 1 }],
  );
  assert.equal(sampleValue(exp, 'istio_build', { component: 'ztunnel', tag: '1.28.0' }), 1);
});
