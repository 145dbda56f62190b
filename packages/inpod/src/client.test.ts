import assert from 'node:assert/strict';
import { once } from 'node:events';
import { openSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type Logger, Logging } from '@zt/log';
import { captureLog } from '@zt/log/testing';
import { registry } from '@zt/metrics';
import { available, connectSocket, listenServer, unavailableReason } from '@zt/native';
import { ZdsClient, type ZdsClientOptions } from './client.ts';
import { encodeRequest } from './codec.ts';
import type { Pod, RemoveReason } from './pods.ts';
import { type InpodStatus, READINESS_TASK } from './readiness.ts';
import { FakeCniServer, netnsUnsupported } from './testing/index.ts';

const skip = !available ? `addon unavailable: ${unavailableReason}` : (netnsUnsupported() ?? false);

/** A logger that keeps warnings and errors, so tests can see what an operator would. */
function captureLogger(): { logger: Logger; lines(): string[] } {
  const sink = captureLog();
  const logger = new Logging({ filter: 'warn', format: 'json', destination: sink }).scope('inpod');
  return { logger, lines: () => sink.lines().map((l) => String(l['message'])) };
}

async function counterValue(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** Fds of this process that point at `path` (a namespace file). */
function fdsOpenOn(path: string): number {
  const real = realpathSync(path);
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === real) n += 1;
    } catch {}
  }
  return n;
}

function until(client: ZdsClient, t: InpodStatus['t']): Promise<void> {
  if (client.status.t === t) return Promise.resolve();
  return new Promise((resolve) => {
    const on = (s: InpodStatus): void => {
      if (s.t !== t) return;
      client.off('status', on);
      resolve();
    };
    client.on('status', on);
  });
}

