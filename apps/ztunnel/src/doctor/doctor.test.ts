// zt doctor against a running lab mesh: healthy first, then each check failing for its own reason,
// the way an operator would meet it (token refused, istiod gone, a NACK, a peer's 15008 closed,
// another process on zt's port), each time asserting what doctor says.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ADDRESS_TYPE_URL } from '@zt/xds';
import { makeWorkload } from '@zt/xds/testing';
import { type Lab, startLab } from '../testing/lab.ts';
import { formatReport } from './report.ts';
import { healthy, runDoctor } from './run.ts';
import type { CheckName, CheckResult, DoctorReport } from './types.ts';

const PREFIX = '127.0.61';
const GRPC_UNAUTHENTICATED = 16;
const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));

let lab: Lab;
before(async () => {
  lab = await startLab({ prefix: PREFIX });
});
after(() => lab?.close());

function check(report: DoctorReport, name: CheckName): CheckResult {
  const c = report.checks.find((x) => x.name === name);
  assert.ok(c, `no ${name} check in the report`);
  return c;
}

/** Runs doctor against node-a until `name` has `verdict` (state changes take a moment to land). */
async function until(name: CheckName, verdict: CheckResult['verdict'], ms = 15_000): Promise<CheckResult> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await runDoctor({ admin: lab.a.admin, timeoutMs: 2000 });
    const c = check(r, name);
    if (c.verdict === verdict) return c;
    if (Date.now() > deadline)
      assert.fail(`${name} never became ${verdict}; last report:\n${formatReport(r, { verbose: true })}`);
    await sleep(200);
  }
}

