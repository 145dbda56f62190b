import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Logger, Logging } from '@zt/log';
import { captureLog } from '@zt/log/testing';
import { registry as metrics } from '@zt/metrics';
import { makeWorkload } from '@zt/xds/testing';
import { DrainDeadlineError } from '../errors.ts';
import { ConnectionRegistry } from './registry.ts';
import { seriesFor } from './series.ts';

/** The access scope of a JSON Logging, and what it wrote. */
function capture(): { log: Logger; lines: Record<string, unknown>[] } {
  const sink = captureLog();
  const log = new Logging({ format: 'json', destination: sink }).access;
  return {
    log,
    get lines() {
      return sink.lines();
    },
  };
}

const src = makeWorkload({ name: 'sleep-reg', namespace: 'ns1', workloadIps: ['10.9.0.1'] });
const dst = makeWorkload({ name: 'echo-reg', namespace: 'ns2', workloadIps: ['10.9.0.2'] });

test('one access-log line per closed connection, with upstream fields; bytes counted as they flow', async () => {
  const logged = capture();
  const reg = new ConnectionRegistry(logged.log, 't-');
  const t = reg.open({
    info: {
      direction: 'inbound',
      protocol: 'HBONE',
      src: { address: '10.9.0.1', port: 5000, identity: 'spiffe://cluster.local/ns/ns1/sa/sleep-reg' },
      dst: { address: '10.9.0.2', port: 8080 },
    },
    labels: {
      reporter: 'destination',
      source: src,
      sourceIdentity: 'spiffe://cluster.local/ns/ns1/sa/sleep-reg',
      destination: dst,
      destinationIdentity: 'spiffe://cluster.local/ns/ns2/sa/echo-reg',
      mtls: true,
    },
    hboneAddr: '10.9.0.2:8080',
  });
  t.countToServer(10);
  t.countToClient(25);
  assert.equal(reg.list()[0]?.bytesReceived, 10);
  assert.equal(reg.list()[0]?.bytesSent, 25);
  const text = await metrics.metrics();
  assert.match(
    text,
    /istio_tcp_received_bytes_total\{[^}]*reporter="destination"[^}]*source_workload="sleep-reg"[^}]*connection_security_policy="mutual_tls"[^}]*\} 10/,
  );
  assert.match(text, /istio_tcp_sent_bytes_total\{[^}]*destination_workload="echo-reg"[^}]*\} 25/);
  assert.match(text, /istio_tcp_connections_opened_total\{[^}]*destination_workload="echo-reg"[^}]*\} 1/);
  t.finish();
  t.finish();
  assert.equal(reg.size, 0);
  const access = logged.lines.filter((l) => l['scope'] === 'access');
  assert.equal(access.length, 1);
  const a = access[0] ?? {};
  assert.equal(a['src.addr'], '10.9.0.1:5000');
  assert.equal(a['src.workload'], 'sleep-reg');
  assert.equal(a['src.identity'], 'spiffe://cluster.local/ns/ns1/sa/sleep-reg');
  assert.equal(a['dst.addr'], '10.9.0.2:8080');
  assert.equal(a['dst.workload'], 'echo-reg');
  assert.equal(a['dst.identity'], 'spiffe://cluster.local/ns/ns2/sa/echo-reg');
  assert.equal(a['direction'], 'inbound');
  assert.equal(a['bytes_sent'], 25);
  assert.equal(a['bytes_recv'], 10);
  assert.match(String(a['duration']), /^\d+ms$/);
  assert.equal(a['error'], undefined);
  assert.equal(a['level'], 'info');
  assert.equal(a['message'], 'connection complete');
  assert.match(
    await metrics.metrics(),
    /istio_tcp_connections_closed_total\{[^}]*destination_workload="echo-reg"[^}]*response_flags="-"[^}]*\} 1/,
  );
});

