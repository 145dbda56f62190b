// The admin page in headless Chromium during demo-like traffic on a lab mesh: sleep's connections
// succeed and intruder's are denied by backend/deny-untrusted; both must appear on node-b's page,
// the denial with the rule that matched, and the namespace filter must narrow the tables.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type Lab, startLab } from '../testing/lab.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing: install Debian's chromium (npm test installs scripts/system-packages.txt as root)`;

let lab: Lab | undefined;
let browser: Browser | undefined;
let traffic = false;
let trafficDone: Promise<void> = Promise.resolve();

before(async () => {
  if (skip) return;
  lab = await startLab({ prefix: '127.0.62' });
  const l = lab;
  traffic = true;
  trafficDone = (async () => {
    for (let i = 0; traffic; i++) {
      await l.exchange(l.ip.client, `hello #${i} from sleep`);
      await l.exchange(l.ip.intruder, 'let me in');
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
  });
});
after(async () => {
  traffic = false;
  await trafficDone;
  await browser?.close();
  await lab?.close();
});

/** Polls (the page's CSP forbids the eval waitForFunction needs) until `f` holds. */
async function eventually(what: string, f: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function rows(page: Page, table: string): Promise<string[][]> {
  const out: string[][] = [];
  for (const tr of await page.locator(`#${table} tbody tr:not(.empty)`).all())
    out.push(await tr.locator('td').allTextContents());
  return out;
}

test('during traffic, the page shows a denial with its rule and a successful connection', {
  skip,
}, async () => {
  assert.ok(browser && lab);
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${lab.b.admin}/`);

  await page.locator('#denials tbody tr.deny').first().waitFor({ timeout: 15_000 });
  const [denial] = await rows(page, 'denials');
  assert.equal(denial?.[1], 'spiffe://cluster.local/ns/untrusted/sa/intruder');
  assert.match(denial?.[2] ?? '', /^untrusted\/intruder \(127\.0\.62\.11:\d+\)$/);
  assert.equal(denial?.[3], 'backend/echo (127.0.62.20:8080)');
  assert.equal(denial?.[4], 'policy backend/deny-untrusted, rule 0: namespaces=untrusted');

  await page.locator('#recent tbody tr.allow').first().waitFor({ timeout: 15_000 });
  const ok = (await rows(page, 'recent')).find((r) => r[10] === 'allow');
  assert.ok(ok);
  assert.equal(ok[1], 'inbound');
  assert.equal(ok[2], 'spiffe://cluster.local/ns/frontend/sa/sleep');
  assert.equal(ok[4], 'spiffe://cluster.local/ns/backend/sa/echo');
  assert.match(ok[6] ?? '', /^\d+ B$/);
  assert.equal(ok[9], '-');
  assert.ok(
    (await rows(page, 'recent')).some(
      (r) => r[9] === 'DENY' && /^deny \(backend\/deny-untrusted\)$/.test(r[10] ?? ''),
    ),
  );

  await eventually('both identity pairs', async () => (await rows(page, 'pairs')).length >= 2);
  const pairs = await rows(page, 'pairs');
  const intruder = pairs.find((p) => p[1] === 'spiffe://cluster.local/ns/untrusted/sa/intruder');
  assert.ok(
    intruder && Number(intruder[3]) >= 1 && intruder[5] === intruder[3],
    `every intruder connection is a denial: ${intruder}`,
  );
  const sleep = pairs.find((p) => p[1] === 'spiffe://cluster.local/ns/frontend/sa/sleep');
  assert.equal(sleep?.[5], '0');
  assert.match(sleep?.[6] ?? '', /^\d+ ms$|^[\d.]+ s$/);

  // The namespace filter narrows every table to connections touching that namespace.
  await page.fill('#f-namespace', 'untrusted');
  await eventually('the recent table filtered to untrusted', async () => {
    const r = await rows(page, 'recent');
    return r.length > 0 && r.every((x) => x[2] === 'spiffe://cluster.local/ns/untrusted/sa/intruder');
  });
  assert.ok(
    (await rows(page, 'pairs')).every((p) => p[1] === 'spiffe://cluster.local/ns/untrusted/sa/intruder'),
  );
  await page.fill('#f-namespace', '');
  await page.fill('#f-identity', 'sa/sleep');
  await eventually('the recent table filtered to sleep', async () => {
    const r = await rows(page, 'recent');
    return r.length > 0 && r.every((x) => x[2] === 'spiffe://cluster.local/ns/frontend/sa/sleep');
  });
  assert.equal((await rows(page, 'denials')).length, 0);
  assert.equal(await page.locator('#denials tbody tr.empty').textContent(), 'no denials remembered');
  assert.deepEqual(errors, []);
});
