import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { Logging } from '@zt/log';
import { registry } from '@zt/metrics';
import { CaClient, type CaClientOptions } from './client.ts';
import { CaConfigError, CaUnavailableError, IdentityMismatchError, TokenError } from './errors.ts';
import { Identity } from './identity.ts';
import { TestCa, TestCaServer } from './testing/index.ts';

const ID = Identity.parse('spiffe://cluster.local/ns/default/sa/echo');
const logger = new Logging({ filter: 'off' }).root;
let dir: string;
let tokenPath: string;
let plain: TestCaServer;
let tls: TestCaServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zt-ca-'));
  tokenPath = join(dir, 'istio-token');
  await writeFile(tokenPath, 'token-one\n');
  plain = await TestCaServer.start();
  tls = await TestCaServer.start({ tls: true, ca: plain.ca });
});
after(async () => {
  await plain.close();
  await tls.close();
  await rm(dir, { recursive: true, force: true });
});

function client(t: { after(fn: () => void): void }, opts: Partial<CaClientOptions> = {}): CaClient {
  const c = new CaClient({ address: plain.address, tokenPath, clusterId: 'Kubernetes', logger, ...opts });
  t.after(() => c.close());
  return c;
}

test('without a token file no clusterid is sent (as upstream: it travels with the token)', async (t) => {
  plain.requests.length = 0;
  const c = new CaClient({ address: plain.address, clusterId: 'Kubernetes', logger });
  t.after(() => c.close());
  await c.fetchCertificate(ID);
  assert.equal(plain.requests[0]?.headers.authorization, undefined);
  assert.equal(plain.requests[0]?.headers.clusterid, undefined);
});

test('over plaintext: headers, ttl and impersonation reach the CA; the certificate is normalized', async (t) => {
  plain.requests.length = 0;
  const c = client(t, { headers: { 'X-Tenant': 'blue', 'x-zone': 'a' }, ttlSeconds: 3600 });
  const cert = await c.fetchCertificate(ID);

  assert.equal(plain.requests.length, 1);
  const req = plain.requests[0];
  assert.ok(req);
  assert.equal(req.headers.authorization, 'Bearer token-one');
  assert.equal(req.headers.clusterid, 'Kubernetes');
  assert.equal(req.headers['x-tenant'], 'blue');
  assert.equal(req.headers['x-zone'], 'a');
  assert.equal(req.ttlSeconds, 3600);
  assert.equal(req.identity, ID.toString());
  assert.equal(req.impersonatedIdentity, ID.toString());

  assert.ok(cert.identity.equals(ID));
  assert.equal(cert.certChain.length, 1, 'leaf only: the root goes to roots');
  assert.deepEqual(cert.roots, [plain.rootPem]);
  const leaf = new X509Certificate(cert.certChain[0] as string);
  assert.equal(leaf.subjectAltName, `URI:${ID}`);
  assert.ok(leaf.checkPrivateKey(createPrivateKey(cert.privateKey)));
  assert.ok(leaf.verify(new X509Certificate(plain.rootPem).publicKey));
  const lifetime = cert.notAfter.getTime() - Date.now();
  assert.ok(lifetime > 3500_000 && lifetime <= 3600_000, `lifetime ${lifetime} ms`);
});

test('impersonation can be turned off, and configured trust roots join the returned root', async (t) => {
  plain.requests.length = 0;
  const other = await TestCa.create({ name: 'other root' });
  const c = client(t, { impersonate: false, trustRoots: [other.rootPem, plain.rootPem] });
  const cert = await c.fetchCertificate(ID);
  assert.equal(plain.requests[0]?.impersonatedIdentity, undefined);
  assert.deepEqual(cert.roots, [plain.rootPem, other.rootPem]);
});

test('over TLS, verified with the configured root; an unrelated root is refused', async (t) => {
  const ok = client(t, { address: tls.address, rootCert: tls.rootPem });
  const cert = await ok.fetchCertificate(ID);
  assert.ok(cert.identity.equals(ID));

  const stranger = await TestCa.create({ name: 'stranger' });
  const bad = client(t, { address: tls.address, rootCert: stranger.rootPem, timeoutMs: 3000 });
  await assert.rejects(
    bad.fetchCertificate(ID),
    (err: unknown) => err instanceof CaUnavailableError && err.code === 'ERR_ZT_CA_UNAVAILABLE',
  );
});

