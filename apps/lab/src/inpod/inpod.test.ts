// In-pod mode end to end: two simulated nodes, each a zt started through the app (INPOD_ENABLED)
// with its own fake istio-cni node agent, and two pods per node that are real network namespaces
// with upstream's in-pod iptables rules. Clients in the pods dial other pods' IPs unaware of zt;
// the rules hand the connections to zt's listeners inside the pods, and zt carries them over HBONE.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as http2Connect } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';
import { Identity } from '@zt/identity';
import { parseExposition, sumOf } from '@zt/metrics/testing';
import * as native from '@zt/native';
import { loadLocalConfig } from '@zt/xds';
import { SimNode } from './node.ts';
import { inpodUnsupported, type SimPod, Topology } from './topology.ts';

const skip = inpodUnsupported();
const TASK = 'workload proxy manager';
const APP_PORT = 8080;
const DRAIN_MS = 1000;

/** Reads until `n` bytes arrived (or the socket ended); fails after `ms`. */
async function readBytes(s: Socket, n: number, ms = 5000): Promise<string> {
  const chunks: Buffer[] = [];
  let got = 0;
  return new Promise((resolve, reject) => {
    const finish = (err?: Error) => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('close', onClose);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks).toString());
    };
    const onData = (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= n) finish();
    };
    const onClose = () => finish();
    const timer = setTimeout(() => finish(new Error(`only ${got} of ${n} bytes within ${ms} ms`)), ms);
    s.on('data', onData);
    s.once('close', onClose);
  });
}

/** Writes `text` and reads as many bytes back: the echo through the mesh. */
async function roundTrip(s: Socket, text: string): Promise<string> {
  const reply = readBytes(s, Buffer.byteLength(text));
  s.write(text);
  return reply;
}

/** Sends `text`, half-closes, and collects everything until the connection ends. */
async function exchange(s: Socket, text: string): Promise<string> {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  const done = new Promise<void>((resolve) => {
    s.once('close', () => resolve());
  });
  s.end(text);
  await done;
  return Buffer.concat(chunks).toString();
}

type WorkloadStateDump = Record<
  string,
  {
    state: string;
    info: { name: string };
    connections?: Record<'inbound' | 'outbound', { src: string; actualDst: string; protocol: string }[]>;
  }
>;

/** `workloadState` of the node's /config_dump. */
async function workloadState(n: SimNode): Promise<WorkloadStateDump> {
  const { host, port } = n.zt.servers.admin;
  const dump = (await (await fetch(`http://${host}:${port}/config_dump`)).json()) as {
    workloadState: WorkloadStateDump;
  };
  return dump.workloadState;
}

