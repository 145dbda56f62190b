// A worker thread for the runtime-metrics tests: starts this thread's monitor, stalls its event loop
// `stalls` times for `stallMs` each (a busy loop, as a slow synchronous handler would), then posts
// its registry's snapshot.
import { parentPort, workerData } from 'node:worker_threads';
import { metricsSnapshot, startRuntimeMetrics } from '../index.ts';

interface Job {
  thread: string;
  stalls: number;
  stallMs: number;
}

const job = workerData as Job;
startRuntimeMetrics(job.thread);
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
await pause(50);
for (let i = 0; i < job.stalls; i++) {
  const until = performance.now() + job.stallMs;
  while (performance.now() < until) {
    // the stall itself
  }
  await pause(30);
}
parentPort?.postMessage(await metricsSnapshot());