test('a failed connection logs its error and counts as failed and closed under its response flag only', async () => {
  const logged = capture();
  const reg = new ConnectionRegistry(logged.log);
  const t = reg.open({
    info: {
      direction: 'outbound',
      protocol: 'TCP',
      src: { address: '10.9.0.1', port: 5001 },
      dst: { address: '10.9.0.3', port: 81 },
    },
    labels: {
      reporter: 'source',
      source: { ...src, name: 'fail-src', workloadName: 'fail-src' },
      mtls: false,
    },
  });
  t.finish(new Error('connection refused'), 'CONNECT');
  const a = logged.lines.find((l) => l['scope'] === 'access') ?? {};
  assert.equal(a['error'], 'connection refused');
  assert.equal(a['level'], 'warn', 'a failed connection is logged at warn');
  assert.equal(a['src.identity'], undefined);
  const text = await metrics.metrics();
  assert.match(
    text,
    /istio_tcp_connections_failed_total\{[^}]*reporter="source"[^}]*source_workload="fail-src"[^}]*response_flags="CONNECT"[^}]*connection_security_policy="unknown"[^}]*\} 1/,
  );
  // The close counts under its flag too, and the label set's clean ("-") series stays untouched.
  assert.match(
    text,
    /istio_tcp_connections_closed_total\{[^}]*source_workload="fail-src"[^}]*response_flags="CONNECT"[^}]*\} 1/,
  );
  assert.doesNotMatch(
    text,
    /istio_tcp_connections_closed_total\{[^}]*source_workload="fail-src"[^}]*response_flags="-"/,
  );
});

test('connections with one label set share its series; another revision of a workload gets its own', async () => {
  const { log } = capture();
  const reg = new ConnectionRegistry(log, 's-');
  const a = makeWorkload({ name: 'series-a', namespace: 'ns5', workloadIps: ['10.9.5.1'] });
  const b = makeWorkload({
    name: 'series-b',
    namespace: 'ns5',
    workloadIps: ['10.9.5.2'],
    canonicalRevision: 'v1',
  });
  const b2 = { ...b, canonicalRevision: 'v2' };
  const input = (destination: typeof b) => ({
    reporter: 'source' as const,
    source: a,
    sourceIdentity: 'spiffe://cluster.local/ns/ns5/sa/series-a',
    destination,
    destinationIdentity: 'spiffe://cluster.local/ns/ns5/sa/series-b',
    mtls: true,
  });
  assert.equal(seriesFor(input(b)), seriesFor(input({ ...b })), 'equal label inputs, one series');
  assert.notEqual(seriesFor(input(b)), seriesFor(input(b2)));
  const open = (destination: typeof b) =>
    reg.open({
      info: {
        direction: 'outbound',
        protocol: 'HBONE',
        src: { address: '10.9.5.1', port: 1 },
        dst: { address: '10.9.5.2', port: 80 },
      },
      labels: input(destination),
    });
  const conns = [open(b), open(b), open(b2)];
  conns[0]?.countToServer(7);
  conns[1]?.countToServer(5);
  conns[2]?.countToClient(3);
  for (const c of conns) c.finish();
  conns[1]?.finish(new Error('late'), 'CONNECT'); // already finished: not counted again
  const text = await metrics.metrics();
  const line = (name: string, rev: string) =>
    new RegExp(
      `${name}\\{[^}]*destination_workload="series-b"[^}]*destination_canonical_revision="${rev}"[^}]*\\} (\\d+)`,
    ).exec(text)?.[1];
  assert.equal(line('istio_tcp_connections_opened_total', 'v1'), '2');
  assert.equal(line('istio_tcp_connections_closed_total', 'v1'), '2');
  assert.equal(line('istio_tcp_received_bytes_total', 'v1'), '12');
  assert.equal(line('istio_tcp_connections_opened_total', 'v2'), '1');
  assert.equal(line('istio_tcp_sent_bytes_total', 'v2'), '3');
});

