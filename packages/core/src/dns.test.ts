// The DNS proxy on the node (shared listeners, the loopback lab): every data-plane thread binds the
// same UDP and TCP port (SO_REUSEPORT), clients are found by source address, and the node's own
// processes (no workload at their address) are forwarded, not refused.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dnsQuery, framed, sendTcp, sendUdp, TestDnsServer } from '@zt/dns/testing';
import { TestCa } from '@zt/identity/testing';
import { Logging } from '@zt/log';
import { makeService, makeWorkload } from '@zt/xds/testing';
import dnsPacket from 'dns-packet';
import { DataPlane } from './dataplane.ts';
import { testCaCertSource } from './testing/index.ts';

interface Answer {
  rcode: string;
  answers: string[];
}

function decode(b: Buffer | undefined): Answer {
  assert.ok(b, 'an answer');
  const p = dnsPacket.decode(b) as dnsPacket.DecodedPacket & { rcode: string };
  return {
    rcode: p.rcode,
    answers: (p.answers ?? []).flatMap((a) => (a.type === 'A' ? [String(a.data)] : [])),
  };
}

for (const workers of [0, 2]) {
  describe(`DNS proxy on the node (${workers === 0 ? 'in-process' : `${workers} workers`})`, () => {
    let up: TestDnsServer;
    let dir: string;
    let dp: DataPlane;
    let port = 0;
    // The lab's loopback mesh: the client workload is 127.0.0.1 itself.
    const sleep = makeWorkload({
      name: 'sleep',
      namespace: 'backend',
      workloadIps: ['127.0.0.1'],
      node: 'n',
    });

    before(async () => {
      up = await TestDnsServer.start();
      up.set('example.org', 'A', ['93.184.216.34']);
      dir = mkdtempSync(join(tmpdir(), 'zt-dns-'));
      writeFileSync(join(dir, 'resolv.conf'), `nameserver ${up.host}\n`);
      dp = new DataPlane({
        workers,
        nodeName: 'n',
        network: '',
        trustDomain: 'cluster.local',
        certs: testCaCertSource(await TestCa.create()),
        logging: new Logging({ filter: 'off' }),
        listeners: { shared: { address: '127.0.0.1', outbound: 0, inbound: 0, inboundPlaintext: 0 } },
        dnsProxy: {
          addresses: [{ host: '127.0.0.1', port: 0 }],
          resolvConf: join(dir, 'resolv.conf'),
          forwardPort: up.port,
        },
      });
      await dp.setState({
        version: 1,
        workloads: [sleep],
        services: [makeService({ name: 'echo', namespace: 'backend', vips: ['10.96.0.20'] })],
        policies: [],
      });
      const bound = await dp.start();
      const dns = bound.filter((b) => b.kind === 'dns');
      assert.equal(dns.length, 1);
      port = dns[0]?.port ?? 0;
      assert.ok(port > 0);
    });

    after(async () => {
      await dp?.close();
      await up?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('mesh names from the state, over UDP and TCP, from many source ports (whichever thread the kernel picks)', async () => {
      for (let i = 0; i < 8; i++) {
        const r = decode(await sendUdp('127.0.0.1', port, dnsQuery({ name: 'echo' })));
        assert.deepEqual(r, { rcode: 'NOERROR', answers: ['10.96.0.20'] });
      }
      const { messages } = await sendTcp(
        '127.0.0.1',
        port,
        framed(dnsQuery({ name: 'echo.backend.svc.cluster.local' })),
      );
      const tcp = decode(messages[0]);
      assert.deepEqual(tcp.answers, ['10.96.0.20']);
      assert.equal(up.count('echo'), 0);
    });

    test('other names are forwarded to the resolv.conf server; drain closes the port', async () => {
      assert.deepEqual(decode(await sendUdp('127.0.0.1', port, dnsQuery({ name: 'example.org' }))).answers, [
        '93.184.216.34',
      ]);
      assert.equal(up.count('example.org'), 1);
      const dump = await dp.dnsDump();
      assert.equal(dump?.listeners[0]?.udp, `127.0.0.1:${port}`);
      assert.deepEqual(
        dump?.dnsResolverCfg.name_servers.map((s) => s.socket_addr),
        [`${up.host}:${up.port}`, `${up.host}:${up.port}`],
      );
      await dp.drain(100);
      assert.equal(await sendUdp('127.0.0.1', port, dnsQuery({ name: 'echo' }), 300), undefined);
    });
  });
}
