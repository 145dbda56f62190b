import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import { after, test } from 'node:test';
import {
  registry,
  tcpConnectionsClosed,
  tcpConnectionsOpened,
  tcpReceivedBytes,
  tcpSentBytes,
  trafficLabels,
  WorkerMetrics,
} from '@zt/metrics';
import { parseExposition, sampleValue } from '@zt/metrics/testing';
import { startMetricsServer } from './index.ts';

const labels = trafficLabels({
  reporter: 'destination',
  source_workload: 'sleep',
  source_workload_namespace: 'default',
  source_principal: 'spiffe://cluster.local/ns/default/sa/sleep',
  destination_workload: 'echo',
  destination_workload_namespace: 'default',
  destination_principal: 'spiffe://cluster.local/ns/default/sa/echo',
  destination_service: 'echo.default.svc.cluster.local',
  request_protocol: 'tcp',
  response_flags: '-',
  connection_security_policy: 'mutual_tls',
});

/** An echo server that counts what it carries the way the data plane does. */
async function countingEcho(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer((sock: Socket) => {
    tcpConnectionsOpened.inc(labels);
    sock.on('data', (b: Buffer) => {
      tcpReceivedBytes.inc(labels, b.length);
      sock.write(b, () => tcpSentBytes.inc(labels, b.length));
    });
    sock.on('end', () => sock.end());
    sock.on('close', () => tcpConnectionsClosed.inc(labels));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return { port, close: () => new Promise((r) => server.close(() => r())) };
}

async function roundTrip(port: number, payload: Buffer): Promise<void> {
  const sock = createConnection({ port, host: '127.0.0.1' });
  await once(sock, 'connect');
  let got = 0;
  sock.on('data', (b: Buffer) => {
    got += b.length;
    if (got === payload.length) sock.end();
  });
  sock.write(payload);
  await once(sock, 'close');
  assert.equal(got, payload.length);
}

const workers = new WorkerMetrics();
const server = await startMetricsServer({ port: 0, host: '127.0.0.1', text: () => workers.text(registry) });
after(() => server.close());

test('a scrape after real traffic shows upstream names, exact labels and matching counts', async () => {
  const echo = await countingEcho();
  await roundTrip(echo.port, Buffer.alloc(1000, 1));
  await roundTrip(echo.port, Buffer.alloc(24, 2));
  await roundTrip(echo.port, Buffer.alloc(70_000, 3));
  await echo.close();
  // The server side's 'close' may trail the client's by a tick.
  for (let i = 0; i < 50; i++) {
    const exp = parseExposition(await (await fetch(`${server.url}/metrics`)).text());
    if (sampleValue(exp, 'istio_tcp_connections_closed_total', labels) === 3) break;
    await new Promise((r) => setTimeout(r, 20));
  }

  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const exp = parseExposition(await res.text());
  assert.equal(sampleValue(exp, 'istio_tcp_connections_opened_total', labels), 3);
  assert.equal(sampleValue(exp, 'istio_tcp_connections_closed_total', labels), 3);
  assert.equal(sampleValue(exp, 'istio_tcp_received_bytes_total', labels), 71_024);
  assert.equal(sampleValue(exp, 'istio_tcp_sent_bytes_total', labels), 71_024);
  const opened = exp.samples.filter((s) => s.name === 'istio_tcp_connections_opened_total');
  assert.equal(opened.length, 1);
  assert.deepEqual(Object.keys(opened[0]?.labels ?? {}).sort(), Object.keys(labels).sort());
  assert.equal(opened[0]?.labels['source_app'], 'unknown');
  assert.equal(opened[0]?.labels['connection_security_policy'], 'mutual_tls');
  assert.equal(exp.types.get('istio_tcp_connections_failed_total'), 'counter');
  assert.equal(exp.types.get('istio_tcp_connections_opened_total'), 'counter');

  const stats = parseExposition(await (await fetch(`${server.url}/stats/prometheus`)).text());
  assert.equal(sampleValue(stats, 'istio_tcp_received_bytes_total', labels), 71_024);
});

test('other paths are 404, writes are 405, and HEAD has no body', async () => {
  assert.equal((await fetch(`${server.url}/`)).status, 404);
  assert.equal((await fetch(`${server.url}/metricsx`)).status, 404);
  const post = await fetch(`${server.url}/metrics`, { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  const head = await fetch(`${server.url}/metrics`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
});

test('a failing source yields 500 and is counted, and the server keeps serving', async () => {
  const broken = await startMetricsServer({
    port: 0,
    host: '127.0.0.1',
    text: () => Promise.reject(new Error('worker snapshot timed out')),
  });
  try {
    const res = await fetch(`${broken.url}/metrics`);
    assert.equal(res.status, 500);
    assert.match(await res.text(), /worker snapshot timed out/);
    const exp = parseExposition(await (await fetch(`${server.url}/metrics`)).text());
    assert.ok((sampleValue(exp, 'zt_server_request_errors_total', { server: 'metrics' }) ?? 0) >= 1);
  } finally {
    await broken.close();
  }
});
