import assert from 'node:assert/strict';
import { fstatSync, openSync, statSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Identity } from '@zt/identity';
import { Logging } from '@zt/log';
import { available, unavailableReason } from '@zt/native';
import { netnsUnsupported, TestNetns } from '@zt/native/testing';
import type { WorkloadInfo } from './codec.ts';
import { PodGoneError, ZdsRequestError } from './errors.ts';
import { type Pod, PodManager, type RemoveReason } from './pods.ts';

const skip = !available ? `addon unavailable: ${unavailableReason}` : (netnsUnsupported() ?? false);

const quiet = new Logging({ filter: 'off' }).scope('inpod');

const info = (name: string, serviceAccount = 'default', namespace = 'default'): WorkloadInfo => ({
  name,
  namespace,
  serviceAccount,
});

/** True when `fd` no longer refers to the namespace `id` (closed, or its number reused elsewhere). */
function closedOrOther(fd: number, id: string): boolean {
  try {
    const st = fstatSync(fd, { bigint: true });
    return `${st.dev}:${st.ino}` !== id;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EBADF';
  }
}

function record(pods: PodManager) {
  const events: string[] = [];
  const removed: Array<[Pod, RemoveReason]> = [];
  pods.on('podAdded', (p) => events.push(`add ${p.uid}`));
  pods.on('podRemoved', (p, r) => {
    events.push(`remove ${p.uid} ${r}`);
    removed.push([p, r]);
  });
  pods.on('identityAdded', (id: Identity) => events.push(`+id ${id}`));
  pods.on('identityRemoved', (id: Identity) => events.push(`-id ${id}`));
  return { events, removed };
}

