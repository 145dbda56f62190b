import assert from 'node:assert/strict';
import { test } from 'node:test';
import { certInfo, splitPem, toWorkloadCertificate } from './certificate.ts';
import { Identity } from './identity.ts';
import { TestCa } from './testing/index.ts';

const ID = Identity.parse('spiffe://cluster.local/ns/default/sa/echo');

test('a chain leaf..root becomes certChain leaf+intermediates and roots last+configured, deduplicated', async () => {
  const ca = await TestCa.create();
  const other = await TestCa.create({ name: 'other' });
  const leaf = (await ca.issue(ID)).certChain[0] as string;
  const inter = (await ca.issue(new Identity('cluster.local', 'x', 'intermediate-stand-in')))
    .certChain[0] as string;
  const cert = toWorkloadCertificate(ID, [leaf, inter, ca.rootPem], 'KEY', [
    `${other.rootPem}\n${ca.rootPem}`,
  ]);
  assert.deepEqual(cert.certChain, [leaf, inter]);
  assert.deepEqual(cert.roots, [ca.rootPem, other.rootPem]);
  assert.equal(cert.privateKey, 'KEY');

  const leafOnly = toWorkloadCertificate(ID, [leaf], 'KEY');
  assert.deepEqual(leafOnly.certChain, [leaf]);
  assert.deepEqual(leafOnly.roots, []);

  assert.deepEqual(splitPem(`junk\n${leaf}\n\n${inter}trailing`), [leaf, inter]);
  assert.deepEqual(splitPem('no pem here'), []);
});

test('certInfo shows serial, validity and SANs', async () => {
  const ca = await TestCa.create();
  const cert = await ca.issue(ID, { dnsNames: ['echo.default.svc'], ips: ['10.0.0.1'] });
  const info = certInfo(cert.certChain[0] as string);
  assert.match(info.serialNumber, /^[0-9a-f]+$/i);
  assert.equal(info.expirationTime, cert.notAfter.toISOString());
  assert.deepEqual(info.subjectAltNames, [`URI:${ID}`, 'DNS:echo.default.svc', 'IP:10.0.0.1']);
});
