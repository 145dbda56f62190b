import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { InvalidIdentityError } from './errors.ts';
import { Identity } from './identity.ts';

test('parses and formats the Istio SPIFFE form', () => {
  const id = Identity.parse('spiffe://cluster.local/ns/default/sa/echo');
  assert.equal(id.trustDomain, 'cluster.local');
  assert.equal(id.namespace, 'default');
  assert.equal(id.serviceAccount, 'echo');
  assert.equal(id.toString(), 'spiffe://cluster.local/ns/default/sa/echo');
  assert.equal(JSON.stringify({ id }), '{"id":"spiffe://cluster.local/ns/default/sa/echo"}');
  assert.ok(id.equals(new Identity('cluster.local', 'default', 'echo')));
});

test('rejects everything else with an InvalidIdentityError that names the expected form', () => {
  for (const bad of [
    '',
    'cluster.local/ns/default/sa/echo',
    'http://cluster.local/ns/default/sa/echo',
    'spiffe://',
    'spiffe:///ns/default/sa/echo',
    'spiffe://cluster.local',
    'spiffe://cluster.local/ns/default',
    'spiffe://cluster.local/ns/default/sa',
    'spiffe://cluster.local/ns/default/sa/',
    'spiffe://cluster.local/ns//sa/echo',
    'spiffe://cluster.local/sa/echo/ns/default',
    'spiffe://cluster.local/ns/default/sa/echo/extra',
    'spiffe://cluster local/ns/default/sa/echo',
  ]) {
    assert.throws(
      () => Identity.parse(bad),
      (err: unknown) =>
        err instanceof InvalidIdentityError &&
        err.code === 'ERR_ZT_IDENTITY_INVALID' &&
        err.message.includes('spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>'),
      bad,
    );
    assert.equal(Identity.tryParse(bad), undefined);
  }
  assert.throws(() => new Identity('cluster.local', 'a/b', 'sa'), InvalidIdentityError);
});

const segment = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/);

test('property: parse(format(x)) gives back x, and format(parse(s)) gives back s', () => {
  fc.assert(
    fc.property(segment, segment, segment, (td, ns, sa) => {
      const id = new Identity(td, ns, sa);
      const back = Identity.parse(id.toString());
      assert.deepEqual([back.trustDomain, back.namespace, back.serviceAccount], [td, ns, sa]);
      assert.equal(back.toString(), `spiffe://${td}/ns/${ns}/sa/${sa}`);
      assert.ok(back.equals(id));
    }),
  );
});

test('property: strings that are not exactly the form never parse', () => {
  fc.assert(
    fc.property(fc.string(), (s) => {
      const ok = /^spiffe:\/\/[a-zA-Z0-9._-]+\/ns\/[^/]+\/sa\/[^/]+$/.test(s);
      assert.equal(Identity.tryParse(s) !== undefined, ok, s);
    }),
  );
  fc.assert(
    fc.property(segment, segment, segment, fc.constantFrom('/', '/x', '//'), (td, ns, sa, tail) => {
      assert.equal(Identity.tryParse(`spiffe://${td}/ns/${ns}/sa/${sa}${tail}`), undefined);
    }),
  );
});