test('the token file is read again on every request, so a rotated token is sent', async (t) => {
  plain.requests.length = 0;
  const c = client(t);
  await c.fetchCertificate(ID);
  await writeFile(tokenPath, 'token-two');
  await c.fetchCertificate(ID);
  assert.deepEqual(
    plain.requests.map((r) => r.headers.authorization),
    ['Bearer token-one', 'Bearer token-two'],
  );
  await writeFile(tokenPath, 'token-one\n');
});

test('a token given itself (AUTH_TOKEN naming no file, as upstream allows) is sent with the cluster id', async (t) => {
  plain.requests.length = 0;
  const c = new CaClient({ address: plain.address, token: 'inline-token', clusterId: 'Kubernetes', logger });
  t.after(() => c.close());
  await c.fetchCertificate(ID);
  assert.equal(plain.requests[0]?.headers.authorization, 'Bearer inline-token');
  assert.equal(plain.requests[0]?.headers.clusterid, 'Kubernetes');
});

test('a missing or empty token file fails with TokenError and sends nothing', async (t) => {
  plain.requests.length = 0;
  await assert.rejects(client(t, { tokenPath: join(dir, 'nope') }).fetchCertificate(ID), (err: unknown) => {
    return err instanceof TokenError && err.code === 'ERR_ZT_CA_TOKEN' && /ENOENT/.test(err.message);
  });
  const empty = join(dir, 'empty');
  await writeFile(empty, '\n');
  await assert.rejects(client(t, { tokenPath: empty }).fetchCertificate(ID), TokenError);
  assert.equal(plain.requests.length, 0);
});

async function failures(code: string): Promise<number> {
  const metric = await registry.getSingleMetric('zt_identity_csr_failures_total')?.get();
  return metric?.values.find((v) => v.labels.code === code)?.value ?? 0;
}

test('a certificate for another identity is rejected with IdentityMismatchError, and counted', async (t) => {
  const before = await failures('ERR_ZT_CA_IDENTITY_MISMATCH');
  plain.setMode('wrong-identity');
  t.after(() => plain.setMode('ok'));
  await assert.rejects(client(t).fetchCertificate(ID), (err: unknown) => {
    return (
      err instanceof IdentityMismatchError &&
      err.code === 'ERR_ZT_CA_IDENTITY_MISMATCH' &&
      err.expected === ID.toString() &&
      err.got[0] === 'spiffe://cluster.local/ns/wrong/sa/wrong'
    );
  });
  assert.equal(await failures('ERR_ZT_CA_IDENTITY_MISMATCH'), before + 1);
});

test('a CA answering garbage (a PEM block that is no certificate, or no PEM) is rejected and counted', async (t) => {
  t.after(() => plain.setMode('ok'));
  for (const [mode, code] of [
    [{ mode: 'garbage' }, 'ERR_ZT_CA_BAD_CERTIFICATE'],
    [{ mode: 'garbage', chain: ['hello, I am a certificate'] }, 'ERR_ZT_CA_EMPTY_RESPONSE'],
  ] as const) {
    const before = await failures(code);
    plain.setMode(mode);
    await assert.rejects(client(t).fetchCertificate(ID), { code });
    assert.equal(await failures(code), before + 1, code);
  }
});

test('CA errors and deadlines surface as CaUnavailableError with the gRPC status', async (t) => {
  plain.setMode({ mode: 'fail', code: status.PERMISSION_DENIED, message: 'no impersonation for you' });
  t.after(() => plain.setMode('ok'));
  await assert.rejects(client(t).fetchCertificate(ID), (err: unknown) => {
    return (
      err instanceof CaUnavailableError &&
      err.grpcCode === status.PERMISSION_DENIED &&
      /no impersonation for you/.test(err.message) &&
      err.message.includes(plain.address)
    );
  });
  plain.setMode({ mode: 'delay', ms: 1000 });
  await assert.rejects(client(t, { timeoutMs: 200 }).fetchCertificate(ID), {
    grpcCode: status.DEADLINE_EXCEEDED,
  });
});

test('bad options fail at construction with CaConfigError', () => {
  assert.throws(() => new CaClient({ address: 'istiod:15012' }), CaConfigError);
  assert.throws(() => new CaClient({ address: 'not a url' }), CaConfigError);
  assert.throws(() => new CaClient({ address: 'https://x:1', rootCert: 'garbage' }), CaConfigError);
  assert.throws(() => new CaClient({ address: 'http://x:1', headers: { 'bad header': 'v' } }), CaConfigError);
  assert.throws(() => new CaClient({ address: 'http://x:1', ttlSeconds: 0 }), CaConfigError);
});
