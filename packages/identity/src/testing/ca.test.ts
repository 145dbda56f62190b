import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { Identity } from '../identity.ts';
import { TestCa } from './index.ts';

test('TestCa issues a leaf that Node verifies against the root, with the SPIFFE URI SAN', async () => {
  const ca = await TestCa.create();
  const id = Identity.parse('spiffe://cluster.local/ns/default/sa/echo');
  const cert = await ca.issue(id);
  const leaf = new X509Certificate(cert.certChain[0]!);
  const root = new X509Certificate(ca.rootPem);
  assert.ok(leaf.verify(root.publicKey));
  assert.equal(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/default/sa/echo');
  assert.ok(cert.notAfter.getTime() > Date.now());
  assert.match(cert.privateKey, /^-----BEGIN PRIVATE KEY-----/);
});
