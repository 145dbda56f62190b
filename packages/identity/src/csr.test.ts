import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { generateCsr } from './csr.ts';
import { Identity } from './identity.ts';
import { TestCa } from './testing/index.ts';

const run = promisify(execFile);
const ID = Identity.parse('spiffe://cluster.local/ns/default/sa/echo');

test('openssl verifies the CSR: ECDSA P-256, SHA-256, only a critical URI SAN, empty subject', async (t) => {
  const { csrPem, privateKeyPem } = await generateCsr(ID);
  const dir = await mkdtemp(join(tmpdir(), 'zt-csr-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'req.pem');
  await writeFile(file, csrPem);
  const { stdout, stderr } = await run('openssl', ['req', '-in', file, '-verify', '-noout', '-text']);
  assert.match(`${stdout}${stderr}`, /verify OK/i);
  assert.match(stdout, /Signature Algorithm: ecdsa-with-SHA256/);
  assert.match(stdout, /ASN1 OID: prime256v1/);
  assert.match(
    stdout,
    /X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/echo\s/,
  );
  assert.doesNotMatch(stdout, /DNS:|IP Address:|email:/);
  assert.match(stdout, /Subject:\s*\n/);

  assert.match(privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  const key = createPrivateKey(privateKeyPem);
  assert.equal(key.asymmetricKeyType, 'ec');
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
});

test('a CA signs the CSR for its key and SAN; every CSR has a fresh key', async () => {
  const ca = await TestCa.create();
  const a = await generateCsr(ID);
  const b = await generateCsr(ID);
  assert.notEqual(a.privateKeyPem, b.privateKeyPem);
  const leaf = new X509Certificate(await ca.signCsr(a.csrPem));
  assert.equal(leaf.subjectAltName, `URI:${ID}`);
  assert.ok(leaf.checkPrivateKey(createPrivateKey(a.privateKeyPem)));
  assert.ok(leaf.verify(new X509Certificate(ca.rootPem).publicKey));
  // A CSR whose signature does not match its content is refused.
  const der = Buffer.from(a.csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 1] = (der[der.length - 1] as number) ^ 0xff;
  const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  await assert.rejects(ca.signCsr(tampered), { code: 'ERR_ZT_IDENTITY_CSR' });
  await assert.rejects(ca.signCsr('not a csr'), { code: 'ERR_ZT_IDENTITY_CSR' });
});