describe('zt doctor on a lab mesh', { concurrency: false, timeout: 180_000 }, () => {
  test('a healthy mesh: every check passes, in-pod is skipped outside in-pod mode', async () => {
    assert.equal(await lab.exchange(lab.ip.client, 'warm up'), 'warm up');
    const r = await runDoctor({ admin: lab.a.admin });
    const text = formatReport(r, { verbose: true });
    assert.ok(healthy(r), text);
    assert.deepEqual(
      r.checks.map((c) => [c.name, c.verdict]),
      [
        ['configuration', 'pass'],
        ['CA', 'pass'],
        ['xDS', 'pass'],
        ['peers', 'pass'],
        ['in-pod', 'skip'],
        ['ports', 'pass'],
      ],
      text,
    );
    assert.equal(r.pid, lab.a.pid);
    assert.equal(r.node, 'node-a');
    assert.match(check(r, 'configuration').details.join('\n'), new RegExp(`/proc/${lab.a.pid}/environ`));
    assert.match(
      check(r, 'CA').summary,
      // 24h certificates: whole-second validity times can put the expiry a moment past now + 24h.
      /reachable, token accepted; 2 certificates held, next expiry in (?:23h\d+m|24h0m)$/,
    );
    assert.match(
      check(r, 'xDS').summary,
      /^connected to http:\/\/127\.0\.0\.1:\d+ for \d+s, synced: 3 workloads, 0 services, 1 policies; no NACK$/,
    );
    assert.match(check(r, 'peers').summary, /^1 other node reached over HBONE \(node-b\)$/);
    assert.match(
      check(r, 'peers').details[0] ?? '',
      /^node-b via backend\/echo 127\.0\.61\.20:15008: TCP [\d.]+ ms, TLS [\d.]+ ms, mTLS accepted, HTTP\/2 up in [\d.]+ ms$/,
    );
    assert.equal(check(r, 'ports').summary, '7 listeners held by zt alone');
    assert.match(text, /6 checks: 5 passed, 1 skipped\n$/);
  });

  test('CA: a refused token fails the check and says what to fix', async () => {
    lab.ca.setMode({ mode: 'fail', code: GRPC_UNAUTHENTICATED, message: 'authentication failure' });
    try {
      const r = await runDoctor({ admin: lab.a.admin });
      const ca = check(r, 'CA');
      assert.equal(ca.verdict, 'fail');
      assert.match(
        ca.summary,
        /^the CA refused the token: certificate request to the CA at http:\/\/127\.0\.0\.1:\d+ failed: UNAUTHENTICATED: authentication failure/,
      );
      assert.match(
        ca.fix ?? '',
        /AUTH_TOKEN, unset\) must be a current projected token with audience istio-ca/,
      );
      assert.equal(healthy(r), false);
    } finally {
      lab.ca.setMode('ok');
    }
  });

  test('xDS: a resource zt rejected is reported with its reason until istiod replaces it', async () => {
    lab.xds.setRaw(ADDRESS_TYPE_URL, [{ name: 'broken', value: new Uint8Array([0xff]) }]);
    const c = await until('xDS', 'warn');
    assert.match(c.summary, /^connected, but zt rejected Address resources \d+s ago: broken: decode: /);
    assert.match(c.fix ?? '', /keep their last good version/);
    lab.xds.remove({ addresses: ['broken'] });
    const fixed = await until('xDS', 'pass');
    assert.match(fixed.summary, /last NACK \d+s ago, resolved since$/);
  });

  test('xDS: istiod refusing the stream fails the check with the last error', async () => {
    lab.xds.refuse({ code: 14, details: 'refused by the lab' });
    lab.xds.dropStreams();
    try {
      const c = await until('xDS', 'fail');
      assert.match(
        c.summary,
        /^not connected to istiod at http:\/\/127\.0\.0\.1:\d+: .*\(\w+\); reachable from here/,
      );
      assert.match(c.fix ?? '', /check XDS_ADDRESS, XDS_ROOT_CA and the token/);
    } finally {
      lab.xds.accept();
    }
    await until('xDS', 'pass', 30_000);
  });

  test('peers: a node whose 15008 does not answer fails the check, NetworkPolicy named', async () => {
    const ghost = makeWorkload({
      name: 'ghost',
      namespace: 'backend',
      serviceAccount: 'ghost',
      workloadIps: [`${PREFIX}.30`],
      node: 'node-c',
    });
    lab.xds.set({ workloads: [ghost] });
    try {
      await lab.waitForDump(lab.a, (d) => d.workloads.some((w) => w.name === 'ghost'));
      const r = await runDoctor({ admin: lab.a.admin });
      const c = check(r, 'peers');
      assert.equal(c.verdict, 'fail');
      assert.equal(
        c.summary,
        `1 of 2 nodes unreachable over HBONE: node-c via backend/ghost ${PREFIX}.30:15008: TCP connect failed: connection refused (ECONNREFUSED): maybe a NetworkPolicy is blocking HBONE port 15008`,
      );
      assert.match(c.details.join('\n'), /node-b via backend\/echo .* mTLS accepted/);
      assert.match(c.fix ?? '', /^allow TCP 15008 between nodes and pods/);
    } finally {
      lab.xds.remove({ addresses: [ghost.uid] });
    }
  });

  test('ports: another process on zt outbound port (SO_REUSEPORT) fails the check, naming it', async () => {
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `require('node:net').createServer().listen({ host: '${lab.a.ip}', port: 15001, reusePort: true }, () => console.log('up'));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: holder.stdout! }).once('line', () => resolve());
        holder.once('exit', (code) => reject(new Error(`the holder exited (${code}) before it listened`)));
      });
      const r = await runDoctor({ admin: lab.a.admin });
      const c = check(r, 'ports');
      assert.equal(c.verdict, 'fail');
      assert.match(
        c.summary,
        new RegExp(
          `^outbound ${lab.a.ip.replaceAll('.', '\\.')}:15001: also bound by pid ${holder.pid} \\(.*node -e`,
        ),
      );
      assert.match(c.fix ?? '', /SO_REUSEPORT lets it take a share of the connections/);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  test('configuration: a misspelled variable in the environment fails the check with a suggestion', async () => {
    const r = await runDoctor({
      admin: lab.a.admin,
      env: { ...lab.a.env, XDS_ADRESS: 'https://istiod:15012' },
    });
    const c = check(r, 'configuration');
    assert.equal(c.verdict, 'fail');
    assert.equal(c.summary, 'a variable looks misspelled: XDS_ADRESS');
    assert.ok(c.details.includes('XDS_ADRESS is not a variable zt reads: did you mean XDS_ADDRESS?'));
  });

  test('the command: `main.ts doctor --json` prints { checks } and exits 0 when healthy, 1 when not', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const p = spawn(process.execPath, ['--conditions=zt-source', MAIN, 'doctor', ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d));
        p.stderr.on('data', (d: Buffer) => (out += d));
        p.once('exit', (code) => resolve({ code, out }));
      });
    const ok = await run(['--admin', lab.a.admin, '--json']);
    assert.equal(ok.code, 0, ok.out);
    const report = JSON.parse(ok.out) as DoctorReport;
    assert.deepEqual(
      report.checks.map((c) => c.name),
      ['configuration', 'CA', 'xDS', 'peers', 'in-pod', 'ports'],
    );
    const down = await run(['--admin', `http://${PREFIX}.99:15000`, '--timeout', '1000']);
    assert.equal(down.code, 1, down.out);
    assert.match(
      down.out,
      new RegExp(
        `^FAIL  xDS {12}cannot check: zt's admin API at http://${PREFIX.replaceAll('.', '\\.')}\\.99:15000 did not answer`,
        'm',
      ),
    );
    assert.match(down.out, /fix: check that zt runs/);
    const usage = await run(['--bogus']);
    assert.equal(usage.code, 2);
    assert.match(usage.out, /usage: zt doctor/);
  });
});
