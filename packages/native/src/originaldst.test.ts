import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  available,
  connectSocket,
  listenServer,
  type NativeSyscallError,
  originalDst,
  type SocketAddress,
  unavailableReason,
} from './index.ts';
import { netnsUnsupported, TestNetns } from './testing/index.ts';

const skip = !available ? `addon unavailable: ${unavailableReason}` : (netnsUnsupported() ?? false);

/** A capture listener: answers each connection with the original destination it reads. */
function captureServer(): net.Server {
  return net.createServer((c) => {
    let answer: string;
    try {
      const dst = originalDst(c);
      answer = JSON.stringify(dst);
    } catch (e) {
      answer = JSON.stringify({ error: (e as NativeSyscallError).code });
    }
    c.end(answer);
  });
}

function ask(socket: net.Socket): Promise<SocketAddress | { error: string }> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      text += d;
    });
    socket.on('end', () => resolve(JSON.parse(text)));
    socket.on('error', reject);
  });
}

describe('SO_ORIGINAL_DST after an iptables REDIRECT inside a netns', { skip }, () => {
  let ns: TestNetns;
  const servers: net.Server[] = [];
  before(() => {
    ns = new TestNetns('odst');
    ns.addInterface('zt0', '192.0.2.1/24', '2001:db8::1/64');
  });
  after(() => {
    for (const s of servers) s.close();
    ns?.destroy();
  });

  async function listen(host: string, ipv6Only?: boolean): Promise<number> {
    const server = captureServer();
    servers.push(server);
    return (await listenServer(server, { netns: ns.path, host, port: 0, ipv6Only })).port;
  }

  const cases = [
    { name: 'IPv4', v6: false, listenOn: '0.0.0.0', dst: '192.0.2.10', dport: 8080, family: 'IPv4' },
    // A dual-stack listener sees IPv4 peers as v4-mapped; the lookup must still use the IPv4 table.
    {
      name: 'IPv4 on a dual-stack listener',
      v6: false,
      listenOn: '::',
      dst: '192.0.2.11',
      dport: 8081,
      family: 'IPv4',
    },
    {
      name: 'IPv6',
      v6: true,
      listenOn: '::',
      ipv6Only: true,
      dst: '2001:db8::10',
      dport: 8082,
      family: 'IPv6',
    },
  ] as const;

  for (const c of cases) {
    test(`${c.name}: the listener reads the address the client dialled`, async (t) => {
      const port = await listen(c.listenOn, 'ipv6Only' in c ? c.ipv6Only : undefined);
      const err = ns.iptables(c.v6, [
        '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', c.dst, '--dport', String(c.dport),
        '-j', 'REDIRECT', '--to-ports', String(port),
      ]); // biome-ignore format: one rule per line reads better
      if (err) return t.skip(`${c.v6 ? 'ip6tables' : 'iptables'} NAT is not available here: ${err}`);
      const answer = await ask(await connectSocket({ netns: ns.path, host: c.dst, port: c.dport }));
      assert.deepEqual(answer, { address: c.dst, port: c.dport, family: c.family });
    });
  }

  test('a connection that was not redirected does not report a made-up destination', async () => {
    const port = await listen('192.0.2.1');
    const answer = await ask(await connectSocket({ netns: ns.path, host: '192.0.2.1', port }));
    // With conntrack active the kernel reports the (unchanged) destination, else ENOENT.
    if ('error' in answer) assert.equal(answer.error, 'ENOENT');
    else assert.deepEqual(answer, { address: '192.0.2.1', port, family: 'IPv4' });
  });
});
