import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Logging } from '@zt/log';
import { CaClient } from './client.ts';
import { CaUnavailableError, CertForgottenError } from './errors.ts';
import { Identity } from './identity.ts';
import { SecretManager } from './manager.ts';
import { ManualClock, TestCaServer } from './testing/index.ts';
import type { CertificateProvider, WorkloadCertificate } from './types.ts';

const logger = new Logging({ filter: 'off' }).root;
const ID = Identity.parse('spiffe://cluster.local/ns/default/sa/echo');
let server: TestCaServer;
// Certificates are issued at the time of the test's clock, so they expire in that time too.
let clock: ManualClock;

before(async () => {
  server = await TestCaServer.start({ now: () => clock.now() });
});
after(() => server.close());

interface Setup {
  mgr: SecretManager;
  clock: ManualClock;
  client: CaClient;
}

function setup(t: { after(fn: () => void): void }, ttlSeconds = 3600, concurrency?: number): Setup {
  server.setMode('ok');
  server.requests.length = 0;
  clock = new ManualClock();
  const client = new CaClient({ address: server.address, ttlSeconds, logger });
  // random() = 1: the longest delay of each backoff step, so the test knows the exact schedule.
  const mgr = new SecretManager({ provider: client, clock, random: () => 1, logger, concurrency });
  t.after(() => {
    mgr.close();
    client.close();
  });
  return { mgr, clock, client };
}

/** Waits (real time) until `cond` holds. */
async function until(cond: () => boolean, what = 'condition'): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Advances the clock to the next timer and waits for the fetch it starts to settle (a timer is re-armed). */
async function fireNext(clock: ManualClock): Promise<number> {
  const due = clock.pending()[0];
  assert.ok(due !== undefined, 'a timer is pending');
  const delay = due - clock.now();
  await clock.advance(delay);
  await until(() => clock.pending().length > 0, 'the fetch to settle');
  return delay;
}

const serial = (c: WorkloadCertificate) => new X509Certificate(c.certChain[0] as string).serialNumber;

test('issues once, serves from cache, and renews at half of the lifetime', async (t) => {
  const { mgr, clock } = setup(t);
  const first = await mgr.fetchCertificate(ID);
  assert.equal(server.requests.length, 1);
  assert.equal(await mgr.fetchCertificate(ID, 'prefetch'), first);
  assert.equal(mgr.state(ID)?.t, 'available');

  const halfLife = first.notBefore.getTime() + (first.notAfter.getTime() - first.notBefore.getTime()) / 2;
  assert.deepEqual(clock.pending(), [halfLife]);
  await clock.advance(halfLife - clock.now() - 1000);
  assert.equal(server.requests.length, 1, 'no renewal before half-life');

  const rotated = new Promise<WorkloadCertificate>((resolve) => mgr.onRotate(resolve));
  await clock.advance(1000);
  const second = await rotated;
  assert.equal(server.requests.length, 2);
  assert.notEqual(serial(second), serial(first));
  assert.notEqual(second.privateKey, first.privateKey);
  assert.equal(await mgr.fetchCertificate(ID), second);
});

test('CA outage: backoff doubles, the old certificate is served until it expires, then recovery', async (t) => {
  const { mgr, clock } = setup(t, 180);
  const first = await mgr.fetchCertificate(ID);
  const rotations: WorkloadCertificate[] = [];
  mgr.onRotate((c) => rotations.push(c));
  server.setMode('fail');

  // The renewal at half-life fails; retries back off 1 s, 2 s, 4 s, ...
  const delays = [await fireNext(clock)];
  while (clock.now() < first.notAfter.getTime()) {
    assert.equal(mgr.state(ID)?.t, 'available');
    assert.equal(await mgr.fetchCertificate(ID), first, 'the old certificate is kept while valid');
    delays.push(await fireNext(clock));
  }
  // 180 s of lifetime: renewal at +90 s, retries at +91, +93, +97, +105, +121, +153 s, and the
  // next one, which backoff would put at +217 s, at expiry (+180 s) instead.
  assert.deepEqual(delays.slice(1, -1), [1000, 2000, 4000, 8000, 16000, 32000]);
  assert.equal(clock.now(), first.notAfter.getTime(), 'the last retry is at expiry');

  // Expired and the retry failed: unavailable, and requests fail at once without a CSR.
  const state = mgr.state(ID);
  assert.equal(state?.t, 'unavailable');
  const sent = server.requests.length;
  await assert.rejects(mgr.fetchCertificate(ID), CaUnavailableError);
  assert.equal(server.requests.length, sent);
  assert.match(mgr.dump()[0]?.state ?? '', /^Unavailable: certificate request to the CA/);

  // The CA comes back: the next retry succeeds and backoff starts over.
  server.setMode('ok');
  await fireNext(clock);
  const fresh = mgr.state(ID);
  assert.equal(fresh?.t, 'available');
  assert.ok(fresh?.t === 'available' && fresh.cert.notAfter > first.notAfter);
  assert.equal(rotations.length, 1);
  assert.equal(await mgr.fetchCertificate(ID), rotations[0]);
  const renewed = rotations[0] as WorkloadCertificate;
  const halfLife =
    renewed.notBefore.getTime() + (renewed.notAfter.getTime() - renewed.notBefore.getTime()) / 2;
  assert.deepEqual(clock.pending(), [halfLife], 'backoff reset: next refresh at the new half-life');
  server.setMode('fail');
  await fireNext(clock);
  assert.equal(
    (clock.pending()[0] as number) - clock.now(),
    1000,
    'after a success, backoff starts over at 1 s',
  );
});

