// zt as a child process for the reliability suite: main.ts plus an IPC channel, so a test can read
// the bound addresses and reach hooks a real process has no signal for (killing one worker thread).
import { loadConfig, startZtunnel } from '@zt/ztunnel';

export type ChildCommand = { t: 'kill-worker'; index: number } | { t: 'shutdown'; reason: string };

export interface ChildReady {
  t: 'ready';
  pid: number;
  bound: { kind: string; set: string; address: string; port: number }[];
  metrics: string;
  admin: string;
  readiness: string;
}

const zt = await startZtunnel(loadConfig(), { onExit: () => process.exit(0) });
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void zt.shutdown(signal));
zt.dataPlane.on('workerRestart', (e) => process.send?.({ t: 'worker-restart', ...e }));

process.on('message', (m: ChildCommand) => {
  if (m.t === 'kill-worker') {
    const w = zt.dataPlane.workerThreads[m.index];
    if (w) void w.terminate();
  } else if (m.t === 'shutdown') {
    void zt.shutdown(m.reason);
  }
});
// The IPC channel must not keep a draining process alive.
process.channel?.unref();
// A test runner that was killed leaves no zt behind: a stale one would still hold its listeners
// (SO_REUSEPORT lets the next run bind beside it) and reset half of that run's connections.
process.on('disconnect', () => process.exit(1));

const ready: ChildReady = {
  t: 'ready',
  pid: process.pid,
  bound: zt.bound.map((b) => ({ kind: b.kind, set: b.set, address: b.address, port: b.port })),
  metrics: zt.servers.metrics.url,
  admin: zt.servers.admin.url,
  readiness: zt.servers.readiness.url,
};
process.send?.(ready);
