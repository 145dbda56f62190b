import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Logging } from '@zt/log';
import { CaClient } from './client.ts';
import { CsrWorkerPool } from './csr-pool.ts';
import { Identity } from './identity.ts';
import { TestCaServer } from './testing/index.ts';
import { x509 } from './x509.ts';

test('CSRs made in a worker thread are signed and accepted', async (t) => {
  const pool = new CsrWorkerPool({ threads: 1 });
  const server = await TestCaServer.start();
  const client = new CaClient({
    address: server.address,
    csrGenerator: pool.generate,
    logger: new Logging({ filter: 'off' }).root,
  });
  t.after(async () => {
    client.close();
    await server.close();
    await pool.close();
  });
  const id = Identity.parse('spiffe://cluster.local/ns/default/sa/echo');
  const csr = await pool.generate(id);
  assert.ok(await new x509.Pkcs10CertificateRequest(csr.csrPem).verify());
  assert.ok(csr.publicKeySpki instanceof Uint8Array);
  const certs = await Promise.all([client.fetchCertificate(id), client.fetchCertificate(id)]);
  assert.equal(server.requests.length, 2);
  for (const cert of certs) assert.ok(cert.identity.equals(id));
});