test('the watch hears each open and each close once, after the registry has counted it', () => {
  const seen: string[] = [];
  const reg: ConnectionRegistry = new ConnectionRegistry(new Logging({ filter: 'off' }).access, 'w-', {
    opened: () => seen.push(`open ${reg.size}`),
    closed: () => seen.push(`close ${reg.size}`),
  });
  const params = {
    info: {
      direction: 'outbound' as const,
      protocol: 'TCP' as const,
      src: { address: '10.9.0.1', port: 5001 },
      dst: { address: '10.9.0.2', port: 80 },
    },
    labels: { reporter: 'source' as const, source: src, destination: dst, mtls: false },
  };
  const a = reg.open(params);
  const b = reg.open(params);
  a.finish();
  a.finish();
  b.finish(new Error('reset'), 'CONNECT');
  assert.deepEqual(seen, ['open 1', 'open 2', 'close 1', 'close 0']);
});

test('an error close without a flag takes the flag upstream infers: a drain fails, a peer reset does not', async () => {
  const reg = new ConnectionRegistry(new Logging({ filter: 'off' }).access, 'f-');
  const source = makeWorkload({ name: 'flag-src', workloadIps: ['10.9.7.1'] });
  const open = () =>
    reg.open({
      info: {
        direction: 'outbound',
        protocol: 'TCP',
        src: { address: '10.9.7.1', port: 1 },
        dst: { address: '10.9.7.2', port: 80 },
      },
      labels: { reporter: 'source', source, mtls: false },
    });
  open().finish(new DrainDeadlineError(5000));
  open().finish(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
  const text = await metrics.metrics();
  const value = (name: string, flag: string) =>
    new RegExp(`${name}\\{[^}]*source_workload="flag-src"[^}]*response_flags="${flag}"[^}]*\\} (\\d+)`).exec(
      text,
    )?.[1];
  assert.equal(value('istio_tcp_connections_failed_total', 'CONNECT'), '1', 'the drained one failed');
  assert.equal(value('istio_tcp_connections_closed_total', 'CONNECT'), '1');
  assert.equal(value('istio_tcp_connections_closed_total', '-'), '1', 'the reset one closed clean');
  assert.equal(value('istio_tcp_connections_failed_total', '-'), undefined);
});

test('a deferred open is counted once: relabelled by countOpen, or with the labels it had when it fails first', async () => {
  const logged = capture();
  const reg = new ConnectionRegistry(logged.log, 'd-');
  const gateway = makeWorkload({ name: 'defer-gw', namespace: 'ns-gw', workloadIps: ['10.9.6.1'] });
  const open = (port: number) =>
    reg.open({
      info: {
        direction: 'outbound',
        protocol: 'HBONE',
        src: { address: '10.9.0.1', port },
        dst: { address: '10.9.6.1', port: 15008 },
      },
      labels: { reporter: 'source', source: src, destination: gateway, mtls: true },
      deferOpen: true,
    });
  const opened = (workload: string) =>
    metrics
      .metrics()
      .then(
        (text) =>
          new RegExp(
            `istio_tcp_connections_opened_total\\{[^}]*destination_workload="${workload}"[^}]*\\} (\\d+)`,
          ).exec(text)?.[1],
      );
  const reached = open(6001);
  assert.equal(await opened('defer-gw'), undefined, 'not counted before the destination answered');
  const identity = 'spiffe://cluster.local/ns/ns-far/sa/defer-far';
  reached.countOpen({ workload: { workloadName: 'defer-far', namespace: 'ns-far' }, identity });
  reached.countOpen({ workload: { workloadName: 'defer-other' }, identity }); // counted already: labels stay
  reached.finish();
  assert.equal(await opened('defer-far'), '1');
  assert.equal(await opened('defer-other'), undefined);
  assert.equal(await opened('defer-gw'), undefined);
  const line = logged.lines.find((l) => l['scope'] === 'access') ?? {};
  assert.equal(line['dst.workload'], 'defer-far');
  assert.equal(line['dst.namespace'], 'ns-far');
  assert.equal(line['dst.identity'], identity);

  open(6002).finish(new Error('connection refused'), 'CONNECT');
  assert.equal(
    await opened('defer-gw'),
    '1',
    'a failure before the answer counts the open with its first labels',
  );
});