test('first fetch fails: unavailable with the error, retried with backoff, then available', async (t) => {
  const { mgr, clock } = setup(t);
  server.setMode('fail');
  await assert.rejects(mgr.fetchCertificate(ID), CaUnavailableError);
  assert.equal(mgr.state(ID)?.t, 'unavailable');
  assert.deepEqual(clock.pending(), [clock.now() + 1000]);
  assert.equal(await fireNext(clock), 1000);
  assert.equal(await fireNext(clock), 2000);
  server.setMode('ok');
  await fireNext(clock);
  const cert = await mgr.fetchCertificate(ID);
  assert.ok(cert.identity.equals(ID));
  assert.equal(server.requests.length, 4);
});

test('100 concurrent requests for one identity make one CSR and get the same certificate', async (t) => {
  const { mgr } = setup(t);
  server.setMode({ mode: 'delay', ms: 100 });
  const certs = await Promise.all(
    Array.from({ length: 100 }, (_, i) => mgr.fetchCertificate(ID, i % 2 ? 'prefetch' : 'connection')),
  );
  assert.equal(server.requests.length, 1);
  assert.ok(certs.every((c) => c === certs[0]));
});

test('pods of one service account share one entry; different service accounts get their own', async (t) => {
  const { mgr } = setup(t);
  const a = await mgr.fetchCertificate(Identity.parse('spiffe://cluster.local/ns/default/sa/echo'));
  const b = await mgr.fetchCertificate(new Identity('cluster.local', 'default', 'echo'));
  const c = await mgr.fetchCertificate(new Identity('cluster.local', 'default', 'other'));
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.equal(server.requests.length, 2);
  assert.deepEqual(
    mgr.dump().map((d) => d.identity),
    ['spiffe://cluster.local/ns/default/sa/echo', 'spiffe://cluster.local/ns/default/sa/other'],
  );
});

test('at most 8 fetches at once, and a connection request goes ahead of queued prefetches', async (t) => {
  server.setMode({ mode: 'delay', ms: 60 });
  server.requests.length = 0;
  const client = new CaClient({ address: server.address, logger });
  let inFlight = 0;
  let maxInFlight = 0;
  const started: string[] = [];
  const counting: CertificateProvider = {
    async fetchCertificate(id) {
      started.push(id.serviceAccount);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        return await client.fetchCertificate(id);
      } finally {
        inFlight--;
      }
    },
  };
  clock = new ManualClock();
  const mgr = new SecretManager({ provider: counting, clock, logger });
  t.after(() => {
    mgr.close();
    client.close();
  });
  const prefetches = Array.from({ length: 20 }, (_, i) =>
    mgr.fetchCertificate(new Identity('cluster.local', 'ns', `p${i}`), 'prefetch'),
  );
  const urgent = mgr.fetchCertificate(new Identity('cluster.local', 'ns', 'urgent'), 'connection');
  await Promise.all([...prefetches, urgent]);
  assert.equal(maxInFlight, 8);
  assert.equal(started.length, 21);
  assert.equal(started.indexOf('urgent'), 8, `start order: ${started.join(' ')}`);
});

test('a prefetch waiting in the queue is raised when a connection asks for the same identity', async (t) => {
  const { mgr } = setup(t, 3600, 1);
  server.setMode({ mode: 'delay', ms: 50 });
  const ids = ['a', 'b', 'c'].map((sa) => new Identity('cluster.local', 'ns', sa));
  const done = ids.map((id) => mgr.fetchCertificate(id, 'prefetch'));
  done.push(mgr.fetchCertificate(ids[2] as Identity, 'connection'));
  await Promise.all(done);
  assert.deepEqual(
    server.requests.map((r) => r.identity?.split('/').pop()),
    ['a', 'c', 'b'],
  );
});

test('forget drops the entry, rejects waiters, and ignores the late answer', async (t) => {
  const { mgr, clock } = setup(t);
  server.setMode({ mode: 'delay', ms: 100 });
  const waiting = mgr.fetchCertificate(ID);
  await until(() => server.requests.length === 1, 'the CSR');
  mgr.forget(ID);
  await assert.rejects(waiting, CertForgottenError);
  assert.equal(mgr.state(ID), undefined);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(mgr.state(ID), undefined, 'the late certificate is not stored');
  assert.deepEqual(clock.pending(), [], 'and no refresh is scheduled');
  assert.deepEqual(mgr.dump(), []);

  server.setMode('ok');
  await mgr.fetchCertificate(ID);
  assert.equal(server.requests.length, 2, 'asking again after forget makes a new CSR');
  mgr.forget(ID);
  assert.deepEqual(clock.pending(), [], 'forget cancels the scheduled refresh');
});

test('dump shows state, serial, validity and SANs, never the private key', async (t) => {
  const { mgr } = setup(t);
  server.setMode({ mode: 'delay', ms: 100 });
  const pending = mgr.fetchCertificate(ID);
  assert.deepEqual(mgr.dump(), [
    { identity: ID.toString(), state: 'Initializing', certChain: [], rootCerts: [] },
  ]);
  const cert = await pending;
  const [entry] = mgr.dump();
  assert.ok(entry);
  assert.equal(entry.state, 'Available');
  const leaf = new X509Certificate(cert.certChain[0] as string);
  assert.equal(entry.certChain[0]?.serialNumber.toLowerCase(), leaf.serialNumber.toLowerCase());
  assert.equal(entry.certChain[0]?.expirationTime, cert.notAfter.toISOString());
  assert.equal(entry.certChain[0]?.validFrom, cert.notBefore.toISOString());
  assert.deepEqual(entry.certChain[0]?.subjectAltNames, [`URI:${ID}`]);
  assert.equal(entry.rootCerts.length, 1);
  const json = JSON.stringify(mgr.dump());
  const keyBody = cert.privateKey.split('\n')[1] as string;
  assert.ok(!json.includes('PRIVATE KEY') && !json.includes(keyBody));
});