describe('PodManager', { skip }, () => {
  const ns: TestNetns[] = [];
  before(() => {
    for (let i = 0; i < 3; i++) ns.push(new TestNetns(`pods${i}`));
  });
  after(() => {
    for (const n of ns) n.destroy();
  });
  const fdOf = (i: number): number => openSync(ns[i]!.path, 'r');

  test('add emits the identity once per service account and the pod; del removes it and closes the fd', () => {
    const pods = new PodManager({ trustDomain: 'td.example', logger: quiet });
    const { events } = record(pods);
    pods.resetSnapshot();
    pods.apply({ t: 'add', uid: 'a', info: info('a', 'sa1', 'ns1') }, [fdOf(0)]);
    pods.apply({ t: 'add', uid: 'b', info: info('b', 'sa1', 'ns1') }, [fdOf(1)]);
    pods.apply({ t: 'snapshotSent' }, []);
    const a = pods.get('a')!;
    assert.equal(a.identity.toString(), 'spiffe://td.example/ns/ns1/sa/sa1');
    assert.equal(a.name, 'a');
    const st = statSync(ns[0]!.path, { bigint: true });
    assert.equal(a.netnsId, `${st.dev}:${st.ino}`, 'the netns id is the namespace inode');
    assert.deepEqual(events, ['+id spiffe://td.example/ns/ns1/sa/sa1', 'add a', 'add b']);
    const fd = a.netns;
    pods.apply({ t: 'del', uid: 'a' }, []);
    assert.ok(closedOrOther(fd, a.netnsId), 'the netns fd is closed');
    assert.equal(a.removed, true);
    assert.throws(() => a.netns, PodGoneError);
    pods.apply({ t: 'del', uid: 'b' }, []);
    pods.apply({ t: 'del', uid: 'b' }, []); // idempotent
    assert.deepEqual(events.slice(3), [
      'remove a deleted',
      'remove b deleted',
      '-id spiffe://td.example/ns/ns1/sa/sa1',
    ]);
    assert.equal(pods.size, 0);
    assert.deepEqual(pods.identities(), []);
  });

  test('re-adding a pod with the same netns keeps the object; a new netns replaces it', () => {
    const pods = new PodManager({ logger: quiet });
    const { events } = record(pods);
    pods.apply({ t: 'add', uid: 'p', info: info('p') }, [fdOf(0)]);
    const first = pods.get('p')!;
    const dup = fdOf(0);
    pods.apply({ t: 'add', uid: 'p', info: info('p') }, [dup]);
    assert.equal(pods.get('p'), first, 'same object');
    assert.ok(closedOrOther(dup, first.netnsId), 'the duplicate fd is closed');
    assert.doesNotThrow(() => fstatSync(first.netns), 'the kept fd stays open');
    pods.apply({ t: 'add', uid: 'p', info: info('p') }, [fdOf(1)]);
    const second = pods.get('p')!;
    assert.notEqual(second, first);
    assert.equal(first.removed, true);
    assert.deepEqual(events, [
      '+id spiffe://cluster.local/ns/default/sa/default',
      'add p',
      'remove p replaced',
      'add p',
    ]);
    pods.removeAll();
  });

  test('snapshot reconciliation: re-sent and kept pods stay, the rest go, a del before the snapshot goes too', () => {
    const pods = new PodManager({ logger: quiet });
    pods.apply({ t: 'add', uid: 'a', info: info('a', 'sa-a') }, [fdOf(0)]);
    pods.apply({ t: 'add', uid: 'b', info: info('b', 'sa-b') }, [fdOf(1)]);
    pods.apply({ t: 'add', uid: 'c', info: info('c', 'sa-c') }, [fdOf(2)]);
    pods.apply({ t: 'snapshotSent' }, []);
    const [a, b, c] = ['a', 'b', 'c'].map((u) => pods.get(u)!);
    const { events } = record(pods);
    // A new connection: a is re-sent, b kept, c not mentioned; d arrives and is deleted before the end.
    pods.resetSnapshot();
    assert.equal(pods.snapshotReceived, false);
    pods.apply({ t: 'add', uid: 'a', info: info('a', 'sa-a') }, [fdOf(0)]);
    const keepFd = fdOf(1); // upstream sends keep bare; a node agent that attaches the netns is tolerated
    pods.apply({ t: 'keep', uid: 'b' }, [keepFd]);
    assert.ok(closedOrOther(keepFd, b!.netnsId), 'the fd sent with keep is closed');
    pods.apply({ t: 'add', uid: 'd', info: info('d', 'sa-a') }, [fdOf(2)]);
    pods.apply({ t: 'del', uid: 'd' }, []);
    assert.equal(pods.size, 4, 'nothing is removed before SnapshotSent');
    pods.apply({ t: 'snapshotSent' }, []);
    assert.equal(pods.get('a'), a);
    assert.equal(pods.get('b'), b);
    assert.equal(pods.get('c'), undefined);
    assert.equal(c!.removed, true);
    assert.deepEqual(events, [
      'add d',
      'remove c snapshot',
      '-id spiffe://cluster.local/ns/default/sa/sa-c',
      'remove d snapshot',
    ]);
    assert.deepEqual(
      pods.identities().map((i) => `${i.identity} ${i.pods}`),
      ['spiffe://cluster.local/ns/default/sa/sa-a 1', 'spiffe://cluster.local/ns/default/sa/sa-b 1'],
    );
    pods.removeAll();
  });

  test('bad requests are refused with a reason, their fds closed, the state unchanged', () => {
    const pods = new PodManager({ logger: quiet });
    const rejects = (fn: () => void, reason: string, message: RegExp): void =>
      assert.throws(
        fn,
        (e: unknown) => e instanceof ZdsRequestError && e.reason === reason && message.test(e.message),
      );
    rejects(() => pods.apply({ t: 'add', uid: 'x', info: info('x') }, []), 'fd', /0 fds/);
    const two = [fdOf(0), fdOf(1)];
    rejects(() => pods.apply({ t: 'add', uid: 'x', info: info('x') }, two), 'fd', /2 fds/);
    for (const fd of two) assert.ok(closedOrOther(fd, 'none'));
    const devNull = openSync('/dev/null', 'r');
    rejects(() => pods.apply({ t: 'add', uid: 'x', info: info('x') }, [devNull]), 'fd', /not a namespace/);
    rejects(
      () => pods.apply({ t: 'add', uid: 'x', info: undefined }, [fdOf(0)]),
      'protocol',
      /workload_info/,
    );
    rejects(() => pods.apply({ t: 'add', uid: '', info: info('x') }, [fdOf(0)]), 'protocol', /without a uid/);
    rejects(
      () => pods.apply({ t: 'add', uid: 'x', info: info('x', 'sa', 'a/b') }, [fdOf(0)]),
      'identity',
      /namespace/,
    );
    rejects(() => pods.apply({ t: 'del', uid: 'x' }, [fdOf(0)]), 'fd', /unexpected file descriptor/);
    pods.apply({ t: 'snapshotSent' }, []);
    rejects(() => pods.apply({ t: 'snapshotSent' }, []), 'protocol', /second SnapshotSent/);
    rejects(() => pods.apply({ t: 'keep', uid: 'x' }, []), 'protocol', /after the snapshot/);
    assert.equal(pods.size, 0);
  });

  test("a pod without a service account has upstream's default one, as its workload has", () => {
    const pods = new PodManager({ trustDomain: 'td.example', logger: quiet });
    pods.apply({ t: 'add', uid: 'n', info: info('n', '', 'ns1') }, [fdOf(2)]);
    assert.equal(pods.get('n')?.identity.toString(), 'spiffe://td.example/ns/ns1/sa/default');
    pods.removeAll('shutdown');
  });

  test('a throwing listener does not leave the state half-applied', () => {
    const pods = new PodManager({ logger: quiet });
    pods.on('podAdded', () => {
      throw new Error('app bug');
    });
    pods.apply({ t: 'add', uid: 'p', info: info('p') }, [fdOf(0)]);
    assert.equal(pods.size, 1);
    assert.equal(pods.identities().length, 1);
    pods.removeAll();
    assert.equal(pods.identities().length, 0);
  });
});
