import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyMatch, makePolicy } from '@zt/xds/testing';
import type { ConnectionInfo } from './connections.ts';
import { type ClosedConnectionInfo, type RecentDumpInfo, summarize, trafficView } from './traffic.ts';
import { describePolicyRule, describeRule } from './traffic-rules.ts';

const SLEEP = 'spiffe://cluster.local/ns/frontend/sa/sleep';
const INTRUDER = 'spiffe://cluster.local/ns/untrusted/sa/intruder';
const ECHO = 'spiffe://cluster.local/ns/backend/sa/echo';

let n = 0;
function closed(over: Partial<ClosedConnectionInfo> & { endedAt: number }): ClosedConnectionInfo {
  return {
    id: `c${++n}`,
    direction: 'inbound',
    protocol: 'HBONE',
    src: { address: '10.0.0.1', port: 4000 + n, identity: SLEEP, workload: 'frontend/sleep' },
    dst: { address: '10.0.1.1', port: 8080, identity: ECHO, workload: 'backend/echo' },
    startedAt: over.endedAt - 10,
    bytesSent: 1,
    bytesReceived: 2,
    verdict: 'allow',
    responseFlag: '-',
    ...over,
  };
}

const now = 1_000_000_000;

test('threads are merged newest first and cut to the ring size; denials keep their own ring', () => {
  const denial = closed({
    endedAt: now - 50,
    verdict: 'deny',
    responseFlag: 'DENY',
    policy: 'backend/deny-untrusted',
    rule: 0,
    src: { address: '10.0.0.2', port: 1, identity: INTRUDER, workload: 'untrusted/intruder' },
  });
  const w0: RecentDumpInfo = {
    closed: [closed({ endedAt: now - 10 }), closed({ endedAt: now - 30 })],
    denials: [denial],
    capacity: 2,
  };
  const w1: RecentDumpInfo = {
    closed: [closed({ endedAt: now - 20 }), closed({ endedAt: now - 40 })],
    denials: [],
    capacity: 2,
  };
  const describe = (policy: string, rule: number) =>
    policy === 'backend/deny-untrusted' && rule === 0 ? 'namespaces=untrusted' : undefined;
  const view = trafficView([], [w0, w1], {}, now, describe);
  assert.deepEqual(
    view.recent.map((c) => c.endedAt),
    [now - 10, now - 20],
  );
  assert.equal(view.capacity, 2);
  assert.equal(view.denials.length, 1);
  assert.equal(view.denials[0]?.why, 'policy backend/deny-untrusted, rule 0: namespaces=untrusted');
  // The denial left the closed ring of its thread but still counts in the summary.
  const intruderPair = view.pairs.find((p) => p.source === INTRUDER);
  assert.deepEqual(
    intruderPair && [intruderPair.connections, intruderPair.denials, intruderPair.destination],
    [1, 1, ECHO],
  );
  const sleepPair = view.pairs.find((p) => p.source === SLEEP);
  assert.equal(sleepPair?.connections, 4);
  assert.equal(sleepPair?.bytes, 12);
});

test('a denial says why: the rule in words, the default deny, or the re-check message', () => {
  const view = trafficView(
    [],
    [
      {
        closed: [],
        denials: [
          closed({ endedAt: now - 1, verdict: 'deny', responseFlag: 'DENY', policy: 'a/gone', rule: 3 }),
          closed({
            endedAt: now - 2,
            verdict: 'deny',
            responseFlag: 'DENY',
            error: 'denied by default deny (no ALLOW policy matched)',
          }),
          closed({
            endedAt: now - 3,
            verdict: 'deny',
            responseFlag: 'DENY',
            error: 'connection closed: no longer allowed (workload removed) after a policy change',
          }),
        ],
        capacity: 10,
      },
    ],
    {},
    now,
    () => undefined,
  );
  assert.deepEqual(
    view.denials.map((d) => d.why),
    [
      'policy a/gone, rule 3 (no longer in the policy)',
      'default deny: ALLOW policies apply and none matched',
      'connection closed: no longer allowed (workload removed) after a policy change',
    ],
  );
});

test('filters by namespace (of either end, from workload or identity) and by identity substring', () => {
  const live: ConnectionInfo[] = [
    {
      id: 'l1',
      direction: 'outbound',
      protocol: 'TCP',
      src: { address: '10.0.0.9', port: 1, workload: 'shop/cart' },
      dst: { address: '1.2.3.4', port: 443 },
      startedAt: now - 5,
      bytesSent: 0,
      bytesReceived: 0,
      verdict: 'none',
    },
  ];
  const dump: RecentDumpInfo = {
    closed: [
      closed({ endedAt: now - 1 }),
      closed({ endedAt: now - 2, src: { address: '10.0.0.2', port: 1, identity: INTRUDER } }),
    ],
    denials: [],
    capacity: 10,
  };
  const byNs = trafficView(live, [dump], { namespace: 'untrusted' }, now);
  assert.equal(byNs.recent.length, 1);
  assert.equal(byNs.recent[0]?.src.identity, INTRUDER);
  assert.equal(byNs.connections.length, 0);
  assert.equal(trafficView(live, [dump], { namespace: 'backend' }, now).recent.length, 2);
  assert.equal(trafficView(live, [dump], { namespace: 'shop' }, now).connections.length, 1);
  const byId = trafficView(live, [dump], { identity: 'sa/sleep' }, now);
  assert.deepEqual(
    byId.recent.map((c) => c.src.identity),
    [SLEEP],
  );
  assert.deepEqual(byId.filter, { identity: 'sa/sleep' });
});

test('the pair summary covers the window only and takes the 99th percentile of durations', () => {
  const list: ClosedConnectionInfo[] = [];
  for (let i = 1; i <= 200; i++) list.push(closed({ endedAt: now - i, startedAt: now - i - i }));
  list.push(closed({ endedAt: now - 10 * 60_000 }));
  const [pair] = summarize(list, now - 5 * 60_000);
  assert.equal(pair?.connections, 200);
  // Durations 1..200 ms: the 198th smallest is the 99th percentile.
  assert.equal(pair?.p99DurationMs, 198);
  assert.equal(pair?.lastEndedAt, now - 1);
});

test('rules read as their matches: fields joined by commas, matches by or, clauses by and', () => {
  const p = makePolicy({ name: 'p', namespace: 'ns', action: 'Deny' }, [
    emptyMatch({ namespaces: [{ kind: 'exact', value: 'untrusted' }], notDestinationPorts: [22] }),
    emptyMatch({
      principals: [{ kind: 'suffix', value: '/sa/bot' }],
      sourceIps: [{ address: '10.0.0.0', length: 8 }],
    }),
  ]);
  assert.equal(
    describePolicyRule([p], 'ns/p', 0),
    'namespaces=untrusted, not ports=22 or principals=*/sa/bot, source ips=10.0.0.0/8',
  );
  assert.equal(describePolicyRule([p], 'ns/p', 1), undefined);
  assert.equal(describePolicyRule([p], 'ns/other', 0), undefined);
  assert.equal(describeRule({ clauses: [] }), 'any connection');
  assert.equal(
    describeRule({
      clauses: [
        { matches: [emptyMatch({ destinationPorts: [80] }), emptyMatch({ destinationPorts: [8080] })] },
        { matches: [emptyMatch({ namespaces: [{ kind: 'prefix', value: 'team-' }] })] },
      ],
    }),
    '(ports=80 or ports=8080) and namespaces=team-*',
  );
});
