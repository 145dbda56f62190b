// Wiring of the admin port's operator endpoints: the traffic view (closed connections, denials),
// `/status` for zt doctor, and the profiling endpoints. Kept out of app.ts, which only hands over
// its parts and says when its servers are up.
import { getHeapSnapshot } from 'node:v8';
import { type DataPlane, takeCpuProfile } from '@zt/core';
import type { ZdsClient } from '@zt/inpod';
import type { StateStore, XdsClient } from '@zt/xds';
import type { Config } from './config.ts';
import type { AdminServerOptions, Readiness, RunningServer } from './servers/index.ts';
import type { Profiler, Thread } from './servers/profile.ts';
import { type InpodStatusView, type StatusListener, XdsTracker, type ZtStatus } from './servers/status.ts';
import { describePolicyRule } from './servers/traffic-rules.ts';

export interface OpsParts {
  config: Config;
  version: string;
  dataPlane: DataPlane;
  store: StateStore;
  readiness: Readiness;
  /** Absent with a local config (LOCAL_XDS_PATH / LOCAL_XDS). */
  xds: XdsClient | undefined;
  /** Absent unless in-pod mode is on. */
  inpod: ZdsClient | undefined;
}

export interface Ops {
  /** The admin server options these endpoints need. */
  readonly admin: Required<Pick<AdminServerOptions, 'recent' | 'describeRule' | 'status' | 'profiler'>>;
  /** Tells `/status` where the servers listen, once they do. */
  serversStarted(servers: Record<string, RunningServer>): void;
}

export function wireOps(parts: OpsParts): Ops {
  const { config, dataPlane, store, readiness } = parts;
  const startedAt = new Date().toISOString();
  const xds = parts.xds ? new XdsTracker(config.xdsAddress, parts.xds, () => store.synced) : undefined;
  let servers: Record<string, { host: string; port: number }> = {};

  const inpodStatus = (): InpodStatusView => {
    const c = parts.inpod;
    if (!c) return { enabled: false };
    const s = c.status;
    return {
      enabled: true,
      uds: c.path,
      state: s.t,
      ...('lastError' in s && s.lastError ? { lastError: s.lastError } : {}),
      pods: c.pods.pods().flatMap((p) => {
        try {
          return [{ uid: p.uid, name: p.name, namespace: p.namespace, netnsFd: p.netns }];
        } catch {
          // Removed while we read (its fd is closed): no longer enrolled.
          return [];
        }
      }),
      pendingPods: c.pendingPods(),
    };
  };

  const status = (): ZtStatus => {
    // In-pod listeners live in the pods' namespaces; only the node-level ones are zt's here.
    const listeners: StatusListener[] = dataPlane
      .bound()
      .filter((b) => b.set === 'shared' || b.set === 'socks5')
      .map((b) => ({ kind: b.kind, set: b.set, address: b.address, port: b.port }));
    return {
      pid: process.pid,
      version: parts.version,
      nodeName: config.nodeName,
      startedAt,
      ready: readiness.ready,
      pending: readiness.pending(),
      workers: dataPlane.workerIndexes().length,
      listeners,
      servers,
      xds: xds
        ? xds.status()
        : {
            mode: 'local',
            source: config.localXdsPath !== undefined ? `LOCAL_XDS_PATH=${config.localXdsPath}` : 'LOCAL_XDS',
          },
      inpod: inpodStatus(),
    };
  };

  const profiler: Profiler = {
    workers: () => dataPlane.workerIndexes(),
    async cpu(seconds, threads) {
      const main = threads.includes('main')
        ? takeCpuProfile(seconds).then((profile) => [{ thread: 'main' as Thread, profile }])
        : Promise.resolve([]);
      const workers = threads.filter((t): t is number => t !== 'main');
      const all = workers.length === dataPlane.workerIndexes().length;
      const fromWorkers = (
        all
          ? dataPlane.cpuProfiles(seconds)
          : Promise.all(workers.map((i) => dataPlane.cpuProfiles(seconds, i))).then((l) => l.flat())
      ).then((l) => l.map((p) => ({ thread: p.worker as Thread, profile: p.profile as unknown })));
      const [m, w] = await Promise.all([main, fromWorkers]);
      return [...m, ...w];
    },
    async heap(thread) {
      return thread === 'main' ? getHeapSnapshot() : dataPlane.heapSnapshot(thread);
    },
  };

  return {
    admin: {
      recent: () => dataPlane.recentConnections(),
      describeRule: (policy, index) => describePolicyRule(store.snapshot().policies, policy, index),
      status,
      profiler,
    },
    serversStarted(s) {
      servers = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, { host: v.host, port: v.port }]));
    },
  };
}
