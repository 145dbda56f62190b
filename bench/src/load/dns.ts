// A closed-loop DNS load over UDP: `sockets` sockets, each keeping `inFlight` queries outstanding
// for `durationMs`, every answer timed from its query. Queries carry fresh ids so answers are
// matched; a query unanswered for a second counts as lost and is replaced (loss would otherwise
// drain the loop).
import { createSocket, type Socket } from 'node:dgram';

export interface DnsLoadOptions {
  host: string;
  port: number;
  /** The query, as encoded bytes (its id is overwritten per send). */
  query: Buffer;
  /** Source address of the sockets: the proxy finds its client by it. */
  localAddress?: string;
  durationMs: number;
  sockets?: number;
  inFlight?: number;
}

export interface DnsLoadResult {
  answered: number;
  lost: number;
  qps: number;
  p50Ms: number;
  p99Ms: number;
}

const LOST_AFTER_MS = 1000;

export async function runDnsLoad(o: DnsLoadOptions): Promise<DnsLoadResult> {
  const socketCount = o.sockets ?? 4;
  const inFlight = o.inFlight ?? 16;
  const latencies: number[] = [];
  let lost = 0;
  const started = performance.now();
  const deadline = started + o.durationMs;
  const sockets: Socket[] = [];
  await Promise.all(
    Array.from({ length: socketCount }, async () => {
      const s = createSocket(o.host.includes(':') ? 'udp6' : 'udp4');
      sockets.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind({ address: o.localAddress ?? (o.host.includes(':') ? '::' : '0.0.0.0'), port: 0 }, () => {
          s.off('error', reject);
          resolve();
        });
      });
    }),
  );
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((resolve) => {
          const pending = new Map<number, number>();
          let nextId = Math.floor(Math.random() * 0x10000);
          let open = 0;
          const send = (): void => {
            if (performance.now() >= deadline) {
              if (open === 0) resolve();
              return;
            }
            let id = nextId;
            while (pending.has(id)) id = (id + 1) & 0xffff;
            nextId = (id + 1) & 0xffff;
            const msg = Buffer.from(o.query);
            msg.writeUInt16BE(id, 0);
            pending.set(id, performance.now());
            open++;
            s.send(msg, o.port, o.host);
          };
          s.on('message', (m: Buffer) => {
            if (m.length < 2) return;
            const t0 = pending.get(m.readUInt16BE(0));
            if (t0 === undefined) return;
            pending.delete(m.readUInt16BE(0));
            open--;
            latencies.push(performance.now() - t0);
            send();
          });
          s.on('error', () => {});
          const reaper = setInterval(() => {
            const now = performance.now();
            for (const [id, t0] of pending) {
              if (now - t0 < LOST_AFTER_MS) continue;
              pending.delete(id);
              open--;
              lost++;
              send();
            }
            if (now >= deadline + LOST_AFTER_MS) {
              lost += pending.size;
              pending.clear();
              clearInterval(reaper);
              resolve();
            }
          }, 100);
          reaper.unref();
          for (let i = 0; i < inFlight; i++) send();
        }),
    ),
  );
  const elapsedS = (Math.min(performance.now(), deadline) - started) / 1000;
  for (const s of sockets) s.close();
  latencies.sort((a, b) => a - b);
  const q = (p: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return {
    answered: latencies.length,
    lost,
    qps: latencies.length / elapsedS,
    p50Ms: q(0.5),
    p99Ms: q(0.99),
  };
}