describe('ZdsClient against a fake istio-cni node agent', { skip }, () => {
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  function setup(opts: Partial<ZdsClientOptions> = {}): {
    fake: FakeCniServer;
    client: ZdsClient;
    log: ReturnType<typeof captureLogger>;
  } {
    const fake = new FakeCniServer();
    const log = captureLogger();
    const client = new ZdsClient({
      path: fake.path,
      logger: log.logger,
      trustDomain: 'cluster.local',
      ...opts,
    });
    cleanups.push(
      () => fake.close(),
      () => client.close(),
    );
    client.start();
    return { fake, client, log };
  }

  test('hello, snapshot, acks; the pods arrive with identities', async () => {
    const { fake, client } = setup();
    const added: Pod[] = [];
    const ids: string[] = [];
    client.pods.on('podAdded', (p) => added.push(p));
    client.pods.on('identityAdded', (id) => ids.push(id.toString()));
    assert.equal(await fake.accept(), 1, 'ZdsHello V1');
    assert.equal(client.status.t, 'syncing');
    assert.equal(
      (await fake.addPod({ uid: 'u1', name: 'web', namespace: 'shop', serviceAccount: 'web' })).error,
      '',
    );
    assert.equal(
      (await fake.addPod({ uid: 'u2', name: 'db', namespace: 'shop', serviceAccount: 'db' })).error,
      '',
    );
    assert.equal(client.ready, false, 'not ready before SnapshotSent');
    assert.equal(await fake.snapshotSent(), '');
    assert.equal(client.ready, true);
    assert.deepEqual(
      fake.acks.map((a) => `${a.request.t}:${a.error}`),
      ['add:', 'add:', 'snapshotSent:'],
    );
    assert.deepEqual(
      added.map((p) => `${p.uid} ${p.namespace}/${p.name}`),
      ['u1 shop/web', 'u2 shop/db'],
    );
    assert.deepEqual(ids, ['spiffe://cluster.local/ns/shop/sa/web', 'spiffe://cluster.local/ns/shop/sa/db']);
  });

  test('the netns fd that came with add is usable: a listener opened in it answers inside the pod', async () => {
    const { fake, client } = setup();
    await fake.accept();
    const { pod: fakePod } = await fake.addPod({ uid: 'net' });
    await fake.snapshotSent();
    const pod = client.pods.get('net')!;
    const server: Server = createServer((s) => s.pipe(s));
    cleanups.push(() => server.close());
    const { port } = await listenServer(server, { netns: pod.netns, host: '127.0.0.1', port: 0 });
    // Seen from inside the pod by an independent process...
    const ss = await fakePod.netns!.spawn('ss', ['-Htln', `sport = :${port}`]);
    assert.match(ss.stdout, new RegExp(`127\\.0\\.0\\.1:${port}`), `ss in the pod: ${ss.stderr}`);
    // ...and a connection made from inside the pod's namespace gets its bytes echoed.
    const conn = await connectSocket({ netns: fakePod.netnsPath, host: '127.0.0.1', port });
    conn.end('ping');
    let echoed = '';
    conn.setEncoding('utf8').on('data', (d: string) => {
      echoed += d;
    });
    await once(conn, 'close');
    assert.equal(echoed, 'ping');
  });

  test('del removes the pod and closes its netns fd', async () => {
    const { fake, client } = setup();
    await fake.accept();
    const { pod: fakePod } = await fake.addPod({ uid: 'gone', serviceAccount: 'lonely' });
    await fake.snapshotSent();
    const pod = client.pods.get('gone')!;
    assert.equal(fdsOpenOn(fakePod.netnsPath), 1, 'zt holds one fd of the pod netns');
    const removed = once(client.pods, 'podRemoved');
    const forgotten = once(client.pods, 'identityRemoved');
    assert.equal(await fake.del('gone'), '');
    const [p, reason] = (await removed) as [Pod, RemoveReason];
    assert.equal(p, pod);
    assert.equal(reason, 'deleted');
    assert.equal(String((await forgotten)[0]), 'spiffe://cluster.local/ns/default/sa/lonely');
    assert.equal(client.pods.get('gone'), undefined);
    assert.equal(fdsOpenOn(fakePod.netnsPath), 0, 'the fd is closed');
  });

  test('after a reconnect the snapshot keeps re-sent and kept pods (same objects, no events) and removes the rest', async () => {
    const { fake, client } = setup();
    await fake.accept();
    for (const uid of ['a', 'b', 'c']) await fake.addPod({ uid, serviceAccount: uid });
    await fake.snapshotSent();
    const [a, b] = [client.pods.get('a')!, client.pods.get('b')!];
    const events: string[] = [];
    client.pods.on('podAdded', (p) => events.push(`add ${p.uid}`));
    client.pods.on('podRemoved', (p, r) => events.push(`remove ${p.uid} ${r}`));
    client.pods.on('identityRemoved', (id) => events.push(`forget ${id.serviceAccount}`));

    const disconnected = once(client, 'disconnected');
    fake.dropConnection();
    assert.equal((await disconnected)[0], 'eof');
    assert.equal(client.ready, false, 'not ready while disconnected');
    assert.equal(client.pods.size, 3, 'pods survive the disconnection');

    await fake.accept();
    assert.equal(client.connections, 2);
    fake.pods.delete('c'); // gone while zt was away
    const errors = await fake.sendSnapshot({ keep: ['b'] });
    assert.deepEqual(errors, ['', '', ''], 'add a, keep b, snapshot_sent');
    assert.equal(client.ready, true);
    assert.equal(client.pods.get('a'), a);
    assert.equal(client.pods.get('b'), b);
    assert.equal(a.removed, false);
    assert.deepEqual(events, ['remove c snapshot', 'forget c']);
    assert.equal(fdsOpenOn(fake.pods.get('a')!.netnsPath), 1, 'the re-sent duplicate fd was closed');
  });

  test('malformed requests get an error ack, are logged and counted, and the connection stays up', async () => {
    const { fake, client, log } = setup();
    await fake.accept();
    const decodeBefore = await counterValue('workload_manager_request_errors_total', { reason: 'decode' });
    const fdBefore = await counterValue('workload_manager_request_errors_total', { reason: 'fd' });
    const requestErrors: string[] = [];
    client.on('requestError', (e) => requestErrors.push(e.reason));

    const garbage = await fake.sendRaw(Buffer.from([0xff, 0xff, 0xff, 0x0f, 0x01]));
    assert.match(garbage ?? '', /does not decode/);
    const empty = await fake.sendRaw(Buffer.from([0x50, 0x01])); // field 10: none of WorkloadRequest's
    assert.match(empty ?? '', /no payload/);
    fake.createPod({ uid: 'nofd' });
    const noFd = await fake.send({
      t: 'add',
      uid: 'nofd',
      info: { name: 'x', namespace: 'y', serviceAccount: 'z' },
    });
    assert.match(noFd, /0 fds, expected its netns fd/);
    const devNull = openSync('/dev/null', 'r');
    const notNs = await fake.send(
      { t: 'add', uid: 'dev', info: { name: 'x', namespace: 'y', serviceAccount: 'z' } },
      [devNull],
    );
    assert.match(notNs, /not a namespace file/);

    assert.equal(fake.connected, true);
    assert.equal((await fake.addPod({ uid: 'fine' })).error, '', 'the same connection still works');
    assert.equal(await fake.snapshotSent(), '');
    assert.equal(client.connections, 1, 'no reconnect');
    assert.deepEqual(requestErrors, ['decode', 'decode', 'fd', 'fd']);
    assert.equal(
      await counterValue('workload_manager_request_errors_total', { reason: 'decode' }),
      decodeBefore + 2,
    );
    assert.equal(await counterValue('workload_manager_request_errors_total', { reason: 'fd' }), fdBefore + 2);
    assert.ok(
      log.lines().some((l) => /refused a ZDS request: WorkloadRequest does not decode/.test(l)),
      log.lines().join('\n'),
    );
    assert.deepEqual(
      client.pods.pods().map((p) => p.uid),
      ['fine'],
    );
  });

  test('a packet too large to frame: error ack, reconnect, pods kept through the new snapshot', async () => {
    const { fake, client } = setup({ maxMessageBytes: 1024 });
    await fake.accept();
    await fake.addPod({ uid: 'keepme' });
    await fake.snapshotSent();
    const pod = client.pods.get('keepme');
    const truncatedBefore = await counterValue('workload_manager_request_errors_total', {
      reason: 'truncated',
    });
    const oversized = Buffer.concat([encodeRequest({ t: 'del', uid: 'x'.repeat(4000) })]);
    const ack = await fake.sendRaw(oversized);
    assert.match(ack ?? '', /longer than maxBytes/);
    await fake.waitForClose();
    assert.equal(
      await counterValue('workload_manager_request_errors_total', { reason: 'truncated' }),
      truncatedBefore + 1,
    );
    await fake.accept();
    await fake.sendSnapshot();
    assert.equal(client.connections, 2);
    assert.equal(client.pods.get('keepme'), pod);
  });

  test('readiness: pending until the snapshot, ready, pending while disconnected, ready again', async () => {
    // The node agent is not there yet: zt retries with backoff and is not ready.
    const path = join(tmpdir(), `zt-inpod-ready-${process.pid}.sock`);
    const log = captureLogger();
    const client = new ZdsClient({ path, logger: log.logger, initialBackoffMs: 5, maxBackoffMs: 40 });
    const registrations: string[] = [];
    const pending = new Map<string, number>();
    const register = (name: string): (() => void) => {
      registrations.push(`+${name}`);
      pending.set(name, (pending.get(name) ?? 0) + 1);
      return () => {
        registrations.push(`-${name}`);
        pending.set(name, (pending.get(name) ?? 1) - 1);
      };
    };
    const unbind = client.bindReadiness(register);
    const statuses: string[] = [];
    client.on('status', (s) => {
      if (statuses.at(-1) !== s.t) statuses.push(s.t);
    });
    client.start();
    cleanups.push(() => client.close());
    assert.equal(pending.get(READINESS_TASK), 1, 'pending from the start');
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(client.status.t, 'connecting');
    assert.match(
      client.status.t === 'connecting' ? (client.status.lastError ?? '') : '',
      /No such file|refused/,
    );
    assert.ok(log.lines().some((l) => /is the node agent healthy/.test(l)));

    const fake = new FakeCniServer({ path });
    cleanups.push(() => fake.close());
    await fake.accept();
    await fake.addPod({ uid: 'r1' });
    assert.equal(pending.get(READINESS_TASK), 1, 'still pending: no snapshot yet');
    await fake.snapshotSent();
    assert.equal(pending.get(READINESS_TASK), 0, 'ready after the snapshot');
    await client.whenReady();

    fake.dropConnection();
    await until(client, 'connecting');
    assert.equal(pending.get(READINESS_TASK), 1, 'pending while disconnected');
    await fake.accept();
    await fake.sendSnapshot();
    assert.equal(pending.get(READINESS_TASK), 0);
    assert.deepEqual(registrations, [
      `+${READINESS_TASK}`,
      `-${READINESS_TASK}`,
      `+${READINESS_TASK}`,
      `-${READINESS_TASK}`,
    ]);
    assert.deepEqual(statuses, ['connecting', 'syncing', 'ready', 'connecting', 'syncing', 'ready']);
    unbind();
  });

  test('startPod: a failed start is acked as an error, keeps zt not ready, and is retried until it works', async () => {
    let failures = 1;
    const started: string[] = [];
    const { fake, client } = setup({
      startRetryMs: 50,
      startPod: async (pod) => {
        if (pod.uid === 'flaky' && failures-- > 0) throw new Error('address already in use');
        started.push(pod.uid);
      },
    });
    await fake.accept();
    assert.equal((await fake.addPod({ uid: 'ok' })).error, '');
    const { error } = await fake.addPod({ uid: 'flaky' });
    assert.match(error, /failure to start proxy for pod flaky: address already in use/);
    assert.equal(await fake.snapshotSent(), '');
    assert.equal(client.ready, false, 'a pod that failed to start keeps zt not ready');
    assert.deepEqual(client.pendingPods(), ['flaky']);
    assert.equal(await counterValue('workload_manager_pending_proxy_count'), 1, "upstream's pending gauge");
    assert.ok(client.pods.get('flaky'), 'the pod is kept for the retry');
    await until(client, 'ready');
    assert.deepEqual(started, ['ok', 'flaky']);
    assert.deepEqual(client.pendingPods(), []);
    assert.equal(await counterValue('workload_manager_pending_proxy_count'), 0);
  });

  test('startPod: a pending pod that is deleted stops blocking readiness', async () => {
    const { fake, client } = setup({
      startRetryMs: 60_000,
      startPod: async () => {
        throw new Error('no way');
      },
    });
    await fake.accept();
    await fake.addPod({ uid: 'doomed' });
    await fake.snapshotSent();
    assert.equal(client.ready, false);
    assert.equal(await counterValue('workload_manager_pending_proxy_count'), 1);
    assert.equal(await fake.del('doomed'), '');
    assert.equal(client.ready, true);
    assert.deepEqual(client.pendingPods(), []);
    assert.equal(await counterValue('workload_manager_pending_proxy_count'), 0);
  });

  test('close removes every pod (shutdown) and closes their fds; whenReady rejects on a closed client', async () => {
    const { fake, client } = setup();
    await fake.accept();
    const { pod: fp } = await fake.addPod({ uid: 's1' });
    await fake.snapshotSent();
    const reasons: string[] = [];
    client.pods.on('podRemoved', (p, r) => reasons.push(`${p.uid} ${r}`));
    await client.close();
    assert.deepEqual(reasons, ['s1 shutdown']);
    assert.equal(fdsOpenOn(fp.netnsPath), 0);
    assert.equal(client.status.t, 'closed');
    const idle = new ZdsClient({ path: fake.path, logger: captureLogger().logger });
    const waiting = idle.whenReady();
    await idle.close();
    await assert.rejects(waiting, /closed before the node agent sent its snapshot/);
  });
});
