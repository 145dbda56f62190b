import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_FLOW_CONTROL, type FlowControl } from './config.ts';
import { type HbonePair, startEchoServer, startHbonePair } from './testing/index.ts';

const MiB = 1024 * 1024;
const block = randomBytes(256 * 1024);

function req(pair: HbonePair, authority: string) {
  return {
    source: pair.clientIdentity,
    destinationIdentities: [pair.serverIdentity],
    address: pair.address,
    authority,
  };
}

/** Writes `total` bytes of `block` with backpressure, hashing what was sent. */
async function send(s: Duplex, total: number): Promise<string> {
  const h = createHash('sha256');
  for (let sent = 0; sent < total; sent += block.length) {
    h.update(block);
    if (!s.write(block)) await new Promise((r) => s.once('drain', r));
  }
  s.end();
  return h.digest('hex');
}

function receive(s: Duplex, onBytes?: (n: number) => void): Promise<{ bytes: number; hash: string }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let bytes = 0;
    s.on('data', (c: Buffer) => {
      bytes += c.length;
      h.update(c);
      onBytes?.(c.length);
    });
    s.once('end', () => resolve({ bytes, hash: h.digest('hex') }));
    s.once('error', reject);
  });
}

test('1 GiB through one tunnel arrives intact (SHA-256 compared)', async () => {
  let serverResult: Promise<{ bytes: number; hash: string }> | undefined;
  const pair = await startHbonePair({
    server: {
      onTunnel: (t) => {
        const s = t.accept();
        serverResult = receive(s);
        serverResult.then(({ hash }) => s.end(hash));
      },
    },
  });
  try {
    const t = await pair.pool.open(req(pair, '10.0.0.1:80'));
    const reply = receive(t);
    const started = performance.now();
    const sentHash = await send(t, 1024 * MiB);
    const got = await serverResult;
    const seconds = (performance.now() - started) / 1000;
    assert.equal(got?.bytes, 1024 * MiB);
    assert.equal(got?.hash, sentHash);
    await reply;
    console.log(`# 1 GiB in ${seconds.toFixed(1)} s (${Math.round(1024 / seconds)} MiB/s incl. hashing)`);
  } finally {
    await pair.close();
  }
});

/** Several tunnels of one connection echo bulk data both ways at once; fails if it stalls. */
async function bidirectional(flowControl: FlowControl, streams: number, perStream: number) {
  const echo = await startEchoServer();
  const pair = await startHbonePair({ server: { flowControl }, pool: { flowControl } });
  let progress = 0;
  let stalled = false;
  let last = -1;
  const watchdog = setInterval(() => {
    if (progress === last) stalled = true;
    last = progress;
  }, 10_000);
  try {
    await Promise.race([
      Promise.all(
        Array.from({ length: streams }, async () => {
          const t = await pair.pool.open(req(pair, `127.0.0.1:${echo.address.port}`));
          const back = receive(t, (n) => {
            progress += n;
          });
          const sentHash = await send(t, perStream);
          const got = await back;
          assert.equal(got.bytes, perStream);
          assert.equal(got.hash, sentHash);
        }),
      ),
      (async () => {
        while (!stalled) await sleep(500);
        throw new Error(`stalled after ${progress} bytes echoed`);
      })(),
    ]);
    assert.equal(pair.pool.stats.connectionsOpened, 1, 'all tunnels share one HTTP/2 session');
  } finally {
    stalled = true;
    clearInterval(watchdog);
    await pair.close();
    await echo.close();
  }
}

test('default windows: 4 tunnels push 64 MiB each way at once (256 MiB each way) without stalling', async () => {
  await bidirectional(DEFAULT_FLOW_CONTROL, 4, 64 * MiB);
});

test("upstream's windows (4 MiB / 16 MiB / 1 MiB frames) do not stall either", async () => {
  await bidirectional(
    { streamWindowSize: 4 * MiB, connectionWindowSize: 16 * MiB, frameSize: MiB },
    4,
    64 * MiB,
  );
});

test('a slow reader never makes the sender buffer without bound', async () => {
  let serverSide: Duplex | undefined;
  let written = 0;
  let blocked = false;
  const pair = await startHbonePair({
    server: {
      onTunnel: (t) => {
        const s = t.accept();
        serverSide = s;
        s.on('error', () => {});
        // Write as long as the stream accepts; stop at the first backpressure signal.
        const pump = () => {
          while (s.write(block)) written += block.length;
          written += block.length;
          blocked = true;
          s.once('drain', () => {
            blocked = false;
            pump();
          });
        };
        pump();
      },
    },
  });
  try {
    const t = await pair.pool.open(req(pair, '10.0.0.1:80'));
    t.on('error', () => {});
    t.pause();
    await sleep(1000);
    assert.ok(blocked, 'the sender saw backpressure');
    // In flight at most: stream window + stream/socket buffers; never the unbounded amount a
    // writer ignoring backpressure would queue.
    const bound = DEFAULT_FLOW_CONTROL.streamWindowSize + 8 * MiB;
    assert.ok(written < bound, `sender wrote ${written} bytes while the reader was paused`);
    const before = written;
    await sleep(500);
    assert.equal(written, before, 'nothing more is accepted while the reader is paused');
    // Reading resumes the flow.
    t.resume();
    await sleep(300);
    assert.ok(written > before, 'the sender continues once the reader reads');
    serverSide?.destroy();
    t.destroy();
  } finally {
    await pair.close();
  }
});

test('tunnels whose readers stall do not starve the other tunnels of their connection', async () => {
  let n = 0;
  const pair = await startHbonePair({
    server: {
      onTunnel: (t) => {
        const s = t.accept();
        s.on('error', () => {});
        if (n++ < 3) {
          const pump = () => {
            while (s.write(block));
            s.once('drain', pump);
          };
          pump();
        } else {
          s.end('fast lane');
          s.resume();
        }
      },
    },
  });
  try {
    const stalled: Duplex[] = [];
    for (let i = 0; i < 3; i++) {
      const t = await pair.pool.open(req(pair, '10.0.0.1:80'));
      t.pause();
      t.on('error', () => {});
      stalled.push(t);
    }
    await sleep(500);
    const t = await pair.pool.open(req(pair, '10.0.0.1:80'));
    t.end();
    let got = '';
    for await (const c of t) got += c;
    assert.equal(got, 'fast lane');
    assert.equal(pair.pool.stats.connectionsOpened, 1);
    for (const s of stalled) s.destroy();
  } finally {
    await pair.close();
  }
});
