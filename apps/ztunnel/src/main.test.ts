// main.ts as a process: a Node parent that dies, even by SIGKILL, takes its zt with it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

// The parent starts zt with an IPC channel, waits for its readiness line, reports zt's pid, then
// idles until it is killed.
const parent = `
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
const zt = spawn(process.execPath, ['--conditions=zt-source', ${JSON.stringify(MAIN)}], {
  stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  env: { ...process.env, LOCAL_XDS: 'workloads: []\\n', XDS_ADDRESS: '', CA_ADDRESS: '', FAKE_CA: 'true',
    LOG_FORMAT: 'json', ZT_LAB_MODE: 'true', ZT_BIND_ADDRESS: '127.0.50.1', INSTANCE_IP: '127.0.50.1', ZTUNNEL_WORKER_THREADS: '1',
    ZT_ADMIN_PORT: '0', ISTIO_META_DNS_PROXY_ADDR: '127.0.50.1:0', ZT_STATS_PORT: '0', ZT_READINESS_PORT: '0', ZT_OUTBOUND_PORT: '0',
    ZT_INBOUND_PORT: '0', ZT_INBOUND_PLAINTEXT_PORT: '0', ZT_SOCKS5_PORT: '0' },
});
createInterface({ input: zt.stdout }).on('line', (l) => {
  if (/marking server ready/.test(l)) console.log(JSON.stringify({ pid: zt.pid }));
});
setInterval(() => {}, 1000);
`;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('zt started with an IPC channel exits when its parent is SIGKILLed', { timeout: 60_000 }, async (t) => {
  const p = spawn(process.execPath, ['--input-type=module', '-e', parent], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  p.stderr.on('data', (d: Buffer) => (err += d));
  const pid = await new Promise<number>((resolve, reject) => {
    createInterface({ input: p.stdout }).once('line', (l) => resolve((JSON.parse(l) as { pid: number }).pid));
    p.once('exit', (code) => reject(new Error(`parent exited (${code}) before zt was up:\n${err}`)));
  });
  t.after(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  assert.ok(alive(pid));
  await sleep(300);
  assert.ok(alive(pid), 'zt stays up while its parent lives');
  p.kill('SIGKILL');
  const deadline = Date.now() + 15_000;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  assert.equal(alive(pid), false, `zt ${pid} outlived its parent by 15 s`);
});