describe('in-pod mode: two nodes, pods from a fake istio-cni', { skip, timeout: 90_000 }, () => {
  const topo = new Topology();
  const nodes: SimNode[] = [];
  const apps: Server[] = [];
  /** Who each pod's app saw as its peer, in order. */
  const appPeers: { pod: string; peer: string }[] = [];
  const sockets: Socket[] = [];
  let n1: SimNode;
  let n2: SimNode;
  let clientA: SimPod;
  let clientB: SimPod;
  let serverA: SimPod;
  let serverB: SimPod;
  let serverC: SimPod;

  /** A plain, unmarked connection from inside `from`: the pod's rules send it to zt's 15001. */
  async function dial(from: SimPod, to: SimPod): Promise<Socket> {
    const s = await native.connectSocket({ netns: from.path, host: to.ip, port: APP_PORT, timeoutMs: 5000 });
    s.allowHalfOpen = true;
    s.on('error', () => {});
    sockets.push(s);
    return s;
  }

  before(async () => {
    clientA = topo.addPod({
      name: 'client-a',
      namespace: 'default',
      serviceAccount: 'client-a',
      node: 'node-1',
    });
    clientB = topo.addPod({
      name: 'client-b',
      namespace: 'default',
      serviceAccount: 'client-b',
      node: 'node-1',
    });
    serverA = topo.addPod({
      name: 'server-a',
      namespace: 'backend',
      serviceAccount: 'server-a',
      node: 'node-2',
    });
    serverB = topo.addPod({
      name: 'server-b',
      namespace: 'backend',
      serviceAccount: 'server-b',
      node: 'node-2',
    });
    // Known to xDS from the start, handed over by the CNI only late in the suite.
    serverC = topo.addPod({
      name: 'server-c',
      namespace: 'backend',
      serviceAccount: 'server-c',
      node: 'node-2',
    });
    // Every pod runs an echo app on 8080, bound inside its own namespace.
    for (const pod of topo.pods) {
      const app = createServer({ allowHalfOpen: true }, (s) => {
        appPeers.push({ pod: pod.name, peer: s.remoteAddress ?? '' });
        s.on('error', () => s.destroy());
        s.pipe(s);
      });
      apps.push(app);
      await native.listenServer(app, { netns: pod.path, host: '0.0.0.0', port: APP_PORT });
    }
    const common = { localXds: meshYaml(), drainDeadline: `${DRAIN_MS}ms` };
    n1 = await SimNode.start({ ...common, name: 'node-1', bindAddress: '127.0.41.1', workerThreads: 0 });
    nodes.push(n1);
    n2 = await SimNode.start({ ...common, name: 'node-2', bindAddress: '127.0.42.1', workerThreads: 1 });
    nodes.push(n2);
    n1.register([clientA, clientB]);
    n2.register([serverA, serverB]);
  });

  /** The mesh as istiod would send it: `pods`' workloads (default every pod so far) and the policy. */
  function meshYaml(pods: readonly SimPod[] = topo.pods): string {
    // The destination node denies client-b; client-a has no policy against it.
    return `workloads:
${topo.workloadsYaml(pods)}
policies:
  - name: deny-client-b
    namespace: backend
    scope: Namespace
    action: Deny
    rules:
      - - - principals:
              - !Suffix /sa/client-b
`;
  }

  /** istiod learns more pods: both nodes get the mesh with `pods`' workloads. */
  function publish(pods: readonly SimPod[]): void {
    const snap = loadLocalConfig({ inline: meshYaml(pods) });
    for (const n of [n1, n2]) n.zt.store.replace(snap);
  }

  /** A pod on node-2 that the xDS state does not have (yet), with the echo app. */
  async function lateServerPod(name: string): Promise<SimPod> {
    const pod = topo.addPod({ name, namespace: 'backend', serviceAccount: name, node: 'node-2' });
    const app = createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => s.destroy());
      s.pipe(s);
    });
    apps.push(app);
    await native.listenServer(app, { netns: pod.path, host: '0.0.0.0', port: APP_PORT });
    n2.register([pod]);
    return pod;
  }

  after(async () => {
    for (const s of sockets) s.destroy();
    await Promise.allSettled(nodes.map((n) => n.stop()));
    for (const a of apps) a.close();
    topo.destroy();
  });

  test('not ready until the first snapshot; the snapshot opens listeners in every pod', async () => {
    for (const n of [n1, n2]) {
      assert.ok(n.zt.readiness.pending().includes(TASK), `${n.name}: ${n.zt.readiness.pending()}`);
      const r = await n.readyz();
      assert.equal(r.status, 500);
      assert.match(r.body, /workload proxy manager/);
    }
    assert.equal(SimNode.listening(clientA), false, 'no listener before the pod is added');
    for (const n of [n1, n2]) assert.deepEqual(await n.cni.sendSnapshot(), ['', '', '']);
    await SimNode.waitForListeners([clientA, clientB, serverA, serverB]);
    assert.equal(SimNode.listening(serverC), false, 'a pod the CNI did not send is not served');
    for (const n of [n1, n2]) {
      assert.deepEqual(n.zt.readiness.pending(), []);
      assert.equal((await n.readyz()).status, 200);
    }
    // Certificates were fetched for each pod's identity on its node.
    const ids = (n: SimNode) => n.zt.secrets.dump().map((c) => c.identity);
    assert.ok(ids(n1).includes('spiffe://cluster.local/ns/default/sa/client-a'));
    assert.ok(ids(n2).includes('spiffe://cluster.local/ns/backend/sa/server-b'));
  });

  test('pod to pod across nodes: captured in the pod, carried over HBONE with the pod identity', async () => {
    const s = await dial(clientA, serverA);
    assert.equal(await roundTrip(s, 'hello server-a'), 'hello server-a');
    const inbound = (await n2.zt.dataPlane.connections()).filter((c) => c.direction === 'inbound');
    assert.equal(inbound.length, 1);
    assert.equal(inbound[0]?.protocol, 'HBONE');
    assert.equal(inbound[0]?.src.identity, 'spiffe://cluster.local/ns/default/sa/client-a');
    // Dialed from inside client-a's namespace, as upstream does: the HBONE peer is the pod's IP
    // (so source-IP policy and the source workload lookup see the pod, not the node).
    assert.equal(inbound[0]?.src.address, clientA.ip);
    assert.equal(inbound[0]?.src.workload, 'default/client-a');
    // And the app sees the client's IP, not its own: zt connected from the original source.
    assert.deepEqual(
      appPeers.filter((p) => p.pod === 'server-a').map((p) => p.peer),
      [clientA.ip],
    );
    assert.equal(inbound[0]?.dst.workload, 'backend/server-a');
    assert.equal(inbound[0]?.dst.address, serverA.ip);
    const outbound = (await n1.zt.dataPlane.connections()).filter((c) => c.direction === 'outbound');
    assert.equal(outbound.length, 1);
    assert.equal(outbound[0]?.protocol, 'HBONE');
    assert.equal(outbound[0]?.src.workload, 'default/client-a');
    assert.equal(outbound[0]?.dst.address, serverA.ip);
    // `istioctl ztunnel-config connections` reads the same from /config_dump's workloadState.
    const ws1 = await workloadState(n1);
    assert.deepEqual(
      Object.entries(ws1).map(([uid, w]) => [uid, w.info.name, w.state]),
      [
        [clientA.uid, 'client-a', 'Up'],
        [clientB.uid, 'client-b', 'Up'],
      ].sort(),
    );
    assert.deepEqual(
      ws1[clientA.uid]?.connections?.outbound.map((c) => [c.src.split(':')[0], c.actualDst, c.protocol]),
      [[clientA.ip, `${serverA.ip}:${APP_PORT}`, 'HBONE']],
    );
    assert.deepEqual(
      (await workloadState(n2))[serverA.uid]?.connections?.inbound.map((c) => [
        c.src.split(':')[0],
        c.actualDst,
        c.protocol,
      ]),
      [[clientA.ip, `${serverA.ip}:${APP_PORT}`, 'HBONE']],
    );
    assert.equal(await exchange(s, ' bye'), ' bye');
    // And the other way: node 2's pods reach node 1's through node 1's zt.
    assert.equal(await exchange(await dial(serverB, clientB), 'from node 2'), 'from node 2');
  });

  test("the destination node's deny policy blocks client-b and lets client-a through", async () => {
    assert.equal(await exchange(await dial(clientB, serverA), 'should not arrive'), '');
    assert.equal(await exchange(await dial(clientA, serverA), 'allowed'), 'allowed');
    const denied = (await n2.zt.dataPlane.connections()).filter((c) => c.verdict === 'deny');
    assert.deepEqual(denied, [], 'a denied connection is not left open');
  });

  test('ZDS garbage from the CNI gets an error ack and a count; pods and connections go on', async () => {
    const live = await dial(clientA, serverA);
    assert.equal(await roundTrip(live, 'before garbage'), 'before garbage');
    const errors = async () =>
      sumOf(parseExposition(await n1.zt.dataPlane.metricsText()), 'workload_manager_request_errors_total');
    const before = await errors();
    for (const junk of [Buffer.from('not a protobuf at all'), Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f])]) {
      const ack = await n1.cni.sendRaw(junk);
      assert.ok(ack && ack.length > 0, `an error ack names the problem (got ${JSON.stringify(ack)})`);
    }
    assert.equal((await errors()) - before, 2);
    assert.equal(await roundTrip(live, 'after garbage'), 'after garbage');
    assert.equal((await n1.readyz()).status, 200);
    assert.equal(SimNode.listening(clientA), true);
    live.destroy();
  });

  test('a CNI reconnect with a snapshot keeps pods, listeners and open connections', async () => {
    const live = await dial(clientA, serverA);
    assert.equal(await roundTrip(live, 'before'), 'before');
    n1.cni.dropConnection();
    // zt notices the loss and is not ready until the new connection's snapshot.
    for (let i = 0; i < 200 && !n1.zt.readiness.pending().includes(TASK); i++) await sleep(10);
    assert.deepEqual(n1.zt.readiness.pending(), [TASK]);
    assert.equal((await n1.readyz()).status, 500);
    await n1.cni.accept();
    assert.equal(n1.cni.hellos.length, 2);
    assert.equal((await n1.readyz()).status, 500, 'connected again, but no snapshot yet');
    assert.equal(await roundTrip(live, 'while resyncing'), 'while resyncing');
    assert.deepEqual(await n1.cni.sendSnapshot(), ['', '', '']);
    assert.deepEqual(n1.zt.readiness.pending(), []);
    assert.equal((await n1.readyz()).status, 200);
    assert.equal(await roundTrip(live, 'after'), 'after');
    assert.equal(live.destroyed, false);
    await SimNode.waitForListeners([clientA, clientB]);
    assert.equal(await exchange(await dial(clientA, serverB), 'new connection'), 'new connection');
    assert.equal(await exchange(live, 'end'), 'end');
  });

  // Shared by the deletion cases: a connection to server-b open when server-b is deleted.
  let liveToDeleted: Socket | undefined;
  let deletedAt = 0;

  test("del closes the pod's listeners and forgets its certificate; other pods go on", async () => {
    const live = await dial(clientA, serverB);
    assert.equal(await roundTrip(live, 'live'), 'live');
    liveToDeleted = live;
    const before = n2.zt.secrets.dump().map((c) => c.identity);
    assert.ok(before.includes('spiffe://cluster.local/ns/backend/sa/server-b'));
    deletedAt = Date.now();
    assert.equal(await n2.cni.del(serverB.uid), '');
    await SimNode.waitForListeners([serverB], false);
    assert.equal(SimNode.listening(serverA), true);
    const after = n2.zt.secrets.dump().map((c) => c.identity);
    assert.ok(!after.includes('spiffe://cluster.local/ns/backend/sa/server-b'), after.join(', '));
    // A new connection to the deleted pod gets nothing through; the other pod still answers.
    assert.equal(await exchange(await dial(clientA, serverB), 'gone'), '');
    assert.equal(await exchange(await dial(clientA, serverA), 'still here'), 'still here');
    assert.equal((await n2.readyz()).status, 200);
  });

  test("del: the deleted pod's live connections end within the drain deadline", async () => {
    const live = liveToDeleted;
    assert.ok(live, 'needs the connection opened by the previous case');
    if (!live.destroyed) {
      // zt closing its side shows as 'end' here (the test socket allows half-open), or 'close'.
      const closed = Promise.race([once(live, 'end'), once(live, 'close')]).then(() => 'closed');
      const left = Math.max(0, deletedAt + DRAIN_MS + 2000 - Date.now());
      assert.equal(await Promise.race([closed, sleep(left, 'open')]), 'closed');
    }
    assert.ok(Date.now() - deletedAt <= DRAIN_MS + 2000, `closed ${Date.now() - deletedAt} ms after del`);
  });

  test('a pod added after a deletion gets its listeners and traffic', async () => {
    n2.register([serverC]);
    assert.equal(await n2.cni.sendAdd(serverC.uid), '');
    await SimNode.waitForListeners([serverC], true, 3000);
    assert.equal(await exchange(await dial(clientA, serverC), 'new pod'), 'new pod');
  });

  // From here pods come before their workloads, as when istiod learns a pod after the CNI added it.
  const known = () =>
    topo.pods.filter((p) => !['server-d', 'server-e', 'busy', 'ghost', 'legacy'].includes(p.name));
  let serverD: SimPod;

  test("AddWorkload is acked once the pod's listeners accept, its workload unknown yet", async () => {
    serverD = await lateServerPod('server-d');
    assert.equal(await n2.cni.sendAdd(serverD.uid), '');
    // No retry, no wait: upstream binds before it acks, so the pod's first connections find ports.
    for (const port of [15001, 15006, 15008]) {
      const s = await native.connectSocket({ netns: serverD.path, host: '127.0.0.1', port, timeoutMs: 2000 });
      s.destroy();
    }
    assert.equal((await n2.readyz()).status, 200);
  });

  test("a pod's outbound connection waits for its workload and goes through once it arrives", async () => {
    const s = await dial(serverD, serverA);
    const reply = roundTrip(s, 'before my workload');
    await sleep(300);
    publish([...known(), serverD]);
    assert.equal(await reply, 'before my workload');
    const inbound = (await n2.zt.dataPlane.connections()).filter(
      (c) => c.direction === 'inbound' && c.src.workload === 'backend/server-d',
    );
    assert.equal(inbound[0]?.src.identity, 'spiffe://cluster.local/ns/backend/sa/server-d');
    s.destroy();
  });

  test('plaintext inbound to a pod before its workload waits for it, then reaches the app', async () => {
    const serverE = await lateServerPod('server-e');
    assert.equal(await n2.cni.sendAdd(serverE.uid), '');
    // Unknown to node-1 too: passthrough from client-a, captured into server-e's 15006.
    const s = await dial(clientA, serverE);
    const reply = roundTrip(s, 'knock knock');
    await sleep(300);
    publish([...known(), serverD, serverE]);
    assert.equal(await reply, 'knock knock');
    const inbound = (await n2.zt.dataPlane.connections()).find(
      (c) => c.direction === 'inbound' && c.dst.workload === 'backend/server-e',
    );
    assert.equal(inbound?.protocol, 'TCP');
    assert.equal(inbound?.src.address, clientA.ip);
    s.destroy();
  });

  test("HBONE to 127.0.0.1:15008 inside a pod is served with the pod's identity", async () => {
    const raw = await native.connectSocket({ netns: serverA.path, host: '127.0.0.1', port: 15008 });
    sockets.push(raw);
    const cert = await n1.zt.secrets.fetchCertificate(
      Identity.parse('spiffe://cluster.local/ns/default/sa/client-a'),
    );
    const tls = tlsConnect({
      socket: raw,
      cert: cert.certChain.join('\n'),
      key: cert.privateKey,
      ca: [...cert.roots],
      ALPNProtocols: ['h2'],
      // zt's certificates carry SPIFFE URIs, no DNS names: the identity is checked below.
      checkServerIdentity: () => undefined,
    });
    await once(tls, 'secureConnect');
    assert.match(
      tls.getPeerCertificate().subjectaltname ?? '',
      /URI:spiffe:\/\/cluster.local\/ns\/backend\/sa\/server-a/,
    );
    const session = http2Connect(`https://${serverA.ip}`, { createConnection: () => tls });
    try {
      const stream = session.request({ ':method': 'CONNECT', ':authority': `${serverA.ip}:${APP_PORT}` });
      const [headers] = (await once(stream, 'response')) as [Record<string, unknown>];
      assert.equal(headers[':status'], 200);
      const echoed = once(stream, 'data');
      stream.write('over loopback');
      assert.equal(String((await echoed)[0]), 'over loopback');
      stream.close();
    } finally {
      session.destroy();
    }
  });

  test('a pod whose workload never comes: its connection fails after the wait, counted', async () => {
    const ghost = await lateServerPod('ghost');
    assert.equal(await n2.cni.sendAdd(ghost.uid), '');
    const started = Date.now();
    assert.equal(await exchange(await dial(ghost, serverA), 'nobody knows me'), '');
    const waited = Date.now() - started;
    assert.ok(waited >= 4500 && waited < 8000, `refused after ${waited} ms, upstream waits 5 s`);
    const exp = parseExposition(await n2.zt.dataPlane.metricsText());
    assert.equal(
      sumOf(exp, 'zt_connections_early_denied_total', {
        direction: 'outbound',
        reason: 'unknown-pod-workload',
      }),
      1,
    );
  });

  test('a pod whose listeners cannot be bound gets an error Ack and keeps zt not ready', async () => {
    const busy = await lateServerPod('busy');
    // Something in the pod holds 15008 without SO_REUSEPORT: zt cannot join it.
    const squatter = createServer();
    await native.listenServer(squatter, { netns: busy.path, host: '0.0.0.0', port: 15008, reusePort: false });
    try {
      const error = await n2.cni.sendAdd(busy.uid);
      assert.match(error, /15008/);
      const r = await n2.readyz();
      assert.equal(r.status, 500);
      assert.match(r.body, /workload proxy manager/);
      // All or nothing: zt left none of the pod's other ports bound.
      assert.deepEqual(SimNode.ports(busy), [15008]);
      // The CNI gives up on the pod: zt is ready again.
      assert.equal(await n2.cni.del(busy.uid), '');
      assert.equal((await n2.readyz()).status, 200);
    } finally {
      squatter.close();
    }
  });

  /** An echo server that records who connected; `listen` binds it. */
  async function peerEcho(
    listen: (s: Server) => Promise<unknown>,
  ): Promise<{ port: number; peers: string[] }> {
    const peers: string[] = [];
    const server = createServer({ allowHalfOpen: true }, (s) => {
      peers.push(s.remoteAddress ?? '');
      s.on('error', () => s.destroy());
      s.pipe(s);
    });
    apps.push(server);
    await listen(server);
    const a = server.address();
    return { port: a && typeof a === 'object' ? a.port : 0, peers };
  }

  test("egress leaves from the pod's namespace: passthrough and an out-of-mesh TCP workload see the pod's IP", async () => {
    // Passthrough: an address the mesh does not know, on this host (the pod's veth gateway).
    const outside = await peerEcho(
      (s) => new Promise<void>((resolve) => s.listen({ host: clientA.gateway, port: 0 }, resolve)),
    );
    const s1 = await native.connectSocket({ netns: clientA.path, host: clientA.gateway, port: outside.port });
    s1.allowHalfOpen = true;
    sockets.push(s1);
    assert.equal(await exchange(s1, 'passthrough'), 'passthrough');
    assert.deepEqual(outside.peers, [clientA.ip]);
    // A workload xDS knows with protocol TCP (not enrolled: no capture, no zt in it).
    const legacy = topo.addPod({
      name: 'legacy',
      namespace: 'legacy',
      serviceAccount: 'legacy',
      node: 'node-2',
      outOfMesh: true,
    });
    const app = await peerEcho((s) =>
      native.listenServer(s, { netns: legacy.path, host: '0.0.0.0', port: 0 }),
    );
    publish([...known(), serverD, legacy]);
    const s2 = await native.connectSocket({ netns: clientA.path, host: legacy.ip, port: app.port });
    s2.allowHalfOpen = true;
    sockets.push(s2);
    assert.equal(await exchange(s2, 'plain tcp'), 'plain tcp');
    assert.deepEqual(app.peers, [clientA.ip]);
    const out = (await n1.zt.dataPlane.connections()).length;
    assert.equal(out, 0, 'both connections are over');
  });
});
