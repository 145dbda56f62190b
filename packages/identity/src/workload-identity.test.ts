import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Identity } from './identity.ts';
import { DEFAULT_SERVICE_ACCOUNT, DEFAULT_TRUST_DOMAIN, workloadIdentity } from './workload-identity.ts';

test("a workload's identity is spiffe://<trust domain>/ns/<namespace>/sa/<service account>", () => {
  assert.equal(
    workloadIdentity({ trustDomain: 'td.example', namespace: 'shop', serviceAccount: 'web' }),
    'spiffe://td.example/ns/shop/sa/web',
  );
  // The caller's trust domain does not override the workload's own.
  assert.equal(
    workloadIdentity({ trustDomain: 'td.example', namespace: 'shop', serviceAccount: 'web' }, 'other'),
    'spiffe://td.example/ns/shop/sa/web',
  );
});

test("upstream's defaults: no service account is default; no trust domain is the caller's, else cluster.local", () => {
  assert.equal(DEFAULT_SERVICE_ACCOUNT, 'default');
  assert.equal(DEFAULT_TRUST_DOMAIN, 'cluster.local');
  assert.equal(workloadIdentity({ namespace: 'shop' }), 'spiffe://cluster.local/ns/shop/sa/default');
  assert.equal(
    workloadIdentity({ trustDomain: '', namespace: 'shop', serviceAccount: '' }, 'mesh.example'),
    'spiffe://mesh.example/ns/shop/sa/default',
  );
});

test('the text parses back into the same Identity', () => {
  const uri = workloadIdentity({ namespace: 'ns1', serviceAccount: 'sa1' }, 'td');
  const id = Identity.parse(uri);
  assert.deepEqual([id.trustDomain, id.namespace, id.serviceAccount], ['td', 'ns1', 'sa1']);
  assert.equal(String(id), uri);
  // A namespace that cannot be a path segment gives text Identity.parse refuses.
  assert.throws(() => Identity.parse(workloadIdentity({ namespace: '' })), {
    code: 'ERR_ZT_IDENTITY_INVALID',
  });
});
