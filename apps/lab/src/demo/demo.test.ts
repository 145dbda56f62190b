import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// The README's `npm run demo`, as a newcomer runs it: control plane, two zt processes, workloads,
// traffic through HBONE with mTLS, a deny policy. It must end by itself and say PASS.
test('the local mesh demo carries mTLS traffic end to end and enforces the deny policy', async () => {
  const main = fileURLToPath(new URL('./main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=zt-source', main, '--duration', '6'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, out);
  assert.match(out, /metrics: http:\/\/127\.0\.20\.2:15020\/metrics/);
  assert.match(out, /hbone: 127\.0\.20\.3:15008/);
  assert.match(out, /echoed back over HBONE mTLS/);
  assert.match(out, /denied by policy backend\/deny-untrusted/);
  assert.match(
    out,
    /spiffe:\/\/cluster\.local\/ns\/frontend\/sa\/sleep -> spiffe:\/\/cluster\.local\/ns\/backend\/sa\/echo/,
  );
  // A workload finds the service by name through zt's DNS proxy, then reaches it through the mesh.
  assert.match(
    out,
    /DNS: sleep resolved echo\.backend to 127\.10\.0\.10 via node-a's DNS proxy and connected to it/,
  );
  assert.match(out, /PASS: traffic crossed the mesh/);
  // The demo runs zt doctor once against node-a: every check passes (in-pod mode is off).
  assert.match(out, /zt doctor on node-a \(exit 0\)\n(?: {2}.*\n)*? {2}6 checks: 5 passed, 1 skipped\n/);
});
