// Latency at a fixed request rate over persistent connections, coordinated-omission safe (see
// schedule.ts): 1 KB request, 1 KB response, latency measured from the intended send time.
import { runOpenLoop } from '../schedule.ts';
import { type LatencySummary, summarize } from '../stats.ts';
import type { Target } from '../targets.ts';
import { EchoConnection } from './echo.ts';

export interface LatencyOptions {
  ratePerSec: number;
  durationMs: number;
  connections: number;
  size?: number;
}

export interface LatencyResult extends LatencySummary {
  errors: number;
  achievedPerSec: number;
}

export async function runLatency(target: Target, opts: LatencyOptions): Promise<LatencyResult> {
  const payload = Buffer.alloc(opts.size ?? 1024, 0x63);
  const conns = await Promise.all(
    Array.from({ length: opts.connections }, () => EchoConnection.open(target)),
  );
  // Warm every connection (and, through the mesh, the HBONE pool) before the clock starts.
  await Promise.all(conns.map((c) => c.request(payload)));
  const free = [...conns];
  const send = async (): Promise<void> => {
    const c = free.pop();
    if (!c) throw new Error('scheduler exceeded its concurrency');
    try {
      await c.request(payload);
    } finally {
      free.push(c);
    }
  };
  try {
    const r = await runOpenLoop({
      ratePerSec: opts.ratePerSec,
      durationMs: opts.durationMs,
      concurrency: opts.connections,
      send,
    });
    return {
      ...summarize(r.latenciesMs),
      errors: r.errors,
      achievedPerSec: r.latenciesMs.length / (r.elapsedMs / 1000),
    };
  } finally {
    for (const c of conns) c.close();
  }
}
