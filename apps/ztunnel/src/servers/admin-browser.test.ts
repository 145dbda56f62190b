import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { Logging } from '@zt/log';
import { type Browser, chromium } from 'playwright-core';
import { type ConnectionInfo, startAdminServer } from './index.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing: install Debian's chromium (npm test installs scripts/system-packages.txt as root)`;

test('the admin page shows a live connection and drops it once it closes', { skip }, async () => {
  // A real TCP connection whose addresses and byte counts the provider reports.
  let accepted: Socket | undefined;
  const echo = createServer((s) => {
    accepted = s;
    s.on('data', (b) => s.write(b));
    s.on('error', () => {});
  });
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const client = createConnection({ port: (echo.address() as { port: number }).port, host: '127.0.0.1' });
  await once(client, 'connect');
  client.write('hello through zt');
  await once(client, 'data');
  const startedAt = Date.now();
  let open = true;
  client.on('close', () => {
    open = false;
  });

  const live = (): ConnectionInfo[] =>
    open && accepted
      ? [
          {
            id: `c-${client.localPort}`,
            direction: 'inbound',
            protocol: 'HBONE',
            src: {
              address: client.localAddress ?? '',
              port: client.localPort ?? 0,
              workload: 'sleep',
              identity: 'spiffe://cluster.local/ns/default/sa/sleep',
            },
            dst: {
              address: accepted.localAddress ?? '',
              port: accepted.localPort ?? 0,
              workload: '<b>echo</b>',
              identity: 'spiffe://cluster.local/ns/default/sa/echo',
              service: 'echo.default.svc.cluster.local',
            },
            startedAt,
            bytesSent: accepted.bytesWritten,
            bytesReceived: accepted.bytesRead,
            verdict: 'allow',
            policy: 'default/allow-sleep',
          },
        ]
      : [];

  const admin = await startAdminServer({
    port: 0,
    configDump: () => ({
      workloads: [],
      services: [],
      policies: [],
      version: { version: '0', gitRevision: '', istioVersion: '' },
      config: {},
      certificates: [],
    }),
    connections: live,
    logging: new Logging({ destination: { write: () => {} } }),
    shutdown: () => {},
  });
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${admin.url}/`);

    const row = page.locator(`#connections tbody tr[data-id="c-${client.localPort}"]`);
    await row.waitFor({ state: 'visible', timeout: 10_000 });
    const cells = await row.locator('td').allTextContents();
    assert.deepEqual(cells.slice(0, 6), [
      'inbound',
      'HBONE',
      'spiffe://cluster.local/ns/default/sa/sleep',
      `sleep (127.0.0.1:${client.localPort})`,
      'spiffe://cluster.local/ns/default/sa/echo',
      `<b>echo</b> (127.0.0.1:${accepted?.localPort}) via echo.default.svc.cluster.local`,
    ]);
    assert.equal(cells[6], '16 B');
    assert.equal(cells[7], '16 B');
    assert.match(cells[8] ?? '', /^\d+s$/);
    assert.equal(cells[9], 'allow (default/allow-sleep)');
    // Rendered as text: the workload name did not become an element.
    assert.equal(await page.locator('#connections tbody b').count(), 0);

    // Traffic moves the byte counters on the next refresh.
    client.write(Buffer.alloc(2048, 1));
    // Polled from here: the page's CSP (rightly) forbids the eval that waitForFunction needs.
    const sent = row.locator('td').nth(6);
    for (let i = 0; (await sent.textContent()) !== '2.0 KiB'; i++) {
      assert.ok(i < 100, `bytes never refreshed: ${await sent.textContent()}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    client.end();
    await row.waitFor({ state: 'detached', timeout: 10_000 });
    await page.locator('#connections tbody tr.empty').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#count').textContent(), '(0)');
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    await admin.close();
    client.destroy();
    echo.close();
  }
});
