import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { Logging } from '@zt/log';
import { FakeCaProvider } from './fake.ts';
import { Identity } from './identity.ts';
import { SecretManager } from './manager.ts';
import { TestCa } from './testing/index.ts';

const ID = Identity.parse('spiffe://cluster.local/ns/default/sa/echo');

test('FAKE_CA: certificates without a CA, under a root every fake-CA zt shares', async (t) => {
  const a = await FakeCaProvider.create();
  const b = await FakeCaProvider.create({ ttlSeconds: 600 });
  assert.equal(a.rootPem, b.rootPem, 'two nodes with FAKE_CA trust each other');
  const mgr = new SecretManager({ provider: b, logger: new Logging({ filter: 'off' }).root });
  t.after(() => mgr.close());
  const cert = await mgr.fetchCertificate(ID);
  const leaf = new X509Certificate(cert.certChain[0] as string);
  assert.equal(leaf.subjectAltName, `URI:${ID}`);
  assert.ok(leaf.verify(new X509Certificate(a.rootPem).publicKey));
  assert.deepEqual(cert.roots, [a.rootPem]);
  const lifetime = cert.notAfter.getTime() - Date.now();
  assert.ok(lifetime > 590_000 && lifetime <= 600_000, `lifetime ${lifetime}`);
  assert.ok(new X509Certificate(a.rootPem).ca);
});

test('FAKE_CA can sign with a given CA instead', async () => {
  const ca = await TestCa.create({ trustDomain: 'example.org' });
  const fake = await FakeCaProvider.create({ ca });
  const id = new Identity('example.org', 'ns', 'sa');
  const cert = await fake.fetchCertificate(id);
  assert.ok(
    new X509Certificate(cert.certChain[0] as string).verify(new X509Certificate(ca.rootPem).publicKey),
  );
});
