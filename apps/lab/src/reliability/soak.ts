// Soak (ZT_SOAK=1 only, not in CI): mixed load through a two-node mesh for ZT_SOAK_MINUTES (default
// 10) with RSS sampled; prints the drift. Run:
//   ZT_SOAK=1 node --conditions=zt-source apps/lab/src/reliability/soak.ts
import { roundTrip, startMesh } from './harness/mesh.ts';
import { MiB, RssSampler } from './harness/rss.ts';

if (process.env['ZT_SOAK'] !== '1') {
  console.error('soak: set ZT_SOAK=1 to run (it takes minutes)');
  process.exit(2);
}
const minutes = Number(process.env['ZT_SOAK_MINUTES'] ?? 10);
const mesh = await startMesh({ prefix: '127.0.39', env: { RUST_LOG: 'warn' } });
const rss = new RssSampler([mesh.a.child.pid!, mesh.b.child.pid!], 5000);
const end = Date.now() + minutes * 60_000;
const stats = { ok: 0, failed: 0, denied: 0, bytes: 0 };

async function worker(kind: number): Promise<void> {
  while (Date.now() < end) {
    try {
      if (kind === 0) {
        // short request/response
        const r = await roundTrip(await mesh.dial({ host: mesh.ip.echo, port: mesh.echo.port }), 2048);
        r.got === r.sent ? stats.ok++ : stats.failed++;
        stats.bytes += r.gotBytes;
      } else if (kind === 1) {
        // bulk
        const r = await roundTrip(
          await mesh.dial({ host: mesh.ip.echo, port: mesh.echo.port }),
          4 * MiB,
          60_000,
        );
        r.got === r.sent ? stats.ok++ : stats.failed++;
        stats.bytes += r.gotBytes;
      } else {
        // denied by policy: must never get through
        const s = await mesh.dial({ host: mesh.ip.echo, port: mesh.echo.port }, mesh.ip.intruder);
        const r = await roundTrip(s, 100, 5000).catch(() => ({ gotBytes: 0 }));
        r.gotBytes === 0 ? stats.denied++ : stats.failed++;
        await new Promise((res) => setTimeout(res, 200));
      }
    } catch {
      stats.failed++;
    }
  }
}

const report = setInterval(() => {
  const s = rss.samples.at(-1);
  console.log(
    `soak: ${((end - Date.now()) / 1000).toFixed(0)} s left, ok ${stats.ok}, denied ${stats.denied}, failed ${stats.failed}, ` +
      `${(stats.bytes / MiB).toFixed(0)} MiB echoed, RSS a/b ${s?.rss.map((r) => (r / MiB).toFixed(0)).join('/')} MiB`,
  );
}, 30_000);
await Promise.all([...Array(16).fill(0), 1, 1, 2, 2].map((k: number) => worker(k)));
clearInterval(report);
rss.stop();
const n = rss.samples.length;
const third = Math.max(1, Math.floor(n / 3));
const avg = (i: number, from: number, to: number) =>
  rss.samples.slice(from, to).reduce((a, s) => a + (s.rss[i] ?? 0), 0) / Math.max(1, to - from) / MiB;
for (const [i, name] of ['node-a', 'node-b'].entries()) {
  console.log(
    `soak ${name}: RSS first third avg ${avg(i, 0, third).toFixed(1)} MiB, last third avg ${avg(i, n - third, n).toFixed(1)} MiB, ` +
      `max ${(rss.max(i) / MiB).toFixed(1)} MiB, drift ${(avg(i, n - third, n) - avg(i, 0, third)).toFixed(1)} MiB`,
  );
}
console.log(
  `soak: ${minutes} min, ok ${stats.ok}, denied ${stats.denied}, failed ${stats.failed}, ${(stats.bytes / MiB).toFixed(0)} MiB echoed`,
);
await mesh.close();
process.exit(stats.failed === 0 ? 0 : 1);
