import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runKtlsComparison } from './compare.ts';

test('the kernel TLS comparison moves every byte through each variant and reports ratios to tls', async () => {
  const c = await runKtlsComparison({ rounds: 1, bytes: 16 * 1024 * 1024, aeadMib: 16 });
  const variants = c.ktlsBlocked ? ['tls', 'plain'] : ['tls', 'plain', 'ktls'];
  assert.deepEqual(
    c.runs.map((r) => r.variant),
    variants,
  );
  // runOnce throws unless the server counted every byte; here the figures must be sane.
  for (const r of c.runs) {
    assert.ok(r.gbitPerS > 0 && Number.isFinite(r.gbitPerS), `${r.variant} throughput ${r.gbitPerS}`);
    assert.ok(r.cpuSecondsPerGib > 0, `${r.variant} CPU ${r.cpuSecondsPerGib}`);
  }
  assert.match(c.runs[0]?.cipher ?? '', /^TLS_AES_256_GCM_SHA384$/);
  assert.equal(c.runs[1]?.cipher, 'none');
  assert.equal(c.throughputVsTls.plain?.rounds.length, 1);
  assert.ok(c.aead.seal > 0 && c.aead.open > 0);
  assert.ok(c.ktlsCpuFloor > (c.median.plain?.cpuSecondsPerGib ?? 0));
});
