import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Identity } from '@zt/identity';
import { TestCa } from '@zt/identity/testing';
import { RemoteCertSource, toWire } from './certs.ts';
import type { WireCert } from './types.ts';

test('worker CertSource: asks once per identity, caches, and takes rotations from the main thread', async () => {
  const ca = await TestCa.create();
  const id = Identity.parse('spiffe://cluster.local/ns/default/sa/a');
  let asked = 0;
  const src = new RemoteCertSource(async (identity): Promise<WireCert> => {
    asked++;
    return toWire(await ca.issue(identity));
  });
  const [c1, c2] = await Promise.all([src.fetchCertificate(id), src.fetchCertificate(id)]);
  assert.equal(asked, 1);
  assert.equal(c1, c2);
  assert.ok(c1.identity.equals(id));
  assert.ok(c1.notAfter instanceof Date);
  const seen: string[] = [];
  src.onRotate((c) => seen.push(c.certChain[0] ?? ''));
  const next = await ca.issue(id);
  src.rotated(toWire(next));
  assert.deepEqual(seen, [next.certChain[0]]);
  assert.equal((await src.fetchCertificate(id)).certChain[0], next.certChain[0]);
  assert.equal(asked, 1);
});

test('worker CertSource: a failed request is not cached', async () => {
  let fail = true;
  const ca = await TestCa.create();
  const src = new RemoteCertSource(async (identity) => {
    if (fail) throw new Error('CA down');
    return toWire(await ca.issue(identity));
  });
  const id = Identity.parse('spiffe://cluster.local/ns/default/sa/b');
  await assert.rejects(src.fetchCertificate(id), /CA down/);
  fail = false;
  assert.ok((await src.fetchCertificate(id)).identity.equals(id));
});
