// A data-plane stand-in for tests: a worker thread that records traffic into its own registry (its own
// module instance of @zt/metrics) and posts its snapshot back, as zt's workers do.
import { parentPort, workerData } from 'node:worker_threads';
import {
  metricsSnapshot,
  recordBuildInfo,
  tcpConnectionsOpened,
  tcpSentBytes,
  trafficLabels,
} from '../index.ts';

interface Job {
  workload: string;
  connections: number;
  bytes: number;
}

const job = workerData as Job;
const labels = trafficLabels({ reporter: 'source', source_workload: job.workload });
for (let i = 0; i < job.connections; i++) tcpConnectionsOpened.inc(labels);
tcpSentBytes.inc(labels, job.bytes);
recordBuildInfo('1.0.0-test');
parentPort?.postMessage(await metricsSnapshot());
